import { randomBytes } from 'node:crypto';
import { hashCode, newCode } from '../../src/core/codes.ts';
import { migrate } from '../../src/store/migrations.ts';
import type { Sql } from '../../src/store/db.ts';
import { openDb, type Storage } from '../support.ts';

const random = (n: number) => new Uint8Array(randomBytes(n));

/**
 * The baseline: the same purchase as the engine's, written the way a straightforward service would —
 * one database transaction per step (buy post, confirmation post, charge result), one statement per
 * row, row locks on the offer. Same tables, same durability. Returns confirmed purchases per second.
 */
export async function naivePurchases(storage: Storage, n: number): Promise<number> {
  const { db, drop } = await openDb(storage);
  try {
    await migrate(db);
    await db.query(
      "INSERT INTO merchants (id, network, handle, name, webhook_secret, created_at) VALUES ('mer_1', 'local', 'acme', 'Acme', 'x', 0)",
    );
    await db.query(
      `INSERT INTO offers (id, merchant_id, title, price_minor, currency, quantity, available, sold, variants, hashtag, window_ms, starts_at, status, created_at)
      VALUES ('ofr_1', 'mer_1', 'Tee', 2500, 'USD', $1, $1, 0, '[]', 'BuyTee', 900000, 0, 'live', 0)`,
      [n],
    );
    await db.query(
      "INSERT INTO sandbox_tokens (id, brand, last4, exp_month, exp_year, behavior, created_at) VALUES ('tok_1', 'visa', '4242', 12, 2035, 'success', 0)",
    );
    const step = (fn: (tx: Sql) => Promise<void>) => db.transaction(fn);
    const codes: string[] = [];
    let seq = 0;
    const started = performance.now();
    for (let i = 0; i < n; i++) {
      const code = newCode(random);
      codes.push(code);
      await step(async (tx) => {
        await tx.query("INSERT INTO log (key, kind, at, body) VALUES ($1, 'post', 0, '{}')", [
          `post:b${i}`,
        ]);
        const offer = (
          await tx.query<{ available: number }>(
            "SELECT available FROM offers WHERE id = 'ofr_1' FOR UPDATE",
          )
        ).rows[0]!;
        if (offer.available < 1) throw new Error('sold out');
        await tx.query("UPDATE offers SET available = available - 1 WHERE id = 'ofr_1'");
        await tx.query(
          `INSERT INTO orders (id, offer_id, merchant_id, network, handle, quantity, amount_minor, fee_minor, currency, status, code_hash, expires_at, created_at, updated_at, post_id)
          VALUES ($1, 'ofr_1', 'mer_1', 'local', $2, 1, 2500, 62, 'USD', 'awaiting_confirmation', $3, 0, 0, 0, $4)`,
          [`ord_${i}`, `u${i}`, hashCode(code), `b${i}`],
        );
        await tx.query("INSERT INTO outbox (key, kind, body) VALUES ($1, 'post', $2)", [
          `reply:b${i}`,
          JSON.stringify({ text: code }),
        ]);
        await tx.query("INSERT INTO outbox (key, kind, body) VALUES ($1, 'email', $2)", [
          `email:b${i}`,
          JSON.stringify({ text: code }),
        ]);
        await tx.query(
          "INSERT INTO cursors (name, value) VALUES ('naive', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          [String(++seq)],
        );
      });
    }
    for (let i = 0; i < n; i++) {
      await step(async (tx) => {
        await tx.query("INSERT INTO log (key, kind, at, body) VALUES ($1, 'post', 0, '{}')", [
          `post:c${i}`,
        ]);
        const order = (
          await tx.query<{ id: string }>(
            "SELECT id FROM orders WHERE code_hash = $1 AND status = 'awaiting_confirmation' FOR UPDATE",
            [hashCode(codes[i]!)],
          )
        ).rows[0]!;
        await tx.query("UPDATE orders SET status = 'charging' WHERE id = $1", [order.id]);
        await tx.query("INSERT INTO outbox (key, kind, body) VALUES ($1, 'charge', '{}')", [
          `charge:${order.id}`,
        ]);
        await tx.query(
          "INSERT INTO cursors (name, value) VALUES ('naive', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          [String(++seq)],
        );
      });
      await db.query(
        "INSERT INTO sandbox_charges (id, idem_key, token, amount_minor, currency, status, created_at) VALUES ($1, $2, 'tok_1', 2500, 'USD', 'authorized', 0)",
        [`ch_${i}`, `ord_${i}:charge`],
      );
      await db.query("UPDATE sandbox_charges SET status = 'captured' WHERE id = $1", [`ch_${i}`]);
      await step(async (tx) => {
        await tx.query(
          "INSERT INTO log (key, kind, at, body) VALUES ($1, 'charge_result', 0, '{}')",
          [`charge:ord_${i}`],
        );
        await tx.query('UPDATE outbox SET status = 1 WHERE key = $1', [`charge:ord_${i}`]);
        await tx.query("UPDATE orders SET status = 'paid', charge_id = $2 WHERE id = $1", [
          `ord_${i}`,
          `ch_${i}`,
        ]);
        await tx.query("UPDATE offers SET sold = sold + 1 WHERE id = 'ofr_1'");
        await tx.query('INSERT INTO transfers (id, ref, at) VALUES ($1, $2, 0)', [
          `trf_${i}`,
          `ord_${i}`,
        ]);
        await tx.query(
          "INSERT INTO postings (transfer_id, n, debit, credit, minor, currency) VALUES ($1, 0, $2, 'payable:mer_1', 2438, 'USD')",
          [`trf_${i}`, `funding:u${i}`],
        );
        await tx.query(
          "INSERT INTO postings (transfer_id, n, debit, credit, minor, currency) VALUES ($1, 1, $2, 'fees:platform', 62, 'USD')",
          [`trf_${i}`, `funding:u${i}`],
        );
        for (const [account, delta] of [
          [`funding:u${i}`, -2500],
          ['payable:mer_1', 2438],
          ['fees:platform', 62],
        ] as const) {
          await tx.query(
            `INSERT INTO balances (account, currency, balance) VALUES ($1, 'USD', $2)
            ON CONFLICT (account, currency) DO UPDATE SET balance = balances.balance + excluded.balance`,
            [account, delta],
          );
        }
        await tx.query("INSERT INTO outbox (key, kind, body) VALUES ($1, 'post', '{}')", [
          `paid:${i}`,
        ]);
        await tx.query("INSERT INTO outbox (key, kind, body) VALUES ($1, 'email', '{}')", [
          `receipt:${i}`,
        ]);
        await tx.query(
          "INSERT INTO cursors (name, value) VALUES ('naive', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
          [String(++seq)],
        );
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const sum = (await db.query<{ s: string }>('SELECT sum(balance)::text AS s FROM balances'))
      .rows[0]!.s;
    if (sum !== '0') throw new Error(`naive: ledger sums to ${sum}`);
    return Math.round(n / seconds);
  } finally {
    await db.close();
    await drop();
  }
}
