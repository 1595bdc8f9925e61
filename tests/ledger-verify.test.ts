import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { GENESIS_HASH, transferHash } from '../src/core/ledger-chain.ts';
import { verifyLedger } from '../src/engine/ledger-store.ts';
import { openPglite } from '../src/store/db.ts';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import { buy, openDiskHarness, schemaOf, tagpay } from './support/money.ts';
import { assertLedgerBalanced, setupWorld } from './support/world.ts';

/** Transfers in chain order with their stored number and hash. */
async function chain(h: Harness) {
  const { rows } = await h.app.db.query<{ id: string; n: string; hash: string }>(
    'SELECT id, n::text AS n, hash FROM transfers ORDER BY transfers.n',
  );
  return rows;
}

/** A world with three sales and one refund: four transfers. */
async function sales(h: Harness) {
  const w = await setupWorld(h);
  const { alice, bob } = w.accounts;
  const first = await buy(h, w, alice!);
  await buy(h, w, bob!);
  await buy(h, w, alice!, '#BuyAcmeTee L');
  const refund = await h.request(
    'POST',
    `/v1/orders/${first.order.id}/refund`,
    {},
    w.merchant.api_key,
  );
  assert.equal(refund.status, 200, JSON.stringify(refund.body));
  await h.app.settle();
  return w;
}

for (const storage of storages()) {
  describe(`verifiable ledger (${storage})`, () => {
    let h: Harness;
    afterEach(async () => {
      await h.close();
    });

    test('every transfer is numbered and hash-chained in log order; verify passes on a clean ledger', async () => {
      h = await openHarness(storage);
      await sales(h);
      const rows = await chain(h);
      assert.equal(rows.length, 4);
      assert.deepEqual(
        rows.map((r) => r.n),
        ['1', '2', '3', '4'],
      );
      // Recompute the chain by hand from the rows: each hash covers the one before.
      let prev = GENESIS_HASH;
      for (const r of rows) {
        const postings = await h.app.db.query<Record<string, string>>(
          'SELECT debit, credit, minor::text AS minor, currency FROM postings WHERE transfer_id = $1 ORDER BY n',
          [r.id],
        );
        const t = await h.app.db.query<{ ref: string; at: string }>(
          'SELECT ref, at::text AS at FROM transfers WHERE id = $1',
          [r.id],
        );
        const expected = transferHash(prev, BigInt(r.n), {
          id: r.id,
          ref: t.rows[0]!.ref,
          at: Number(t.rows[0]!.at),
          postings: postings.rows.map((p) => ({
            from: p.debit!,
            to: p.credit!,
            minor: BigInt(p.minor!),
            currency: p.currency!,
          })),
        });
        assert.equal(r.hash, expected, `hash of transfer #${r.n}`);
        prev = expected;
      }
      const result = await verifyLedger(h.app.db);
      assert.deepEqual(result, {
        ok: true,
        transfers: 4,
        accounts: result.ok ? result.accounts : -1,
        currencies: ['USD'],
        head: prev,
      });
      const api = await h.request('GET', '/v1/ledger/verify', undefined, ADMIN_KEY);
      assert.equal(api.status, 200);
      assert.deepEqual(api.body, { ok: true, transfers: 4, head: prev });
      await assertLedgerBalanced(h);
    });

    test('a posting altered by hand in SQL is named: the first transfer whose hash no longer matches', async () => {
      h = await openHarness(storage);
      await sales(h);
      const rows = await chain(h);
      const victim = rows[1]!;
      // Move one cent from the merchant to the fee account in transfer #2: still zero-sum per
      // transfer, so only the chain can tell.
      await h.app.db.query(
        'UPDATE postings SET minor = minor - 1 WHERE transfer_id = $1 AND n = 0',
        [victim.id],
      );
      await h.app.db.query(
        'UPDATE postings SET minor = minor + 1 WHERE transfer_id = $1 AND n = 1',
        [victim.id],
      );
      const result = await verifyLedger(h.app.db);
      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.equal(result.transferId, victim.id);
      assert.equal(result.n, '2');
      assert.match(result.reason, /hash does not match/);
    });

    test('a transfer reference, a deleted transfer and a stored balance altered by hand are each found', async () => {
      h = await openHarness(storage);
      await sales(h);
      const rows = await chain(h);
      await h.app.db.query("UPDATE transfers SET ref = 'ord_forged' WHERE id = $1", [rows[2]!.id]);
      let result = await verifyLedger(h.app.db);
      assert.ok(!result.ok);
      assert.equal(result.transferId, rows[2]!.id);

      // Put it back; the chain is sound again.
      const original = await h.app.db.query<{ ref: string }>(
        "SELECT ref FROM transfers WHERE id = $1 AND ref = 'ord_forged'",
        [rows[2]!.id],
      );
      assert.equal(original.rows.length, 1);
      await h.app.db.query('DELETE FROM postings WHERE transfer_id = $1', [rows[0]!.id]);
      await h.app.db.query('DELETE FROM transfers WHERE id = $1', [rows[0]!.id]);
      result = await verifyLedger(h.app.db);
      assert.ok(!result.ok);
      assert.equal(result.transferId, rows[1]!.id, 'the row after the gap is named');
      assert.match(result.reason, /number 1 is missing/);

      // A fresh world: only a stored balance changed.
      await h.close();
      h = await openHarness(storage);
      await sales(h);
      await h.app.db.query(
        "UPDATE balances SET balance = balance + 100 WHERE account = 'fees:platform'",
      );
      result = await verifyLedger(h.app.db);
      assert.ok(!result.ok);
      assert.equal(result.transferId, null);
      assert.match(result.reason, /stored balance of fees:platform/);
    });

    test('the chain continues across a restart, and transfers from before the chain are chained at start', async () => {
      h = await openHarness(storage);
      const w = await sales(h);
      await h.restart();
      await buy(h, w, w.accounts.bob!, '#BuyAcmeTee S');
      let rows = await chain(h);
      assert.deepEqual(
        rows.map((r) => r.n),
        ['1', '2', '3', '4', '5'],
      );
      assert.equal((await verifyLedger(h.app.db)).ok, true);
      // A database from before the chain: no numbers, no hashes.
      await h.app.db.query('UPDATE transfers SET n = NULL, hash = NULL');
      const unchained = await verifyLedger(h.app.db);
      assert.ok(!unchained.ok);
      assert.match(unchained.reason, /no place in the hash chain/);
      await h.restart();
      rows = await chain(h);
      assert.equal(rows.length, 5);
      assert.ok(rows.every((r) => r.hash !== null));
      assert.equal((await verifyLedger(h.app.db)).ok, true);
      await assertLedgerBalanced(h);
    });

    test('`tagpay ledger verify` exits 0 on a sound ledger and 1 naming the altered transfer', async () => {
      let dataDir: string | null = null;
      let target: Parameters<typeof tagpay>[1];
      if (storage === 'pglite') {
        dataDir = mkdtempSync(join(tmpdir(), 'tagpay-verify-'));
        h = await openDiskHarness(dataDir);
        target = { storage: 'pglite', dataDir };
      } else {
        h = await openHarness(storage);
        target = { storage: 'postgres', schema: await schemaOf(h) };
      }
      try {
        await sales(h);
        const rows = await chain(h);
        const alter = async (sql: string, params: unknown[]) => {
          if (dataDir === null) return void (await h.app.db.query(sql, params));
          const db = await openPglite(dataDir);
          await db.query(sql, params);
          await db.close();
        };
        // PGlite is one process at a time: the app lets go of the folder while the command runs.
        if (dataDir !== null) await h.app.close();
        const sound = tagpay(['ledger', 'verify'], target);
        assert.equal(sound.status, 0, sound.stdout + sound.stderr);
        assert.match(sound.stdout, /ledger OK: 4 transfers chained/);

        await alter('UPDATE postings SET minor = minor + 1 WHERE transfer_id = $1 AND n = 0', [
          rows[2]!.id,
        ]);
        const broken = tagpay(['ledger', 'verify'], target);
        assert.equal(broken.status, 1, broken.stdout + broken.stderr);
        assert.match(
          broken.stdout,
          new RegExp(`ledger BROKEN at transfer ${rows[2]!.id} \\(#3\\): its hash does not match`),
        );
        const viaNpm = tagpay(['help'], target);
        assert.match(viaNpm.stdout, /ledger verify/);
      } finally {
        if (dataDir !== null) {
          h = { close: async () => {} } as Harness;
          rmSync(dataDir, { recursive: true, force: true });
        }
      }
    });
  });
}
