import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { AppContext, createLogger } from '../src/app-context.ts';
import { loadConfig } from '../src/config/env.ts';
import { openPglite, type Db } from '../src/store/db.ts';
import type { NewEvent } from '../src/engine/log.ts';
import { ManualClock, seededRandom } from './support/harness.ts';

/**
 * The engine decides batch N+1 while batch N commits (engine.ts, runBatch), and deciding changes the
 * same orders in place. What N writes must be N's decisions only: here N confirms a purchase (the
 * order goes to charging), N+1 takes the charge result (the order is paid, the sale is in the ledger),
 * and N+1's commit fails, as a crash between the two commits would leave it. The database must then
 * say "charging", and deciding N+1 again must pay the order once, with its ledger transfer.
 */

let db: Db | null = null;
after(async () => {
  await db?.close();
});

test('a batch commits its own decisions, not those of the batch decided while it was committing', async () => {
  db = await openPglite(null);
  const inner = db;
  // Transactions are numbered: number `holdAt` waits at the gate before it starts, and number
  // `failAt` throws before it writes anything.
  let count = 0;
  let holdAt = 0;
  let failAt = 0;
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated: Db = {
    ...inner,
    close: async () => {},
    transaction: async (fn) => {
      const mine = ++count;
      if (mine === holdAt) await gate;
      if (mine === failAt) throw new Error('crash before the commit of batch N+1');
      return inner.transaction(fn);
    },
    // A script is a transaction too (the engine commits its batches as one, Db.script).
    script: async (text) => {
      const mine = ++count;
      if (mine === holdAt) await gate;
      if (mine === failAt) throw new Error('crash before the commit of batch N+1');
      return inner.script(text);
    },
  };
  const config = loadConfig({
    TAGPAY_ADMIN_KEY: 'ak_pipeline_admin_key_0123456789',
    TAGPAY_DEMO: '0',
    TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
    TAGPAY_CARD_DAILY_MAX: '0',
    TAGPAY_ANOMALY_STEP_UP: '0',
  });
  const app = await AppContext.fromConfig(config, {
    db: gated,
    clock: new ManualClock(),
    random: seededRandom(7n),
    logger: createLogger('silent'),
  });
  try {
    const api = async (key: string, command: object) => {
      await app.log.append([
        { key, body: { kind: 'api', principal: 'admin', requestHash: key, command } } as NewEvent,
      ]);
      await app.engine.drain();
      const { rows } = await inner.query<{ body: string }>(
        'SELECT body FROM api_results WHERE key = $1',
        [key],
      );
      return JSON.parse(rows[0]!.body) as { id: string };
    };
    const post = (id: string, text: string): NewEvent => ({
      key: `post:local:${id}`,
      body: { kind: 'post', network: 'local', postId: id, author: 'alice', text, replyTo: null },
    });
    const merchantId = (
      await api('m', {
        op: 'merchant.create',
        network: 'local',
        handle: 'acme',
        name: 'Acme',
        webhookUrl: null,
        webhookSecret: 'whsec_x',
        keyHash: 'x',
        feeBps: null,
      })
    ).id;
    await api('o', {
      op: 'offer.create',
      merchantId,
      title: 'Tee',
      priceMinor: '2500',
      currency: 'USD',
      quantity: 5,
      hashtag: 'BuyTee',
      variants: [],
      perBuyerMax: null,
      windowMs: 900_000,
      startsAt: null,
      endsAt: null,
      publish: true,
    });
    const card = await app.processor.tokenize({
      number: '4242424242424242',
      exp_month: 12,
      exp_year: 2035,
      cvc: '123',
    });
    await api('link', {
      op: 'shopper.link',
      network: 'local',
      account: 'alice',
      handle: 'alice',
      email: 'alice@example.com',
      shippingAddress: {
        name: 'Alice',
        line1: '1 Main St',
        city: 'Springfield',
        postal_code: '12345',
        country: 'US',
      },
      cardToken: card.id,
      cardBrand: card.brand,
      cardLast4: card.last4,
      purchaseLimitMinor: null,
      dailyLimitMinor: null,
      limitCurrency: null,
    });
    await app.log.append([post('buy', '#BuyTee')]);
    await app.engine.drain();
    const reply = await inner.query<{ body: string }>(
      "SELECT body FROM outbox WHERE kind = 'post' AND body LIKE '%#TP%'",
    );
    const code = /#(TP[A-Z2-7]{10})/.exec(JSON.parse(reply.rows[0]!.body).text as string)![1]!;
    const orderId = (await inner.query<{ id: string }>('SELECT id FROM orders')).rows[0]!.id;
    const status = async () =>
      (await inner.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId]))
        .rows[0]!.status;

    // Batch N: the confirmation. Its commit waits at the gate.
    await app.log.append([post('confirm', `#${code}`)]);
    holdAt = count + 1;
    assert.equal(await app.engine.runBatch(), 1);
    assert.equal(app.engine.view.activeOrders.get(orderId)?.status, 'charging');
    // Batch N+1: the charge result, decided in memory while N still waits to commit.
    await app.log.append([
      {
        key: `charge:${orderId}`,
        body: { kind: 'charge_result', orderId, ok: true, reason: null, chargeId: 'ch_test' },
      },
    ]);
    failAt = count + 1;
    const second = app.engine.runBatch();
    for (let i = 0; i < 1_000 && app.engine.view.activeOrders.has(orderId); i++)
      await new Promise((resolve) => setImmediate(resolve));
    assert.equal(
      app.engine.view.activeOrders.has(orderId),
      false,
      'N+1 decided: the order is paid',
    );
    // N commits; N+1's commit fails.
    open();
    assert.equal(await second, 1);
    await assert.rejects(app.engine.flush(), /crash before the commit/);
    assert.equal(await status(), 'charging', "batch N wrote N's decision, not N+1's");
    const transfers = await inner.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM transfers WHERE ref LIKE $1',
      [`%${orderId}%`],
    );
    assert.equal(transfers.rows[0]!.n, 0, 'no sale in the ledger before N+1 commits');

    // The engine rebuilt its state from the database; N+1 is decided again and commits.
    await app.engine.drain();
    assert.equal(await status(), 'paid');
    const after = await inner.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM transfers WHERE ref LIKE $1',
      [`%${orderId}%`],
    );
    assert.equal(after.rows[0]!.n, 1, 'the sale is in the ledger once');
    const sum = await inner.query<{ s: string }>(
      'SELECT coalesce(sum(balance), 0)::text AS s FROM balances',
    );
    assert.equal(sum.rows[0]!.s, '0');
    // Every committed batch is timed by phase in /metrics.
    const metrics = await app.metrics.registry.metrics();
    for (const phase of ['decide', 'plan', 'wait', 'write']) {
      const count = new RegExp(
        `^tagpay_batch_phase_seconds_count\\{phase="${phase}"\\} (\\d+)$`,
        'm',
      );
      assert.ok(Number(count.exec(metrics)?.[1] ?? 0) > 0, `${phase} observed`);
    }
  } finally {
    await app.close();
  }
});
