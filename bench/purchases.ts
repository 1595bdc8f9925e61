/**
 * Confirmed purchases per second through the engine, end to end: offer hashtag post → checkout and
 * code → confirmation post → sandbox charge (authorize + capture) → order paid, ledger transfer and
 * outbox rows committed. Usage: tsx bench/purchases.ts [--n 20000] [--storage pglite|postgres|both]
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AppContext } from '../src/app-context.ts';
import { loadConfig } from '../src/config/env.ts';
import { CHARGE_BATCH_MAX, CONFIRM_WINDOW_MS_DEFAULT } from '../src/core/limits.ts';
import type { ApiCommand } from '../src/engine/events.ts';
import type { NewEvent } from '../src/engine/log.ts';
import { dropSchema, openPglite, openPostgres, type Db } from '../src/store/db.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '20000' }, storage: { type: 'string', default: 'both' } } });
const N = Number(values.n);
const POSTGRES_URL = process.env.TAGPAY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHUNK = 5_000;

async function run(storage: 'pglite' | 'postgres') {
  const schema = `bench_${Date.now().toString(36)}`;
  const db: Db = storage === 'pglite' ? await openPglite(null) : await openPostgres(POSTGRES_URL, schema, 20);
  const config = loadConfig({ TAGPAY_ADMIN_KEY: 'ak_bench_admin_key_0123456789', TAGPAY_DEMO: '0' });
  const app = await AppContext.fromConfig(config, { db, logger: pino({ level: 'warn' }) });
  // No background loops: each phase below runs exactly the stages it times.
  const command = async (key: string, cmd: ApiCommand) => {
    await app.log.append([{ key, body: { kind: 'api', principal: 'admin', requestHash: key, command: cmd } }]);
    await app.engine.drain();
    const { rows } = await db.query<{ body: string }>('SELECT body FROM api_results WHERE key = $1', [key]);
    return JSON.parse(rows[0]!.body) as { id: string };
  };
  const merchantId = (await command('api:admin:m', {
    op: 'merchant.create', network: 'local', handle: 'acme', name: 'Acme', webhookUrl: null, webhookSecret: 'whsec_x', keyHash: 'x', feeBps: null,
  })).id;
  await command('api:admin:o', {
    op: 'offer.create', merchantId, title: 'Tee', priceMinor: '2500', currency: 'USD', quantity: N, hashtag: 'BuyTee', variants: [],
    perBuyerMax: null, windowMs: CONFIRM_WINDOW_MS_DEFAULT, startsAt: null, endsAt: null, publish: true,
  });
  const card = await app.processor.tokenize({ number: '4242424242424242', exp_month: 12, exp_year: 2035, cvc: '123' });
  const handles = Array.from({ length: N }, (_, i) => `u${i}`);
  const append = async (events: NewEvent[]) => {
    for (let i = 0; i < events.length; i += CHUNK) await app.log.append(events.slice(i, i + CHUNK));
  };
  await append(handles.map((h) => ({
    key: `api:admin:link-${h}`,
    body: { kind: 'api', principal: 'admin', requestHash: h, command: {
      op: 'shopper.link', network: 'local', handle: h, email: `${h}@example.com`,
      shippingAddress: { name: h, line1: '1 Main St', city: 'Springfield', postal_code: '12345', country: 'US' },
      cardToken: card.id, cardBrand: card.brand, cardLast4: card.last4, purchaseLimitMinor: null, dailyLimitMinor: null, limitCurrency: null,
    } },
  })));
  await app.engine.drain();

  const t0 = performance.now();
  await append(handles.map((h, i) => ({ key: `post:local:b${i}`, body: { kind: 'post', network: 'local', postId: `b${i}`, author: h, text: '#BuyTee', replyTo: null } })));
  await app.engine.drain();
  const t1 = performance.now();
  // The shopper reads the code in tagpay's reply; here it is read from the committed reply rows.
  const { rows } = await db.query<{ body: string }>("SELECT body FROM outbox WHERE kind = 'post' AND body LIKE '%post #TP%'");
  const codes = rows.map((r) => {
    const body = JSON.parse(r.body) as { text: string; reply_to: string };
    return { postId: body.reply_to, code: /#(TP[A-Z2-7]{10})/.exec(body.text)![1]! };
  });
  if (codes.length !== N) throw new Error(`expected ${N} codes, got ${codes.length}`);
  const t2 = performance.now();
  await append(codes.map((c) => {
    const i = Number(c.postId.slice(1));
    return { key: `post:local:c${i}`, body: { kind: 'post', network: 'local', postId: `c${i}`, author: `u${i}`, text: `#${c.code}`, replyTo: null } };
  }));
  await app.engine.drain();
  const t3 = performance.now();
  for (;;) {
    const moved = (await app.outbox.runOnce(['charge'], CHARGE_BATCH_MAX)) + (await app.engine.drain());
    if (moved === 0) break;
  }
  const t4 = performance.now();
  const paid = (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE status = 'paid'")).rows[0]!.n;
  if (paid !== N) throw new Error(`expected ${N} paid orders, got ${paid}`);
  const sums = (await db.query<{ s: string }>('SELECT sum(balance)::text AS s FROM balances')).rows[0]!.s;
  if (sums !== '0') throw new Error(`ledger sums to ${sums}`);
  const engineMs = t1 - t0 + (t3 - t2);
  const chargeMs = t4 - t3;
  const result = {
    storage, purchases: N,
    checkout_per_s: Math.round(N / ((t1 - t0) / 1000)),
    confirm_per_s: Math.round(N / ((t3 - t2) / 1000)),
    charge_and_settle_per_s: Math.round(N / (chargeMs / 1000)),
    engine_only_purchases_per_s: Math.round(N / ((engineMs) / 1000)),
    end_to_end_purchases_per_s: Math.round(N / ((engineMs + chargeMs) / 1000)),
  };
  await app.close();
  if (storage === 'postgres') await dropSchema(POSTGRES_URL, schema);
  return result;
}

const storages = values.storage === 'both' ? (['pglite', 'postgres'] as const) : [values.storage as 'pglite' | 'postgres'];
const results = [];
for (const s of storages) results.push(await run(s));
console.table(results);
