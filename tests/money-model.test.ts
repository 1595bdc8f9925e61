import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DAY_MS,
  PAY_CONFIRM_ABOVE_MAJOR,
  PAY_DAILY_LIMIT_MAJOR,
  PAY_WEEKLY_LIMIT_MAJOR,
  REQUEST_WINDOW_MS,
  CLAIM_PERIOD_MS_DEFAULT,
  CONFIRM_WINDOW_MS_DEFAULT,
  WEEK_DAYS,
} from '../src/core/limits.ts';
import { ADMIN_KEY, openHarness, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  createAccount,
  linkShopper,
  post,
  repliesTo,
  setupWorld,
  type Account,
} from './support/world.ts';
import { giftCardOffer } from './support/money.ts';

/**
 * A seeded randomized workload of money flows (payments, requests, claims and their expiry, top-ups,
 * withdrawals, purchases paid from the wallet first and their refunds, gift cards) run through the
 * whole service and checked against a small reference model: identical wallet balances and pending
 * holds, zero-sum per currency, no negative wallet. The seed is printed; TAGPAY_SEED replays one.
 */

const SEEDS = process.env.TAGPAY_SEED ? [BigInt(process.env.TAGPAY_SEED)] : [11n, 2026n, 90210n];
const STEPS = Number(process.env.TAGPAY_MODEL_STEPS ?? 45);
const LINKED = ['alice', 'bob', 'erin2', 'gus'];
const UNLINKED = ['una', 'vic', 'wes'];
const TEE_PRICE = 2500;
const GIFT_PRICE = 1500;
const GIFT_VALUE = 2500;

/** The workload's own randomness (mulberry32), apart from tagpay's seeded randomness. */
function prng(seed: bigint) {
  let a = Number(seed & 0xffffffffn) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
    chance: (p: number) => next() < p,
  };
}

interface Pending {
  id: string;
  payer: string;
  to: string;
  amount: number;
  kind: 'pay' | 'request';
  createdAt: number;
  expiresAt: number;
}
interface Claim {
  payer: string;
  to: string;
  amount: number;
  expiresAt: number;
}

/** The reference model: what every wallet must hold, by the plain rules of issue 7. */
class Model {
  readonly wallet = new Map<string, number>();
  readonly linked = new Set<string>(LINKED);
  readonly pairs = new Set<string>();
  readonly sent = new Map<string, number>();
  readonly awaiting: Pending[] = [];
  readonly claims: Claim[] = [];
  readonly orders: { id: string; walletPart: number }[] = [];
  readonly giftCodes: { code: string; redeemed: boolean }[] = [];

  w(who: string): number {
    return this.wallet.get(who) ?? 0;
  }
  add(who: string, delta: number): void {
    const next = this.w(who) + delta;
    assert.ok(next >= 0, `model: ${who} below zero`);
    this.wallet.set(who, next);
  }
  overLimit(payer: string, amount: number, at: number): boolean {
    const day = Math.floor(at / DAY_MS);
    const today = this.sent.get(`${payer}|${day}`) ?? 0;
    if (today + amount > Number(PAY_DAILY_LIMIT_MAJOR) * 100) return true;
    let week = 0;
    for (let d = day - WEEK_DAYS + 1; d <= day; d++) week += this.sent.get(`${payer}|${d}`) ?? 0;
    return week + amount > Number(PAY_WEEKLY_LIMIT_MAJOR) * 100;
  }
  count(payer: string, amount: number, createdAt: number, sign: 1 | -1): void {
    const key = `${payer}|${Math.floor(createdAt / DAY_MS)}`;
    this.sent.set(key, (this.sent.get(key) ?? 0) + sign * amount);
  }
  /** Funds a confirmed payment: wallet first, the card tops up the rest; credited or held. */
  execute(payer: string, to: string, amount: number, at: number): void {
    this.add(payer, -Math.min(this.w(payer), amount));
    if (this.linked.has(to)) {
      this.add(to, amount);
      this.pairs.add(`${payer}|${to}`);
    } else {
      this.claims.push({ payer, to, amount, expiresAt: at + CLAIM_PERIOD_MS_DEFAULT });
    }
  }
  /** The clock moved to `at`: codes and claims whose time is up end. */
  advance(at: number): void {
    for (const p of this.awaiting.splice(0)) {
      if (p.expiresAt <= at) this.count(p.payer, p.amount, p.createdAt, -1);
      else this.awaiting.push(p);
    }
    for (const c of this.claims.splice(0)) {
      if (c.expiresAt <= at) {
        // The money went to the card first and the wallet after, so it comes back to the wallet.
        this.add(c.payer, c.amount);
      } else this.claims.push(c);
    }
  }
  link(handle: string, at: number): void {
    this.linked.add(handle);
    for (const c of this.claims.splice(0)) {
      if (c.to === handle && at < c.expiresAt) {
        this.add(handle, c.amount);
        this.pairs.add(`${c.payer}|${handle}`);
      } else this.claims.push(c);
    }
  }
  pendingTotal(): number {
    return this.claims.reduce((s, c) => s + c.amount, 0);
  }
}

async function walletOf(h: Harness, handle: string): Promise<number> {
  const res = await h.request('GET', `/v1/wallets/${handle}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const usd = res.body.balances.find((b: { currency: string }) => b.currency === 'USD');
  return usd?.amount ?? 0;
}

async function newestCode(h: Harness, handle: string): Promise<string> {
  const res = await h.request('GET', `/v1/mailbox?to=${handle}@example.com`, undefined, ADMIN_KEY);
  return codeIn(res.body.data.find((m: { text: string }) => /#TP/.test(m.text)).text);
}

async function check(h: Harness, model: Model, seed: bigint, step: number): Promise<void> {
  const where = `seed ${seed} step ${step} (replay: TAGPAY_SEED=${seed})`;
  for (const who of model.linked)
    assert.equal(await walletOf(h, who), model.w(who), `wallet of ${who}, ${where}`);
  const { rows } = await h.app.db.query<{ b: string }>(
    "SELECT coalesce(sum(balance), 0)::text AS b FROM balances WHERE account = 'holds:pending'",
  );
  assert.equal(Number(rows[0]!.b), model.pendingTotal(), `pending claims, ${where}`);
  const negative = await h.app.db.query(
    "SELECT account FROM balances WHERE account LIKE 'wallet:%' AND balance < 0",
  );
  assert.deepEqual(negative.rows, [], `no negative wallet, ${where}`);
  await assertLedgerBalanced(h);
}

async function run(seed: bigint): Promise<void> {
  const r = prng(seed);
  const h = await openHarness('pglite', { seed });
  try {
    const w = await setupWorld(h, { quantity: 10_000 });
    const accounts: Record<string, Account> = { ...w.accounts };
    for (const handle of ['erin2', 'gus', ...UNLINKED])
      accounts[handle] = await createAccount(h, handle);
    for (const handle of ['erin2', 'gus']) await linkShopper(h, accounts[handle]!, CARDS.ok);
    await giftCardOffer(h, w, {
      title: 'Acme gift card',
      price: GIFT_PRICE,
      value: GIFT_VALUE,
      quantity: 10_000,
    });
    await h.app.settle();
    const model = new Model();
    const linkedNow = () => [...model.linked];

    for (let step = 0; step < STEPS; step++) {
      const at = h.clock.now();
      const op = r.pick([
        'top_up',
        'pay',
        'pay',
        'pay',
        'request',
        'link',
        'clock',
        'withdraw',
        'buy',
        'refund',
        'gift',
        'redeem',
      ] as const);
      switch (op) {
        case 'top_up': {
          const who = r.pick(linkedNow());
          const amount = r.int(100, 6000);
          const res = await h.request(
            'POST',
            `/v1/wallets/${who}/top-ups`,
            { amount, currency: 'USD' },
            ADMIN_KEY,
          );
          assert.equal(res.status, 202);
          await h.app.settle();
          model.add(who, amount);
          break;
        }
        case 'pay':
        case 'request': {
          const kind = op;
          const payer = r.pick(linkedNow());
          const others = [...linkedNow(), ...(kind === 'pay' ? UNLINKED : [])].filter(
            (x) => x !== payer && (kind === 'pay' || model.linked.has(x)),
          );
          const to = r.pick(others);
          const amount = r.chance(0.15) ? r.int(20_000, 45_000) : r.int(1, 4000);
          const [from, other] = kind === 'pay' ? [payer, to] : [to, payer];
          const text = `$${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`;
          const res = await h.request(
            'POST',
            '/v1/handle-payments',
            { kind, from, to: other, amount: text },
            ADMIN_KEY,
          );
          if (model.overLimit(payer, amount, at)) {
            assert.equal(
              res.body.error?.code,
              'PAYMENT_LIMIT_EXCEEDED',
              `seed ${seed} step ${step}`,
            );
            break;
          }
          assert.equal(res.status, 201, `seed ${seed} step ${step}: ${JSON.stringify(res.body)}`);
          model.count(payer, amount, at, 1);
          await h.app.settle();
          const needsCode =
            kind === 'request' ||
            amount > Number(PAY_CONFIRM_ABOVE_MAJOR) * 100 ||
            !model.pairs.has(`${payer}|${to}`);
          assert.equal(
            res.body.status === 'awaiting_confirmation',
            needsCode,
            `a code exactly when the rules ask one, seed ${seed} step ${step}`,
          );
          if (!needsCode) {
            model.execute(payer, to, amount, at);
            break;
          }
          if (r.chance(0.75)) {
            const code = await newestCode(h, payer);
            const ok = await h.request(
              'POST',
              `/v1/handle-payments/${res.body.id}/confirm`,
              { code },
              ADMIN_KEY,
            );
            assert.equal(ok.status, 200, JSON.stringify(ok.body));
            await h.app.settle();
            model.execute(payer, to, amount, at);
          } else {
            const window = kind === 'request' ? REQUEST_WINDOW_MS : CONFIRM_WINDOW_MS_DEFAULT;
            model.awaiting.push({
              id: res.body.id,
              payer,
              to,
              amount,
              kind,
              createdAt: at,
              expiresAt: at + window,
            });
          }
          break;
        }
        case 'link': {
          const handle = UNLINKED.find((u) => !model.linked.has(u));
          if (handle === undefined) break;
          await linkShopper(h, accounts[handle]!, CARDS.ok);
          await h.app.settle();
          model.link(handle, at);
          break;
        }
        case 'clock': {
          const by = r.pick([60_000, 20 * 60_000, DAY_MS, 4 * DAY_MS, 15 * DAY_MS]);
          h.clock.advance(by);
          await h.app.settle();
          model.advance(h.clock.now());
          break;
        }
        case 'withdraw': {
          const who = r.pick(linkedNow());
          const amount = r.int(1, 5000);
          const res = await h.request(
            'POST',
            `/v1/wallets/${who}/withdrawals`,
            { amount, currency: 'USD' },
            ADMIN_KEY,
          );
          if (amount > model.w(who)) {
            assert.equal(res.body.error?.code, 'INSUFFICIENT_FUNDS');
            break;
          }
          assert.equal(res.status, 202);
          await h.app.settle();
          model.add(who, -amount);
          break;
        }
        case 'buy':
        case 'gift': {
          const who = r.pick(linkedNow());
          const buy = await post(h, accounts[who]!, op === 'buy' ? '#BuyAcmeTee M' : '#AcmeGift');
          await post(h, accounts[who]!, codeIn((await repliesTo(h, buy))[0]));
          const price = op === 'buy' ? TEE_PRICE : GIFT_PRICE;
          const walletPart = Math.min(model.w(who), price);
          model.add(who, -walletPart);
          if (op === 'buy') {
            const { rows } = await h.app.db.query<{ id: string }>(
              "SELECT id FROM orders WHERE status = 'paid' AND offer_id = $1 ORDER BY updated_at DESC, id",
              [w.offer.id],
            );
            const known = new Set(model.orders.map((o) => o.id));
            model.orders.push({ id: rows.find((o) => !known.has(o.id))!.id, walletPart });
          } else {
            const mail = await h.request(
              'GET',
              `/v1/mailbox?to=${who}@example.com`,
              undefined,
              ADMIN_KEY,
            );
            const text = mail.body.data.find((m: { text: string }) => /GC-/.test(m.text)).text;
            const code = /GC-[A-Z2-7-]{19}/.exec(text)![0];
            if (!model.giftCodes.some((g) => g.code === code))
              model.giftCodes.push({ code, redeemed: false });
          }
          break;
        }
        case 'refund': {
          const order = model.orders.shift();
          if (order === undefined) break;
          const res = await h.request('POST', `/v1/orders/${order.id}/refund`, {}, ADMIN_KEY);
          assert.equal(res.status, 200, JSON.stringify(res.body));
          await h.app.settle();
          const who = (await h.request('GET', `/v1/orders/${order.id}`, undefined, ADMIN_KEY)).body
            .handle;
          model.add(who, order.walletPart);
          break;
        }
        case 'redeem': {
          if (model.giftCodes.length === 0) break;
          const card = r.pick(model.giftCodes);
          const who = r.pick(linkedNow());
          const res = await h.request(
            'POST',
            '/v1/gift-cards/redeem',
            { code: card.code, handle: who },
            ADMIN_KEY,
          );
          if (card.redeemed) {
            assert.equal(res.body.error?.code, 'GIFT_CARD_USED');
            break;
          }
          assert.equal(res.status, 200, JSON.stringify(res.body));
          card.redeemed = true;
          model.add(who, GIFT_VALUE);
          break;
        }
      }
      if (step % 15 === 14) await check(h, model, seed, step);
    }
    // Let every code and claim run out, then compare once more.
    h.clock.advance(CLAIM_PERIOD_MS_DEFAULT + DAY_MS);
    await h.app.settle();
    model.advance(h.clock.now());
    await check(h, model, seed, STEPS);
    assert.equal(model.pendingTotal(), 0);
  } finally {
    await h.close();
  }
}

describe('money: randomized workload against a reference model', () => {
  for (const seed of SEEDS) {
    test(`seed ${seed} (replay with TAGPAY_SEED=${seed})`, async (t) => {
      t.diagnostic(`seed ${seed}`);
      console.log(`money model: seed ${seed}`);
      await run(seed);
    });
  }
});
