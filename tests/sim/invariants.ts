import type { AppContext } from '../../src/app-context.ts';
import { big, num, type Sql } from '../../src/store/db.ts';

/**
 * The invariants the simulator and the crash test check, read from the database (tagpay's tables and
 * the sandbox processor's, which stand for the card network's records). Each query returns the rows
 * that break its invariant; none may return any. They are set-based, so a check costs a few scans
 * however many orders there are.
 */

export interface Finding {
  invariant: string;
  detail: string;
}

/** An acknowledged API write: the answer the client got, and the row it created or changed. */
export interface Acked {
  key: string;
  status: number;
  table: 'merchants' | 'offers' | 'shoppers' | 'orders';
  id: string;
}

const HELD = "('awaiting_signup','awaiting_confirmation','charging','paid','refunding')";
const UNFINISHED = "('awaiting_signup','awaiting_confirmation','charging','refunding')";

const CHECKS: { invariant: string; sql: string; final?: boolean }[] = [
  {
    // The ledger's first law: per currency, every balance sums to zero.
    invariant: 'ledger_zero_sum',
    sql: `SELECT currency, sum(balance)::text AS sum FROM balances GROUP BY currency HAVING sum(balance) <> 0`,
  },
  {
    // No unit is held or sold twice: units available plus units in orders never exceed the stock.
    invariant: 'no_oversold',
    sql: `SELECT o.id, o.quantity, o.available, o.sold, coalesce(h.held, 0) AS held, coalesce(h.out, 0) AS out
          FROM offers o LEFT JOIN (
            SELECT offer_id, sum(quantity) AS held,
                   sum(quantity) FILTER (WHERE status IN ('paid','refunding')) AS out
            FROM orders WHERE status IN ${HELD} GROUP BY offer_id) h ON h.offer_id = o.id
          WHERE o.available < 0 OR o.sold < 0 OR o.available + coalesce(h.held, 0) > o.quantity
             OR o.sold < coalesce(h.out, 0)`,
  },
  {
    // One order, one charge at the processor: a second charge under any key is a double charge.
    invariant: 'charged_twice',
    sql: `SELECT split_part(idem_key, ':', 1) AS order_id, count(*)::int AS charges
          FROM sandbox_charges GROUP BY 1 HAVING count(*) > 1`,
  },
  {
    // Every paid (or refunded) order has exactly one captured charge of its amount, the one it names.
    invariant: 'paid_one_capture',
    sql: `SELECT o.id, o.status, o.charge_id, c.id AS charge, c.status AS charge_status
          FROM orders o LEFT JOIN sandbox_charges c ON c.idem_key = o.id || ':charge'
          WHERE o.status IN ('paid','refunding','refunded')
            AND (c.id IS NULL OR c.status <> 'captured' OR o.charge_id IS DISTINCT FROM c.id
                 OR c.amount_minor <> o.amount_minor OR c.currency <> o.currency)`,
  },
  {
    // Money taken means an order that is (being) paid: never a capture behind a failed order.
    invariant: 'capture_without_order',
    sql: `SELECT c.idem_key, o.status, o.failure FROM sandbox_charges c
          LEFT JOIN orders o ON o.id = split_part(c.idem_key, ':', 1)
          WHERE c.status = 'captured'
            AND (o.id IS NULL OR o.status NOT IN ('charging','paid','refunding','refunded'))`,
  },
  {
    // The processor's refunds and the orders agree: a settled order's refunds are the processor's
    // (partial refunds included); one being refunded has at most its amount back.
    invariant: 'refund_matches_order',
    sql: `SELECT o.id, o.status, o.refunded_minor::text AS order_refunded,
                 c.refunded_minor::text AS processor_refunded, c.amount_minor::text AS amount
          FROM orders o JOIN sandbox_charges c ON c.idem_key = o.id || ':charge'
          WHERE (o.status IN ('paid', 'refunded') AND c.refunded_minor <> o.refunded_minor)
             OR (o.status = 'refunded' AND o.refunded_minor <> o.amount_minor)
             OR c.refunded_minor < o.refunded_minor OR c.refunded_minor > c.amount_minor`,
  },
  {
    // A confirmation code belongs to one checkout.
    invariant: 'code_once',
    sql: `SELECT code_hash, count(*)::int AS orders FROM orders
          WHERE code_hash IS NOT NULL GROUP BY code_hash HAVING count(*) > 1`,
  },
  {
    // The ledger tells the orders' story: a paid order took its amount from the shopper's funding
    // account less what was refunded, a refunded one gave it all back, any other took nothing.
    invariant: 'ledger_matches_orders',
    sql: `SELECT o.id, o.status, o.amount_minor::text AS amount, coalesce(x.net, 0)::text AS ledger
          FROM orders o LEFT JOIN (
            SELECT t.ref, sum(CASE WHEN p.debit LIKE 'funding:%' THEN p.minor ELSE 0 END
                            - CASE WHEN p.credit LIKE 'funding:%' THEN p.minor ELSE 0 END) AS net
            FROM transfers t JOIN postings p ON p.transfer_id = t.id GROUP BY t.ref) x ON x.ref = o.id
          WHERE coalesce(x.net, 0) <> CASE WHEN o.status IN ('paid','refunding') THEN o.amount_minor - o.refunded_minor ELSE 0 END`,
  },
  {
    // Liveness at the end, with the clock days ahead and no faults: nothing is left half-way.
    invariant: 'nothing_unfinished',
    final: true,
    sql: `SELECT id, status FROM orders WHERE status IN ${UNFINISHED}`,
  },
  {
    invariant: 'outbox_delivered',
    final: true,
    sql: `SELECT id, key, kind, attempts, last_error FROM outbox WHERE status = 0`,
  },
  {
    // The balances are the postings, summed.
    invariant: 'balances_are_postings',
    final: true,
    sql: `SELECT coalesce(b.account, p.account) AS account, b.balance::text AS stored, p.b::text AS recomputed
          FROM balances b FULL JOIN (
            SELECT account, currency, sum(d) AS b FROM (
              SELECT credit AS account, currency, minor AS d FROM postings
              UNION ALL SELECT debit, currency, -minor FROM postings) x GROUP BY account, currency) p
          ON p.account = b.account AND p.currency = b.currency
          WHERE b.balance IS DISTINCT FROM p.b`,
  },
];

/** Runs every check on `db` (never the crashing connection); `final` adds the end-of-run ones. */
export async function checkInvariants(
  db: Sql,
  app: AppContext | null,
  final: boolean,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const check of CHECKS) {
    if (check.final && !final) continue;
    const { rows } = await db.query(`${check.sql} LIMIT 5`);
    if (rows.length > 0)
      findings.push({ invariant: check.invariant, detail: JSON.stringify(rows, jsonSafe) });
  }
  if (app !== null) {
    // The engine's memory and its tables agree once everything is committed.
    const { rows } = await db.query<{ id: string; available: unknown; sold: unknown }>(
      "SELECT id, available, sold FROM offers WHERE status <> 'ended'",
    );
    for (const row of rows) {
      const offer = app.engine.view.offers.get(row.id);
      if (
        offer === undefined ||
        offer.available !== num(row.available) ||
        offer.sold !== num(row.sold)
      ) {
        findings.push({
          invariant: 'engine_matches_db',
          detail: `offer ${row.id}: db ${row.available}/${row.sold}, engine ${offer?.available}/${offer?.sold}`,
        });
        break;
      }
    }
  }
  return findings;
}

/** Every acknowledged write is still there: its answer, and the row it made. */
export async function checkAcked(db: Sql, acked: Acked[]): Promise<Finding[]> {
  if (acked.length === 0) return [];
  const findings: Finding[] = [];
  const { rows } = await db.query<{ key: string; status: number }>(
    'SELECT key, status FROM api_results WHERE key = ANY($1::text[])',
    [acked.map((a) => a.key)],
  );
  const answers = new Map(rows.map((r) => [r.key, Number(r.status)]));
  for (const a of acked) {
    if (answers.get(a.key) !== a.status) {
      findings.push({
        invariant: 'acked_write_present',
        detail: `${a.key} answered ${a.status}, now ${answers.get(a.key) ?? 'missing'}`,
      });
      return findings;
    }
  }
  for (const table of ['merchants', 'offers', 'shoppers', 'orders'] as const) {
    const ids = acked.filter((a) => a.table === table).map((a) => a.id);
    if (ids.length === 0) continue;
    const found = await db.query<{ n: unknown }>(
      `SELECT count(DISTINCT id) AS n FROM ${table} WHERE id = ANY($1::text[])`,
      [ids],
    );
    const want = new Set(ids).size;
    if (num(found.rows[0]!.n) !== want)
      findings.push({
        invariant: 'acked_write_present',
        detail: `${table}: ${want} acknowledged, ${num(found.rows[0]!.n)} present`,
      });
  }
  return findings;
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? big(value).toString() : value;
}
