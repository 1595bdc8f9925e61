import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPglite, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrations.ts';
import { checkInvariants, takeWritten, trackWrites } from './sim/invariants.ts';

// The simulator checks each step's writes only (tests/sim/invariants.ts): these rows break an
// invariant on purpose, to show the scoped check finds what the full one finds, and only then.

let db: Db;
before(async () => {
  db = await openPglite(null);
  await migrate(db);
  await trackWrites(db);
});
after(() => db.close());

async function scoped(): Promise<string[]> {
  const ids = await takeWritten(db);
  return (await checkInvariants(db, null, { kind: 'written', ids })).map((f) => f.invariant);
}
async function full(): Promise<string[]> {
  return (await checkInvariants(db, null, false)).map((f) => f.invariant);
}

async function paidOrder(id: string, amount: number): Promise<void> {
  await db.query(
    `INSERT INTO orders (id, offer_id, merchant_id, shopper_id, network, handle, quantity, amount_minor,
       fee_minor, currency, status, expires_at, created_at, updated_at, post_id, charge_id)
     VALUES ($1, 'ofr_x', 'mer_x', 'shp_x', 'sim', 'u1', 1, $2, 0, 'USD', 'paid', 0, 0, 0, 'p1', $3)`,
    [id, amount, `ch_${id}`],
  );
  await db.query(
    `INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at)
     VALUES ($1, $2, 'tok', $3, 'USD', 'captured', 0)`,
    [`ch_${id}`, `${id}:charge`, amount],
  );
  await db.query(`INSERT INTO transfers (id, ref, at, n) VALUES ($1, $2, 0, $3)`, [
    `trf_${id}`,
    id,
    Math.floor(Math.random() * 1e9),
  ]);
  await db.query(
    `INSERT INTO postings (transfer_id, n, debit, credit, minor, currency)
     VALUES ($1, 0, 'funding:shp_x', 'payable:mer_x', $2, 'USD')`,
    [`trf_${id}`, amount],
  );
}

test('a consistent paid order passes; a second charge for it is found by the scoped check', async () => {
  await paidOrder('ord_a', 500);
  assert.deepEqual(await scoped(), []);
  await paidOrder('ord_b', 700);
  await db.query(
    `INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at)
     VALUES ('ch_again', 'ord_b:charge-retry', 'tok', 700, 'USD', 'captured', 0)`,
  );
  assert.ok((await scoped()).includes('charged_twice'));
  assert.ok((await full()).includes('charged_twice'));
  // Nothing written since: the scoped check has nothing to look at, the full one still finds it.
  assert.deepEqual(await scoped(), []);
  await db.query("DELETE FROM sandbox_charges WHERE id = 'ch_again'");
  await takeWritten(db);
});

test('a completed payment whose money never moved, and an order the ledger does not match', async () => {
  await db.query(
    `INSERT INTO handle_payments (id, kind, payer_id, payer_network, payer_handle, recipient_network,
       recipient_handle, recipient_id, amount_minor, currency, memo, status, expires_at, network,
       created_at, updated_at)
     VALUES ('hpm_x', 'pay', 'shp_p', 'sim', 'u1', 'sim', 'u2', 'shp_r', 900, 'USD', '', 'completed',
       0, 'sim', 0, 0)`,
  );
  assert.ok((await scoped()).includes('payment_once'));
  await db.query("DELETE FROM handle_payments WHERE id = 'hpm_x'");
  await takeWritten(db);

  await paidOrder('ord_c', 300);
  // A second transfer for the same order: the shopper paid 600 for a 300 order.
  await db.query(`INSERT INTO transfers (id, ref, at, n) VALUES ('trf_c2', 'ord_c', 0, 999999)`);
  await db.query(
    `INSERT INTO postings (transfer_id, n, debit, credit, minor, currency)
     VALUES ('trf_c2', 0, 'funding:shp_x', 'payable:mer_x', 300, 'USD')`,
  );
  assert.ok((await scoped()).includes('ledger_matches_orders'));
});
