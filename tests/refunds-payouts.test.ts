import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { verifyLedger } from '../src/engine/ledger-store.ts';
import {
  ADMIN_KEY,
  openHarness,
  storages,
  webhookReceiver,
  type Harness,
} from './support/harness.ts';
import { buy } from './support/money.ts';
import {
  assertLedgerBalanced,
  offerState,
  orders,
  setupWorld,
  type World,
} from './support/world.ts';

for (const storage of storages()) {
  describe(`refunds, payouts and reports (${storage})`, () => {
    let h: Harness;
    let w: World;
    let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
    before(async () => {
      hooks = await webhookReceiver();
    });
    after(async () => {
      await hooks.close();
    });
    afterEach(async () => {
      await assertLedgerBalanced(h);
      assert.equal((await verifyLedger(h.app.db)).ok, true, 'the hash chain verifies');
      await h.close();
    });

    async function fresh() {
      h = await openHarness(storage);
      w = await setupWorld(h, { webhookUrl: hooks.url });
    }

    async function balance(account: string): Promise<number> {
      const res = await h.request(
        'GET',
        `/v1/ledger/balances?account=${encodeURIComponent(account)}`,
        undefined,
        ADMIN_KEY,
      );
      return res.body.data[0]?.balance ?? 0;
    }

    const refund = (id: string, body: unknown, key?: string) =>
      h.request(
        'POST',
        `/v1/orders/${id}/refund`,
        body,
        w.merchant.api_key,
        key ? { 'idempotency-key': key } : {},
      );

    test('partial refunds: each gives back its share of the fee, restocks what was asked, and the last completes the order', async () => {
      await fresh();
      const { order } = await buy(h, w, w.accounts.alice!, '#BuyAcmeTee M x2');
      assert.equal(order.amount, 5000);
      assert.equal(order.fee, 125);
      const payable = `payable:${w.merchant.id}`;
      assert.equal(await balance(payable), 4875);
      assert.equal((await offerState(h, w)).sold, 2);

      const first = await refund(order.id, { amount: 1000 }, 'r-1');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.status, 'refunding');
      await h.app.settle();
      let [now] = await orders(h, 'alice');
      assert.equal(now.status, 'paid');
      assert.equal(now.amount_refunded, 1000);
      assert.equal(await balance(payable), 4875 - 975);
      assert.equal(await balance('fees:platform'), 125 - 25);
      assert.equal((await offerState(h, w)).sold, 2, 'no restock unless asked');
      // The same key and body: the same answer, no second refund.
      const replay = await refund(order.id, { amount: 1000 }, 'r-1');
      assert.equal(replay.status, 200);
      const conflict = await refund(order.id, { amount: 999 }, 'r-1');
      assert.equal(conflict.status, 409);
      assert.equal(conflict.body.error.code, 'IDEMPOTENCY_CONFLICT');

      for (const [body, code, param] of [
        [{ amount: -5 }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: 10.5 }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: '1e9' }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: 0 }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: 4001 }, 'REFUND_EXCEEDS_ORDER', 'amount'],
        [
          { amount: 100, restock: true, restock_quantity: 3 },
          'INVALID_REQUEST',
          'restock_quantity',
        ],
        [{ amount: 100, restock_quantity: -1 }, 'INVALID_REQUEST', 'restock_quantity'],
      ] as const) {
        const res = await refund(order.id, body);
        assert.equal(res.body.error?.code, code, JSON.stringify([body, res.body]));
        assert.equal(res.body.error.param, param);
      }

      const second = await refund(order.id, { amount: 1500, restock: true, restock_quantity: 1 });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      await h.app.settle();
      [now] = await orders(h, 'alice');
      assert.equal(now.amount_refunded, 2500);
      assert.equal(now.status, 'paid');
      const stock = await offerState(h, w);
      assert.equal(stock.sold, 1);
      assert.equal(stock.available, 9);

      // Each unit goes back on sale once, whatever the number of refunds.
      const twice = await refund(order.id, { restock: true, restock_quantity: 2 });
      assert.equal(twice.body.error.code, 'INVALID_REQUEST');
      assert.equal(twice.body.error.param, 'restock_quantity');
      const rest = await refund(order.id, { restock: true });
      assert.equal(rest.status, 200);
      await h.app.settle();
      assert.deepEqual(
        { sold: (await offerState(h, w)).sold, available: (await offerState(h, w)).available },
        { sold: 0, available: 10 },
      );
      [now] = await orders(h, 'alice');
      assert.equal(now.status, 'refunded');
      assert.equal(now.amount_refunded, 5000);
      assert.equal(await balance(payable), 0);
      assert.equal(
        await balance('fees:platform'),
        0,
        'the whole fee is back, however it was split',
      );
      const processor = await h.app.db.query<{ amount: string }>(
        'SELECT amount_minor::text AS amount FROM sandbox_refunds ORDER BY created_at, amount_minor',
      );
      assert.deepEqual(processor.rows.map((r) => r.amount).sort(), ['1000', '1500', '2500'].sort());
      const more = await refund(order.id, { amount: 1 });
      assert.equal(more.body.error.code, 'ORDER_NOT_REFUNDABLE');
    });

    test('restocked units are kept in orders.restocked: after a restart a unit still goes back on sale at most once', async () => {
      await fresh();
      const { order } = await buy(h, w, w.accounts.alice!, '#BuyAcmeTee M x3');
      assert.equal((await offerState(h, w)).sold, 3);
      const first = await refund(order.id, { amount: 1000, restock: true, restock_quantity: 2 });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      await h.app.settle();
      const stored = async () =>
        (
          await h.app.db.query<{ restocked: number }>(
            'SELECT restocked FROM orders WHERE id = $1',
            [order.id],
          )
        ).rows[0]!.restocked;
      assert.equal(await stored(), 2, 'persisted with the refund');
      assert.deepEqual([(await offerState(h, w)).sold, (await offerState(h, w)).available], [1, 9]);

      await h.restart();
      const twice = await refund(order.id, { amount: 1000, restock_quantity: 2 });
      assert.equal(twice.status, 400, 'only one unit is left to restock, after a restart too');
      assert.equal(twice.body.error.param, 'restock_quantity');
      // A refund of the rest with restock: true puts back what is left, the one unit, not three.
      const rest = await refund(order.id, { restock: true });
      assert.equal(rest.status, 200, JSON.stringify(rest.body));
      await h.app.settle();
      assert.equal(await stored(), 3);
      assert.deepEqual(
        [(await offerState(h, w)).sold, (await offerState(h, w)).available],
        [0, 10],
        'each unit back once: never more on sale than the offer had',
      );
      await h.restart();
      const after = await refund(order.id, { amount: 1, restock: true });
      assert.equal(after.body.error.code, 'ORDER_NOT_REFUNDABLE');
      assert.equal((await offerState(h, w)).available, 10);
    });

    test('a payout run moves each payable balance to the bank once, with a CSV report; a refused payout comes back', async () => {
      await fresh();
      await buy(h, w, w.accounts.alice!);
      await buy(h, w, w.accounts.bob!);
      const other = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'zeta', name: 'Zeta, "the" shop' },
        ADMIN_KEY,
      );
      assert.equal(other.status, 201);
      const payable = `payable:${w.merchant.id}`;
      const owed = await balance(payable);
      assert.equal(owed, 2 * (2500 - 62));

      const forbidden = await h.request('POST', '/v1/payout-runs', {}, w.merchant.api_key);
      assert.equal(forbidden.status, 403);
      const unknown = await h.request(
        'POST',
        '/v1/payout-runs',
        { merchant_id: 'mer_nope' },
        ADMIN_KEY,
      );
      assert.equal(unknown.body.error.code, 'NOT_FOUND');
      const badCurrency = await h.request(
        'POST',
        '/v1/payout-runs',
        { currency: 'XYZ' },
        ADMIN_KEY,
      );
      assert.equal(badCurrency.body.error.code, 'UNKNOWN_CURRENCY');

      const run = await h.request('POST', '/v1/payout-runs', {}, ADMIN_KEY, {
        'idempotency-key': 'run-1',
      });
      assert.equal(run.status, 201, JSON.stringify(run.body));
      assert.equal(run.body.payouts.length, 1, 'only merchants owed money are paid');
      assert.equal(run.body.payouts[0].amount, owed);
      assert.equal(run.body.payouts[0].status, 'pending');
      assert.equal(await balance(payable), 0, 'moved at once, so no second run pays it again');
      const replay = await h.request('POST', '/v1/payout-runs', {}, ADMIN_KEY, {
        'idempotency-key': 'run-1',
      });
      assert.equal(replay.body.id, run.body.id);
      await h.app.settle();
      const done = await h.request('GET', `/v1/payout-runs/${run.body.id}`, undefined, ADMIN_KEY);
      assert.equal(done.body.payouts[0].status, 'paid');
      assert.match(done.body.payouts[0].bank_ref, /^bank_/);
      const bank = await h.app.db.query<{ amount: string }>(
        'SELECT amount_minor::text AS amount FROM sandbox_bank_payouts',
      );
      assert.deepEqual(bank.rows, [{ amount: String(owed) }]);
      assert.equal(await balance(`payouts:${w.merchant.id}`), owed);
      const report = await h.request(
        'GET',
        `/v1/payout-runs/${run.body.id}/report`,
        undefined,
        ADMIN_KEY,
      );
      assert.equal(report.status, 200);
      const lines = (report.body as string).trimEnd().split('\r\n');
      assert.equal(
        lines[0],
        'payout_id,merchant_id,merchant_name,amount,currency,status,bank_ref,failure_reason,created_at',
      );
      assert.equal(lines.length, 2);
      assert.match(
        lines[1]!,
        new RegExp(`^po_\\w+,${w.merchant.id},Acme Goods,${owed},USD,paid,bank_`),
      );
      const mine = await h.request('GET', '/v1/payouts', undefined, w.merchant.api_key);
      assert.equal(mine.body.data.length, 1);
      const theirs = await h.request('GET', '/v1/payouts', undefined, other.body.api_key);
      assert.equal(theirs.body.data.length, 0);

      const empty = await h.request('POST', '/v1/payout-runs', {}, ADMIN_KEY);
      assert.equal(empty.status, 201);
      assert.deepEqual(empty.body.payouts, []);

      // The bank refuses the next one: after its retries the payout fails and the money is payable again.
      await buy(h, w, w.accounts.alice!, '#BuyAcmeTee L');
      h.app.bank.refusing.add(w.merchant.id);
      const refused = await h.request('POST', '/v1/payout-runs', { currency: 'usd' }, ADMIN_KEY);
      assert.equal(refused.body.payouts.length, 1);
      for (let i = 0; i < 3; i++) {
        h.clock.advance(60_000);
        await h.app.settle();
      }
      const failed = await h.request(
        'GET',
        `/v1/payout-runs/${refused.body.id}`,
        undefined,
        ADMIN_KEY,
      );
      assert.equal(failed.body.payouts[0].status, 'failed');
      assert.match(failed.body.payouts[0].failure_reason, /account is closed/);
      assert.equal(await balance(payable), 2500 - 62);
      const types = hooks.received.map((r) => JSON.parse(r.body).type);
      assert.ok(types.includes('payout.paid') && types.includes('payout.failed'));
      const missing = await h.request(
        'GET',
        '/v1/payout-runs/pr_nope/report',
        undefined,
        ADMIN_KEY,
      );
      assert.equal(missing.status, 404);
    });

    test('every endpoint of card-linked offers, refunds, payouts, reports and verify is in the OpenAPI document', async () => {
      await fresh();
      const doc = await h.request('GET', '/openapi.json');
      assert.equal(doc.status, 200);
      const paths = doc.body.paths as Record<string, Record<string, unknown>>;
      for (const [path, method] of [
        ['/v1/card-offers', 'post'],
        ['/v1/card-offers', 'get'],
        ['/v1/card-offers/{id}/end', 'post'],
        ['/v1/processor/transactions', 'post'],
        ['/v1/orders/{id}/refund', 'post'],
        ['/v1/payout-runs', 'post'],
        ['/v1/payout-runs/{id}', 'get'],
        ['/v1/payout-runs/{id}/report', 'get'],
        ['/v1/payouts', 'get'],
        ['/v1/reports/fees', 'get'],
        ['/v1/ledger/verify', 'get'],
      ] as const) {
        assert.ok(paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
      }
      const refundBody = JSON.stringify(paths['/v1/orders/{id}/refund']!.post);
      assert.match(refundBody, /restock_quantity/);
      assert.match(JSON.stringify(paths['/v1/payout-runs']!.post), /idempotency-key/);
    });

    test('the platform-fee report sums fees earned and given back per day and currency, as JSON or CSV', async () => {
      await fresh();
      const { order } = await buy(h, w, w.accounts.alice!);
      await buy(h, w, w.accounts.bob!);
      h.clock.advance(24 * 60 * 60 * 1000);
      await refund(order.id, { amount: 1000 });
      await h.app.settle();
      const report = await h.request('GET', '/v1/reports/fees', undefined, ADMIN_KEY);
      assert.equal(report.status, 200);
      assert.deepEqual(report.body.data, [
        { day: '2026-11-26', currency: 'USD', earned: 124, refunded: 0, net: 124 },
        { day: '2026-11-27', currency: 'USD', earned: 0, refunded: 24, net: -24 },
      ]);
      const csv = await h.request(
        'GET',
        '/v1/reports/fees?format=csv&from=2026-11-27T00:00:00Z',
        undefined,
        ADMIN_KEY,
      );
      assert.equal(csv.body, 'day,currency,earned,refunded,net\r\n2026-11-27,USD,0,24,-24\r\n');
      const bad = await h.request('GET', '/v1/reports/fees?from=yesterday', undefined, ADMIN_KEY);
      assert.equal(bad.status, 400);
      const merchant = await h.request('GET', '/v1/reports/fees', undefined, w.merchant.api_key);
      assert.equal(merchant.status, 403);
    });
  });
}
