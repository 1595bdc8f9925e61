import assert from 'node:assert/strict';
import { ADMIN_KEY, type Harness } from './harness.ts';

export const CARDS = {
  ok: '4242424242424242',
  declined: '4000000000000002',
  insufficient: '4000000000009995',
  error: '4000000000000119',
};

export interface Account {
  handle: string;
  token: string;
}

export interface World {
  merchant: { id: string; api_key: string; webhook_secret: string };
  offer: { id: string; hashtag: string };
  accounts: Record<string, Account>;
}

export async function createAccount(h: Harness, handle: string): Promise<Account> {
  const res = await h.request('POST', '/v1/local/accounts', { handle });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/**
 * Tokenizes a test card and links a handle on a network to it with the admin key; answers the raw
 * response, so each test asserts what it expects.
 */
export async function linkHandle(
  h: Harness,
  network: string,
  handle: string,
  card: string,
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: any }> {
  const token = await h.request('POST', '/v1/sandbox/tokens', {
    number: card,
    exp_month: 12,
    exp_year: 2030,
    cvc: '123',
  });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  return h.request(
    'POST',
    '/v1/shoppers',
    {
      handle,
      network,
      email: `${handle.replace(/@.*$/, '')}@example.com`,
      shipping_address: {
        name: handle.toUpperCase(),
        line1: '1 Main St',
        city: 'Springfield',
        postal_code: '12345',
        country: 'US',
      },
      card_token: token.body.id,
      ...extra,
    },
    ADMIN_KEY,
  );
}

/** Links a local account to a card (or re-links it). */
export async function linkShopper(
  h: Harness,
  account: Account,
  card: string,
  extra: Record<string, unknown> = {},
) {
  const res = await linkHandle(h, 'local', account.handle, card, extra);
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body;
}

/**
 * A merchant @acme with one offer, and shoppers: alice and bob (good cards), dave (declined), erin
 * (insufficient funds), frank (processor error), and carol with an account but no card.
 */
export async function setupWorld(
  h: Harness,
  opts: {
    quantity?: number;
    variants?: string[];
    webhookUrl?: string;
    perBuyerMax?: number;
    price?: number;
    windowS?: number;
  } = {},
): Promise<World> {
  const m = await h.request(
    'POST',
    '/v1/merchants',
    {
      handle: 'acme',
      name: 'Acme Goods',
      ...(opts.webhookUrl && { webhook_url: opts.webhookUrl }),
    },
    ADMIN_KEY,
  );
  assert.equal(m.status, 201, JSON.stringify(m.body));
  const o = await h.request(
    'POST',
    '/v1/offers',
    {
      title: 'Acme Tee',
      price: { amount: opts.price ?? 2500, currency: 'USD' },
      quantity: opts.quantity ?? 10,
      hashtag: 'BuyAcmeTee',
      variants: opts.variants ?? ['S', 'M', 'L'],
      ...(opts.perBuyerMax && { per_buyer_max: opts.perBuyerMax }),
      ...(opts.windowS && { confirm_window_s: opts.windowS }),
    },
    m.body.api_key,
  );
  assert.equal(o.status, 201, JSON.stringify(o.body));
  const accounts: Record<string, Account> = {};
  const cards: Record<string, string | null> = {
    alice: CARDS.ok,
    bob: CARDS.ok,
    dave: CARDS.declined,
    erin: CARDS.insufficient,
    frank: CARDS.error,
    carol: null,
  };
  for (const [handle, card] of Object.entries(cards)) {
    accounts[handle] = await createAccount(h, handle);
    if (card) await linkShopper(h, accounts[handle]!, card);
  }
  await h.app.settle();
  return { merchant: m.body, offer: o.body, accounts };
}

/** Posts as an account and lets tagpay finish everything that follows. */
export async function post(
  h: Harness,
  who: Account,
  text: string,
  replyTo?: string,
): Promise<string> {
  const res = await h.request(
    'POST',
    '/v1/local/posts',
    { text, ...(replyTo && { reply_to: replyTo }) },
    who.token,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await h.app.settle();
  return res.body.id;
}

/** tagpay's replies under a post, oldest first. */
export async function repliesTo(h: Harness, postId: string): Promise<string[]> {
  const posts = await h.app.local.listPosts({ author: 'tagpay', limit: 100 });
  return posts
    .filter((p) => p.reply_to === postId)
    .reverse()
    .map((p) => p.text);
}

export function codeIn(text: string | undefined): string {
  const match = /#(TP[A-Z2-7]{10})\b/.exec(text ?? '');
  assert.ok(match, `no confirmation code in: ${text}`);
  return `#${match[1]}`;
}

export async function orders(h: Harness, handle: string): Promise<any[]> {
  const res = await h.request('GET', `/v1/orders?handle=${handle}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200);
  return res.body.data;
}

export async function offerState(h: Harness, w: World) {
  const res = await h.request('GET', `/v1/offers/${w.offer.id}`, undefined, w.merchant.api_key);
  return res.body as { available: number; sold: number; quantity: number };
}

/** The ledger's invariant, read back from the database: per currency, balances sum to zero. */
export async function assertLedgerBalanced(h: Harness): Promise<void> {
  const { rows } = await h.app.db.query<{ currency: string; s: string }>(
    'SELECT currency, sum(balance)::text AS s FROM balances GROUP BY currency',
  );
  for (const r of rows) assert.equal(r.s, '0', `ledger ${r.currency} sums to ${r.s}`);
  // The balances are the postings, summed: recompute each account from the postings and compare.
  const recomputed = await h.app.db.query<{ account: string; currency: string; b: string }>(
    `SELECT account, currency, sum(d)::text AS b FROM (
       SELECT credit AS account, currency, minor AS d FROM postings
       UNION ALL SELECT debit, currency, -minor FROM postings) x GROUP BY account, currency`,
  );
  const stored = await h.app.db.query<{ account: string; currency: string; b: string }>(
    'SELECT account, currency, balance::text AS b FROM balances',
  );
  const key = (r: { account: string; currency: string }) => `${r.account}|${r.currency}`;
  const storedMap = new Map(stored.rows.map((r) => [key(r), r.b]));
  for (const r of recomputed.rows) assert.equal(storedMap.get(key(r)), r.b, `balance of ${key(r)}`);
  assert.equal(recomputed.rows.length, stored.rows.length);
}
