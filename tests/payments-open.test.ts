import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OPEN_PAYMENTS_SQL } from '../src/engine/flows/checkout-store.ts';
import { START_MS, storages } from './support/harness.ts';
import { openMigratedDb, planOf } from './support/plans.ts';

/**
 * A start reloads the open payments (OPEN_PAYMENTS_SQL) from their partial indexes, not by reading
 * every payment ever made: the table is filled as a busy tagpay fills it — paid payments by the
 * thousand, a few waiting for a code, an approval or a charge, a few pay-with-tagpay codes not yet
 * exchanged — and after ANALYZE the plan must read payments_open and payments_oauth_unexchanged only.
 * Before 0014-payments-open.sql it scanned the table ('awaiting_step_up' was not in payments_open, and
 * no index held the unexchanged codes). The rows it answers are checked too.
 */

const PAID_PAYMENTS = 20_000;
const OAUTH_CODE_AGE_MS = 60_000;

for (const storage of storages()) {
  describe(`open payments at start (${storage})`, () => {
    test('are read from their partial indexes, and are exactly the open ones', async () => {
      const db = await openMigratedDb(storage, 'payopen');
      await db.query(
        `INSERT INTO payments (id, kind, network, account, shopper_id, order_ids, cart_item_ids,
           amount_minor, fee_minor, currency, status, expires_at, created_at, updated_at, code_used_at)
         SELECT 'pay_paid' || i, CASE WHEN i % 2 = 0 THEN 'oauth' ELSE 'cart' END, 'local', 'a' || i,
           'shp_' || i, '[]', '[]', 500, 0, 'USD', 'paid', $1::bigint, $1::bigint - i, $1::bigint - i,
           CASE WHEN i % 2 = 0 THEN $1::bigint - i END
         FROM generate_series(1, $2::int) AS i`,
        [START_MS, PAID_PAYMENTS],
      );
      const open: [string, string, string, number | null, number][] = [
        ['pay_code', 'cart', 'awaiting_confirmation', null, START_MS],
        ['pay_stepup', 'buy_now', 'awaiting_step_up', null, START_MS],
        ['pay_charging', 'oauth', 'charging', START_MS, START_MS],
        ['pay_unexchanged', 'oauth', 'paid', null, START_MS],
        ['pay_stale_code', 'oauth', 'paid', null, START_MS - 2 * OAUTH_CODE_AGE_MS],
      ];
      for (const [id, kind, status, codeUsedAt, createdAt] of open)
        await db.query(
          `INSERT INTO payments (id, kind, network, account, shopper_id, order_ids, cart_item_ids,
             amount_minor, fee_minor, currency, status, expires_at, created_at, updated_at,
             code_used_at)
           VALUES ($1, $2, 'local', 'x', 'shp_x', '[]', '[]', 500, 0, 'USD', $3, $4, $4, $4, $5)`,
          [id, kind, status, createdAt, codeUsedAt],
        );
      await db.query('ANALYZE payments');

      const since = START_MS - OAUTH_CODE_AGE_MS;
      assert.deepEqual((await planOf(db, OPEN_PAYMENTS_SQL, [since])).sort(), [
        'payments_oauth_unexchanged',
        'payments_open',
      ]);
      const { rows } = await db.query<{ id: string }>(OPEN_PAYMENTS_SQL, [since]);
      assert.deepEqual(rows.map((r) => r.id).sort(), [
        'pay_charging',
        'pay_code',
        'pay_stepup',
        'pay_unexchanged',
      ]);
    });
  });
}
