import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRestAPIClient } from 'masto';
import type { ConnectorDeps } from '../src/networks/connector.ts';
import { MastodonClient } from '../src/networks/mastodon/client.ts';
import type { MastodonConnector } from '../src/networks/mastodon/connector.ts';
import { connect } from '../src/networks/mastodon/index.ts';
import { FakeMastodon, type FakeStatus } from './support/fake-mastodon.ts';
import { ADMIN_KEY, type Harness } from './support/harness.ts';
import { MASTODON_TOKENS, MASTODON_WAIT_MS, MastodonWorld } from './support/mastodon-world.ts';
import { assertLedgerBalanced, CARDS, codeIn, linkHandle } from './support/world.ts';

/**
 * The Mastodon network end to end, against the FAKE server in support/fake-mastodon.ts: tagpay logs
 * in, follows the live offers' hashtag streams and its mentions, and replies through REST. The fake
 * speaks Mastodon's documented API; the opt-in live test at the bottom checks the login against a
 * real server.
 */

const TAGPAY_TOKEN = MASTODON_TOKENS.tagpay;
const ALICE = 'alice@fake.social';
const worldOf = new MastodonWorld();

interface World {
  fake: FakeMastodon;
  h: Harness;
  offerPost: FakeStatus;
  merchantKey: string;
}

async function world(): Promise<World> {
  const { fake: f, h } = await worldOf.start();
  // The handle schema takes local-network handles only for now (no `@domain`): `acme` and `alice`
  // are accounts of tagpay's own server, which the client resolves to `user@fake.social`.
  const m = await h.request(
    'POST',
    '/v1/merchants',
    { handle: 'acme', network: 'mastodon', name: 'Acme Goods' },
    ADMIN_KEY,
  );
  assert.equal(m.status, 201, JSON.stringify(m.body));
  const o = await h.request(
    'POST',
    '/v1/offers',
    {
      title: 'Acme Tee',
      price: { amount: 2500, currency: 'USD' },
      quantity: 10,
      hashtag: 'BuyAcmeTee',
      variants: ['S', 'M', 'L'],
    },
    m.body.api_key,
  );
  assert.equal(o.status, 201, JSON.stringify(o.body));
  const shopper = await linkHandle(h, 'mastodon', 'alice', CARDS.ok);
  assert.equal(shopper.status, 201, JSON.stringify(shopper.body));
  const offerPost = await waitFor('the offer post on mastodon', () =>
    f.statuses.find((s) => s.account.username === 'tagpay' && s.text.includes('#BuyAcmeTee')),
  );
  await waitFor('the hashtag stream', () => f.subscribedHashtags().includes('buyacmetee'));
  return { fake: f, h, offerPost, merchantKey: m.body.api_key };
}

const waitFor = <T>(what: string, probe: () => T | undefined | null | false): Promise<T> =>
  worldOf.waitFor(what, probe);

function tagpayReplies(fake: FakeMastodon, to: FakeStatus): FakeStatus[] {
  return fake.repliesTo(to.id).filter((s) => s.account.username === 'tagpay');
}

async function ordersOf(h: Harness, handle: string): Promise<any[]> {
  const res = await h.request(
    'GET',
    `/v1/orders?handle=${encodeURIComponent(handle)}`,
    undefined,
    ADMIN_KEY,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

function connector(h: Harness): MastodonConnector {
  const c = h.app.connectors.find((x) => x.network === 'mastodon');
  assert.ok(c, 'the mastodon connector runs');
  return c as MastodonConnector;
}

/** Alice buys: her hashtag post, tagpay's code reply, her code post, the paid order. */
async function buy(w: World, text = '#BuyAcmeTee M') {
  const buyPost = w.fake.post('alice', text, { replyTo: w.offerPost.id });
  const [codeReply] = await waitFor('the code reply', () => {
    const r = tagpayReplies(w.fake, buyPost);
    return r.length > 0 && r;
  });
  const code = codeIn(codeReply!.text);
  const confirmPost = w.fake.post('alice', `@tagpay ${code}`, { replyTo: codeReply!.id });
  const paid = await pollOrders(w.h, (o) => o.length === 1 && o[0].status === 'paid');
  return { buyPost, codeReply: codeReply!, code, confirmPost, order: paid[0] };
}

async function pollOrders(h: Harness, ok: (orders: any[]) => boolean): Promise<any[]> {
  const until = Date.now() + MASTODON_WAIT_MS;
  for (;;) {
    await h.app.settle();
    const orders = await ordersOf(h, ALICE);
    if (ok(orders)) return orders;
    if (Date.now() > until) throw new Error(`orders never matched: ${JSON.stringify(orders)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('mastodon network (fake server)', () => {
  test('flow 1 on mastodon: offer from tagpay, hashtag reply, code reply, code, paid', async () => {
    const w = await world();
    assert.match(w.offerPost.text, /^Acme Goods \(@acme\): .*#BuyAcmeTee/);
    assert.equal(w.offerPost.visibility, 'public');

    const buyPost = w.fake.post('alice', 'I want one! #BuyAcmeTee M', { replyTo: w.offerPost.id });
    const [codeReply] = await waitFor('the code reply', () => {
      const r = tagpayReplies(w.fake, buyPost);
      return r.length > 0 && r;
    });
    assert.equal(codeReply!.in_reply_to_id, buyPost.id);
    assert.match(
      codeReply!.text,
      /^@alice@fake\.social To buy Acme Tee \(M\) for \$25\.00, reply with #TP/,
    );
    assert.deepEqual(
      codeReply!.mentions.map((m) => m.acct),
      ['alice'],
      'alice is mentioned, so Mastodon notifies her',
    );
    const code = codeIn(codeReply!.text);
    assert.equal((await ordersOf(w.h, ALICE))[0].status, 'awaiting_confirmation');

    // A code has no stream of its own: it reaches tagpay as a mention, which is what a Mastodon app
    // writes when one replies to tagpay's message (the fake, like the server, adds nothing itself).
    w.fake.post('alice', `@tagpay ${code}`, { replyTo: codeReply!.id });
    const [order] = await pollOrders(w.h, (o) => o[0]?.status === 'paid');
    assert.equal(order.network, 'mastodon');
    assert.equal(order.handle, ALICE);
    assert.equal(order.amount, 2500);
    assert.equal(order.variant, 'M');
    const paid = await waitFor('the paid reply', () =>
      tagpayReplies(w.fake, buyPost).find((s) => s.text.includes('Paid:')),
    );
    assert.match(paid.text, /Paid: .*Acme Tee \(M\)/);
    const health = connector(w.h).health();
    assert.equal(health.state, 'live');
    assert.ok(health.events >= 2, 'the buy and the code went into the log');
    assert.ok(health.cursor !== null);
  });

  test('one offer, two networks: a local merchant adds its Mastodon handle; the offer goes out on both and sells on both', async () => {
    const w = await world();
    const m = await w.h.request(
      'POST',
      '/v1/merchants',
      { handle: 'shop', name: 'Shop' },
      ADMIN_KEY,
    );
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const added = await w.h.request(
      'POST',
      `/v1/merchants/${m.body.id}/handles`,
      { network: 'mastodon', handle: 'bob' },
      ADMIN_KEY,
    );
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(
      added.body.handles.map((x: { network: string }) => x.network),
      ['local', 'mastodon'],
    );
    const taken = await w.h.request(
      'POST',
      `/v1/merchants/${m.body.id}/handles`,
      { network: 'mastodon', handle: 'acme' },
      ADMIN_KEY,
    );
    assert.equal(taken.status, 409, 'a handle of another merchant');
    const o = await w.h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Multi Tee',
        price: { amount: 1500, currency: 'USD' },
        quantity: 5,
        hashtag: 'MultiTee',
      },
      m.body.api_key,
    );
    assert.equal(o.status, 201, JSON.stringify(o.body));
    const onMastodon = await waitFor('the offer on mastodon', () =>
      w.fake.statuses.find(
        (st) => st.account.username === 'tagpay' && st.text.includes('#MultiTee'),
      ),
    );
    assert.match(onMastodon.text, /^Shop \(@bob\): Multi Tee/);
    const local = await w.h.app.local.listPosts({ author: 'shop', limit: 5 });
    assert.equal(local.length, 1, 'posted from the merchant handle on the local network too');
    // A Mastodon shopper buys from the Mastodon post; a local shopper from the local one.
    const buy = w.fake.post('alice', '#MultiTee', { replyTo: onMastodon.id });
    const [reply] = await waitFor('the code on mastodon', () => {
      const r = tagpayReplies(w.fake, buy);
      return r.length > 0 && r;
    });
    w.fake.post('alice', `@tagpay ${codeIn(reply!.text)}`, { replyTo: reply!.id });
    await pollOrders(w.h, (os) => os.some((x) => x.offer_id === o.body.id && x.status === 'paid'));
    const zed = await w.h.request('POST', '/v1/local/accounts', { handle: 'zed' });
    const linked = await linkHandle(w.h, 'local', 'zed', CARDS.ok);
    assert.equal(linked.status, 201);
    const zedBuy = await w.h.request(
      'POST',
      '/v1/local/posts',
      { text: '#MultiTee', reply_to: local[0]!.id },
      zed.body.token,
    );
    await w.h.app.settle();
    const zedReply = (await w.h.app.local.listPosts({ author: 'tagpay', limit: 20 })).find(
      (p) => p.reply_to === zedBuy.body.id,
    );
    await w.h.request('POST', '/v1/local/posts', { text: codeIn(zedReply!.text) }, zed.body.token);
    await w.h.app.settle();
    const offer = await w.h.request('GET', `/v1/offers/${o.body.id}`, undefined, m.body.api_key);
    assert.equal(offer.body.sold, 2, 'one sold on each network, from one stock');
    await assertLedgerBalanced(w.h);
  });

  test('a post made while the stream is down is read back once after reconnecting', async () => {
    const w = await world();
    const c = connector(w.h);
    await waitFor('live', () => c.health().state === 'live');
    w.fake.refuseStreams(true);
    w.fake.dropStreams();
    await waitFor('the stream to drop', () => c.health().state === 'backoff');
    const missed = w.fake.post('alice', '#BuyAcmeTee S', { replyTo: w.offerPost.id });
    await w.h.app.settle();
    assert.equal(tagpayReplies(w.fake, missed).length, 0, 'nothing read while down');
    w.fake.refuseStreams(false);
    await waitFor('the backfilled reply', () => tagpayReplies(w.fake, missed).length > 0);
    await waitFor('live again', () => c.health().state === 'live');
    assert.ok(c.health().reconnects >= 1);

    // Another drop: the read-back starts from the saved cursor and finds nothing new to act on.
    const before = c.health().reconnects;
    w.fake.dropStreams();
    await waitFor(
      'reconnected',
      () => c.health().reconnects > before && c.health().state === 'live',
    );
    await w.h.app.settle();
    assert.equal(tagpayReplies(w.fake, missed).length, 1, 'one reply');
    const orders = await ordersOf(w.h, ALICE);
    assert.equal(orders.length, 1, 'one order');
    assert.equal(orders[0].variant, 'S');
  });

  test('an edited status changes nothing that was confirmed', async () => {
    const w = await world();
    const { buyPost, confirmPost, order } = await buy(w);
    const repliesBefore = tagpayReplies(w.fake, buyPost).length;
    w.fake.edit(buyPost.id, '#BuyAcmeTee L x5');
    w.fake.edit(confirmPost.id, '#cancel');
    // A reconnect reads the edited statuses back through REST too: same URIs, so duplicates.
    const c = connector(w.h);
    const before = c.health().reconnects;
    w.fake.dropStreams();
    await waitFor(
      'reconnected',
      () => c.health().reconnects > before && c.health().state === 'live',
    );
    await w.h.app.settle();
    const orders = await ordersOf(w.h, ALICE);
    assert.equal(orders.length, 1);
    assert.equal(orders[0].id, order.id);
    assert.equal(orders[0].status, 'paid');
    assert.equal(orders[0].variant, 'M');
    assert.equal(orders[0].quantity, 1);
    assert.equal(tagpayReplies(w.fake, buyPost).length, repliesBefore, 'no new reply');
  });

  test('malformed streaming messages are skipped; the connector stays up', async () => {
    const w = await world();
    const c = connector(w.h);
    await waitFor('live', () => c.health().state === 'live');
    const reconnects = c.health().reconnects;
    const rejected = c.rejectedCount;
    const bad = [
      'not json',
      '[]',
      '{"event":"update","payload":"not json"}',
      '{"event":"update","payload":"null"}',
      '{"event":"update","payload":"{\\"id\\":5}"}',
      JSON.stringify({
        event: 'update',
        payload: JSON.stringify({
          id: '1',
          uri: 'x',
          content: 'a'.repeat(200_000),
          account: { acct: 'x' },
        }),
      }),
      JSON.stringify({ event: 'notification', payload: JSON.stringify({ type: 'mention' }) }),
      JSON.stringify({
        event: 'notification',
        payload: JSON.stringify({ id: '9', type: 'mention', status: 'x' }),
      }),
      JSON.stringify({ event: 'delete', payload: '123' }),
      JSON.stringify({ error: 'Unknown stream type' }),
    ];
    for (const raw of bad) w.fake.sendRaw(raw);
    await waitFor('the bad messages to be read', () => c.rejectedCount >= rejected + 8);
    assert.equal(c.health().state, 'live');
    assert.equal(c.health().reconnects, reconnects, 'no reconnect was needed');
    const { order } = await buy(w);
    assert.equal(order.status, 'paid', 'and it still works');
  });
});

describe('mastodon client (fake server)', () => {
  test('a refused token is a clear error at connect', async () => {
    const fake = (worldOf.fake = await FakeMastodon.start());
    await assert.rejects(
      connect({ url: fake.url, token: 'wrong' }, {} as ConnectorDeps),
      /refused TAGPAY_MASTODON_TOKEN \(HTTP 401/,
    );
  });

  test('Idempotency-Key: a repeated post is one status; a 429 is waited out and counted', async () => {
    const fake = (worldOf.fake = await FakeMastodon.start());
    fake.addAccount('tagpay', TAGPAY_TOKEN);
    const stats = { rateLimitWaits: 0 };
    const client = await MastodonClient.login(fake.url, TAGPAY_TOKEN, stats);
    assert.equal(client.self, 'tagpay@fake.social');
    const req = { as: client.self, text: 'hello #world', replyTo: null, idempotencyKey: 'k1' };
    const a = await client.post(req);
    const b = await client.post(req);
    assert.equal(a.postId, b.postId);
    assert.equal(fake.statuses.length, 1);

    fake.rateLimitNextPost(1, 150);
    const started = Date.now();
    await client.post({ ...req, idempotencyKey: 'k2' });
    assert.ok(Date.now() - started >= 100, 'waited for the reset');
    assert.equal(stats.rateLimitWaits, 1);
    assert.equal(fake.statuses.length, 2);
    await assert.rejects(client.post({ ...req, as: 'someone@else' }), /posts only as/);
  });

  test('a reply to a direct message is direct and mentions its author', async () => {
    const fake = (worldOf.fake = await FakeMastodon.start());
    fake.addAccount('tagpay', TAGPAY_TOKEN);
    fake.addAccount('bob', MASTODON_TOKENS.bob);
    const dm = fake.post('bob', '@tagpay #BuyAcmeTee', { visibility: 'direct' });
    const client = await MastodonClient.login(fake.url, TAGPAY_TOKEN);
    const { postId } = await client.post({
      as: client.self,
      text: 'Sold out.',
      replyTo: dm.id,
      idempotencyKey: 'k3',
    });
    const reply = fake.statuses.find((s) => s.id === postId)!;
    assert.equal(reply.visibility, 'direct');
    assert.equal(reply.text, '@bob@fake.social Sold out.');
    assert.equal(await client.resolveAccount('@Alice'), 'alice@fake.social');
    assert.equal(await client.resolveAccount('carol@Elsewhere.example'), 'carol@elsewhere.example');
    assert.equal(await client.resolveAccount('not a handle'), null);
  });
});

const LIVE_URL = process.env.TAGPAY_MASTODON_LIVE_URL;
const LIVE_TOKEN = process.env.TAGPAY_MASTODON_LIVE_TOKEN;

describe('mastodon live (opt-in: TAGPAY_MASTODON_LIVE_URL and TAGPAY_MASTODON_LIVE_TOKEN)', () => {
  test(
    'logs in and reads the home timeline',
    { skip: !LIVE_URL || !LIVE_TOKEN ? 'set TAGPAY_MASTODON_LIVE_URL and _TOKEN' : false },
    async () => {
      const client = await MastodonClient.login(LIVE_URL!, LIVE_TOKEN!);
      assert.match(client.self, /^[a-z0-9_.-]+@[a-z0-9.-]+$/);
      const rest = createRestAPIClient({ url: LIVE_URL!, accessToken: LIVE_TOKEN! });
      const home = await rest.v1.timelines.home.list({ limit: 5 });
      assert.ok(Array.isArray(home));
    },
  );
});
