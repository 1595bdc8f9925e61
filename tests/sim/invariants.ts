import type { AppContext } from '../../src/app-context.ts';
import { big, num, type Db, type Sql } from '../../src/store/db.ts';

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
/** The shopper's side of an order or a payment: card, wallet, and the holds that reserve the wallet. */
const SHOPPER_SIDE = (who: string) =>
  `(p.debit IN ('funding:' || ${who}, 'wallet:' || ${who}, 'holds:pending'))`;
const SHOPPER_SIDE_IN = (who: string) =>
  `(p.credit IN ('funding:' || ${who}, 'wallet:' || ${who}, 'holds:pending'))`;
/**
 * Every posting with the order, payment, top-up, credit or gift card it belongs to: a hold's transfers
 * name the hold, whose row names what it reserved for.
 */
const LEDGER = `SELECT coalesce(hd.ref, t.ref) AS ref, t.id AS tid, p.debit, p.credit, p.minor
  FROM transfers t JOIN postings p ON p.transfer_id = t.id LEFT JOIN holds hd ON hd.id = t.ref
  WHERE {ledger}`;

/** The wallet part of each order paid partly from the wallet: its hold, posted to the card's side. */
const WALLET_PART = `SELECT h.ref, sum(h.minor) AS minor FROM holds h
  JOIN hold_resolutions r ON r.hold_id = h.id AND r.kind = 'post'
  WHERE h.debit LIKE 'wallet:%' {holds} GROUP BY h.ref`;

/**
 * A check is the rows that break an invariant. `{ids}` is where the check is scoped: to every row
 * (a full check), or to the rows the step wrote (incremental: ids written since the last check,
 * recorded by the simulator's triggers, see `trackWrites`). `$1` is then the array of those ids.
 */
interface Check {
  invariant: string;
  sql: string;
  /** Only at the end of a run. */
  final?: boolean;
  /** Cheap whatever the history (a few rows per account): never scoped. */
  global?: boolean;
}

const CHECKS: Check[] = [
  {
    // The ledger's first law: per currency, every balance sums to zero. One row per account.
    invariant: 'ledger_zero_sum',
    global: true,
    sql: `SELECT currency, sum(balance)::text AS sum FROM balances GROUP BY currency HAVING sum(balance) <> 0`,
  },
  {
    // Stored value is never negative, nor what the holds reserve.
    invariant: 'wallet_never_negative',
    global: true,
    sql: `SELECT account, currency, balance::text FROM balances
          WHERE (account LIKE 'wallet:%' OR account IN ('holds:pending', 'liability:gift_cards')) AND balance < 0`,
  },
  {
    // No unit is held or sold twice: units available plus units in orders never exceed the stock.
    invariant: 'no_oversold',
    sql: `SELECT o.id, o.quantity, o.available, o.sold, coalesce(h.held, 0) AS held, coalesce(h.out, 0) AS out
          FROM offers o LEFT JOIN (
            SELECT offer_id, sum(quantity) AS held,
                   sum(quantity) FILTER (WHERE status IN ('paid','refunding')) AS out
            FROM orders WHERE status IN ${HELD} AND {ids:offer_id} GROUP BY offer_id) h ON h.offer_id = o.id
          WHERE {ids:o.id} AND (o.available < 0 OR o.sold < 0 OR o.available + coalesce(h.held, 0) > o.quantity
             OR o.sold < coalesce(h.out, 0))`,
  },
  {
    // One order (or payment, or top-up), one charge at the processor: a second charge under any
    // key is a double charge.
    invariant: 'charged_twice',
    sql: `SELECT split_part(idem_key, ':', 1) AS ref, count(*)::int AS charges
          FROM sandbox_charges WHERE {ids:split_part(idem_key, ':', 1)} GROUP BY 1 HAVING count(*) > 1`,
  },
  {
    // Every paid (or refunded) order has exactly one captured charge, the one it names, of what the
    // wallet did not pay; an order the wallet paid whole has none.
    invariant: 'paid_one_capture',
    sql: `SELECT o.id, o.status, o.charge_id, c.id AS charge, c.status AS charge_status,
                 coalesce(w.minor, 0)::text AS wallet
          FROM orders o LEFT JOIN sandbox_charges c ON c.idem_key = o.id || ':charge'
          LEFT JOIN (${WALLET_PART.replace('{holds}', 'AND {ids:h.ref}')}) w ON w.ref = o.id
          WHERE {ids:o.id} AND o.status IN ('paid','refunding','refunded')
            AND CASE WHEN o.charge_id = 'wallet'
                  THEN c.id IS NOT NULL AND c.status = 'captured' OR coalesce(w.minor, 0) <> o.amount_minor
                  ELSE c.id IS NULL OR c.status <> 'captured' OR o.charge_id IS DISTINCT FROM c.id
                    OR c.amount_minor <> o.amount_minor - coalesce(w.minor, 0) OR c.currency <> o.currency END`,
  },
  {
    // Money taken means an order that is (being) paid: never a capture behind a failed order.
    invariant: 'capture_without_order',
    sql: `SELECT c.idem_key, o.status, o.failure FROM sandbox_charges c
          LEFT JOIN orders o ON o.id = split_part(c.idem_key, ':', 1)
          WHERE {ids:split_part(c.idem_key, ':', 1)} AND c.status = 'captured' AND c.idem_key LIKE 'ord\\_%'
            AND (o.id IS NULL OR o.status NOT IN ('charging','paid','refunding','refunded'))`,
  },
  {
    // The processor's refunds and the orders agree. Refunds go to the card first, up to what the
    // card paid, the rest to the wallet: a settled order's card refunds are the processor's; one
    // being refunded has at most its amount back.
    invariant: 'refund_matches_order',
    sql: `SELECT o.id, o.status, o.refunded_minor::text AS order_refunded,
                 c.refunded_minor::text AS processor_refunded, c.amount_minor::text AS amount
          FROM orders o JOIN sandbox_charges c ON c.idem_key = o.id || ':charge'
          WHERE {ids:o.id} AND o.charge_id = c.id AND (
                (o.status IN ('paid', 'refunded') AND c.refunded_minor <> least(o.refunded_minor, c.amount_minor))
             OR (o.status = 'refunded' AND o.refunded_minor <> o.amount_minor)
             OR c.refunded_minor < least(o.refunded_minor, c.amount_minor) OR c.refunded_minor > c.amount_minor)`,
  },
  {
    // A confirmation code belongs to one checkout.
    invariant: 'code_once',
    sql: `SELECT code_hash, count(*)::int AS orders FROM orders
          WHERE code_hash IN (SELECT code_hash FROM orders WHERE {ids:id} AND code_hash IS NOT NULL)
          GROUP BY code_hash HAVING count(*) > 1`,
  },
  {
    // The ledger tells the orders' story: a paid order took its amount from the shopper's card and
    // wallet less what was refunded, a refunded one gave it all back, any other took nothing.
    invariant: 'ledger_matches_orders',
    sql: `SELECT o.id, o.status, o.amount_minor::text AS amount, coalesce(x.net, 0)::text AS ledger
          FROM orders o LEFT JOIN (
            SELECT p.ref,
                   sum(CASE WHEN ${SHOPPER_SIDE('o2.shopper_id')} THEN p.minor ELSE 0 END
                     - CASE WHEN ${SHOPPER_SIDE_IN('o2.shopper_id')} THEN p.minor ELSE 0 END) AS net
            FROM (${LEDGER}) p JOIN orders o2 ON o2.id = p.ref GROUP BY p.ref) x ON x.ref = o.id
          WHERE {ids:o.id}
            AND coalesce(x.net, 0) <> CASE WHEN o.status IN ('paid','refunding') THEN o.amount_minor - o.refunded_minor ELSE 0 END`,
  },
  {
    // Money to a handle moves once: a completed payment took its amount from the payer's side (card,
    // wallet, holds) and gave it to the recipient's wallet; any other (a claim still held, a claim
    // returned, an expired or failed payment) moved nothing out of the payer's side. A claim is so
    // paid or returned exactly once.
    invariant: 'payment_once',
    sql: `SELECT h.id, h.status, h.amount_minor::text AS amount, coalesce(x.out, 0)::text AS payer_out,
                 coalesce(x.got, 0)::text AS recipient_got
          FROM handle_payments h LEFT JOIN (
            SELECT p.ref,
                   sum(CASE WHEN ${SHOPPER_SIDE('hp.payer_id')} THEN p.minor ELSE 0 END
                     - CASE WHEN ${SHOPPER_SIDE_IN('hp.payer_id')} THEN p.minor ELSE 0 END) AS out,
                   sum(CASE WHEN p.credit = 'wallet:' || hp.recipient_id THEN p.minor ELSE 0 END
                     - CASE WHEN p.debit = 'wallet:' || hp.recipient_id THEN p.minor ELSE 0 END) AS got
            FROM (${LEDGER}) p JOIN handle_payments hp ON hp.id = p.ref GROUP BY p.ref) x ON x.ref = h.id
          WHERE {ids:h.id} AND (
                coalesce(x.out, 0) <> CASE WHEN h.status = 'completed' THEN h.amount_minor ELSE 0 END
             OR coalesce(x.got, 0) <> CASE WHEN h.status = 'completed' THEN h.amount_minor ELSE 0 END
             OR (h.status = 'pending_claim' AND NOT EXISTS (
                   SELECT 1 FROM holds hd WHERE hd.id = h.hold_id
                     AND NOT EXISTS (SELECT 1 FROM hold_resolutions r WHERE r.hold_id = hd.id))))`,
  },
  {
    // A payment's card part is charged once and kept only by a payment that went ahead.
    invariant: 'payment_one_capture',
    sql: `SELECT h.id, h.status, h.card_minor::text AS card, c.amount_minor::text AS charged, c.status AS charge_status
          FROM handle_payments h LEFT JOIN sandbox_charges c ON c.idem_key = h.id || ':charge'
          WHERE {ids:h.id} AND (
                (h.status IN ('completed', 'pending_claim', 'returned') AND h.card_minor > 0
                 AND (c.id IS NULL OR c.status <> 'captured' OR c.amount_minor <> h.card_minor))
             OR (c.status = 'captured' AND c.refunded_minor < c.amount_minor
                 AND h.status NOT IN ('charging', 'completed', 'pending_claim', 'returned')))`,
  },
  {
    // A top-up puts in the wallet what the card was charged, once; a failed one puts nothing.
    invariant: 'top_up_once',
    sql: `SELECT w.id, w.status, w.amount_minor::text AS amount, coalesce(x.got, 0)::text AS wallet_got,
                 c.status AS charge_status
          FROM wallet_ops w LEFT JOIN sandbox_charges c ON c.idem_key = w.id || ':charge'
          LEFT JOIN (
            SELECT p.ref, sum(CASE WHEN p.credit LIKE 'wallet:%' THEN p.minor ELSE 0 END
                            - CASE WHEN p.debit LIKE 'wallet:%' THEN p.minor ELSE 0 END) AS got
            FROM (${LEDGER}) p GROUP BY p.ref) x ON x.ref = w.id
          WHERE {ids:w.id} AND w.kind = 'top_up' AND (
                coalesce(x.got, 0) <> CASE WHEN w.status = 'succeeded' THEN w.amount_minor ELSE 0 END
             OR (w.status = 'succeeded' AND (c.status IS DISTINCT FROM 'captured' OR c.amount_minor <> w.amount_minor)))`,
  },
  {
    // A card-linked offer credits a card once per card transaction: a credit stands as one transfer
    // from the merchant to the shopper's card, a reversed one is undone by exactly one more.
    invariant: 'credit_once',
    sql: `SELECT k.id, k.txn_id, k.status, k.credit_minor::text AS credit, coalesce(x.net, 0)::text AS ledger,
                 coalesce(x.n, 0) AS transfers
          FROM card_credits k LEFT JOIN (
            SELECT p.ref, count(DISTINCT p.tid) AS n,
                   sum(CASE WHEN p.credit LIKE 'funding:%' THEN p.minor ELSE 0 END
                     - CASE WHEN p.debit LIKE 'funding:%' THEN p.minor ELSE 0 END) AS net
            FROM (${LEDGER}) p GROUP BY p.ref) x
            ON x.ref = k.id
          WHERE {ids:k.id} AND (
                coalesce(x.net, 0) <> CASE WHEN k.status = 'credited' THEN k.credit_minor ELSE 0 END
             OR coalesce(x.n, 0) <> CASE WHEN k.status = 'credited' THEN 1 ELSE 2 END)`,
  },
  {
    // A gift card is redeemed into one wallet at most once, for its value.
    invariant: 'gift_card_once',
    sql: `SELECT g.id, g.redeemed_by, g.value_minor::text AS value, coalesce(x.got, 0)::text AS wallet_got
          FROM gift_cards g LEFT JOIN (
            SELECT p.ref, sum(CASE WHEN p.credit LIKE 'wallet:%' THEN p.minor ELSE 0 END) AS got
            FROM (${LEDGER}) p GROUP BY p.ref) x
            ON x.ref = g.id
          WHERE {ids:g.id}
            AND coalesce(x.got, 0) <> CASE WHEN g.redeemed_by IS NULL THEN 0 ELSE g.value_minor END`,
  },
  {
    // Liveness at the end, with the clock days ahead and no faults: nothing is left half-way.
    invariant: 'nothing_unfinished',
    final: true,
    sql: `SELECT id, status FROM orders WHERE status IN ${UNFINISHED}
          UNION ALL SELECT id, status FROM handle_payments WHERE status IN ('awaiting_confirmation', 'charging', 'pending_claim')
          UNION ALL SELECT id, status FROM wallet_ops WHERE status = 'pending'`,
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

/** Which rows a check looks at: all of them, or those with the given ids (written since the last check). */
export type Scope = { kind: 'full'; final: boolean } | { kind: 'written'; ids: string[] };

function scoped(sql: string, scope: Scope): string {
  // The transfers of the rows written, and of their holds; one array, so the index on ref serves it.
  sql = sql.replace(
    '{ledger}',
    scope.kind === 'full'
      ? 'TRUE'
      : 't.ref = ANY($1::text[] || ARRAY(SELECT id FROM holds WHERE ref = ANY($1::text[])))',
  );
  return sql.replace(/\{ids:([^}]+)\}/g, (_, column: string) =>
    scope.kind === 'full' ? 'TRUE' : `${column} = ANY($1::text[])`,
  );
}

/**
 * Runs the checks on `db` (never the crashing connection). A full scope checks every row, and with
 * `final` adds the end-of-run ones; a `written` scope checks only the rows with those ids (and the
 * per-account ones, which are small whatever the history), so a step's check costs what the step wrote.
 */
export async function checkInvariants(
  db: Sql,
  app: AppContext | null,
  scopeOrFinal: Scope | boolean,
): Promise<Finding[]> {
  const scope: Scope =
    typeof scopeOrFinal === 'boolean' ? { kind: 'full', final: scopeOrFinal } : scopeOrFinal;
  const findings: Finding[] = [];
  for (const check of CHECKS) {
    if (check.final && !(scope.kind === 'full' && scope.final)) continue;
    if (scope.kind === 'written' && !check.global && scope.ids.length === 0) continue;
    const params = scope.kind === 'written' && !check.global ? [scope.ids] : [];
    const { rows } = await db.query(`${scoped(check.sql, scope)} LIMIT 5`, params);
    if (rows.length > 0)
      findings.push({ invariant: check.invariant, detail: JSON.stringify(rows, jsonSafe) });
  }
  if (app !== null) {
    // The engine's memory and its tables agree once everything is committed.
    const { rows } = await db.query<{ id: string; available: unknown; sold: unknown }>(
      scope.kind === 'full'
        ? "SELECT id, available, sold FROM offers WHERE status <> 'ended'"
        : "SELECT id, available, sold FROM offers WHERE status <> 'ended' AND id = ANY($1::text[])",
      scope.kind === 'full' ? [] : [scope.ids],
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

/**
 * Records the id of every row written to the tables the checks read, in `sim_written`, so a step's
 * check can look at what the step changed only (the simulator's own database; a rolled-back
 * transaction takes its records with it). Indexes let the scoped checks find those rows by id.
 */
export async function trackWrites(db: Db): Promise<void> {
  const tables: [table: string, ids: string][] = [
    ['orders', `(NEW.id), (NEW.offer_id)`],
    ['offers', `(NEW.id)`],
    ['sandbox_charges', `(split_part(NEW.idem_key, ':', 1))`],
    ['transfers', `(NEW.ref)`],
    ['holds', `(NEW.ref)`],
    ['hold_resolutions', `((SELECT ref FROM holds WHERE id = NEW.hold_id))`],
    ['handle_payments', `(NEW.id)`],
    ['wallet_ops', `(NEW.id)`],
    ['card_credits', `(NEW.id)`],
    ['gift_cards', `(NEW.id)`],
  ];
  let script = `CREATE UNLOGGED TABLE sim_written (id text NOT NULL);
    CREATE INDEX sim_orders_offer ON orders (offer_id);
    CREATE INDEX sim_orders_code ON orders (code_hash) WHERE code_hash IS NOT NULL;
    CREATE INDEX sim_charges_ref ON sandbox_charges ((split_part(idem_key, ':', 1)));
    CREATE INDEX sim_holds_ref ON holds (ref);\n`;
  for (const [table, ids] of tables) {
    script += `CREATE FUNCTION sim_written_${table}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO sim_written (id) VALUES ${ids}; RETURN NULL; END $$;
      CREATE TRIGGER sim_written AFTER INSERT OR UPDATE ON ${table}
        FOR EACH ROW EXECUTE FUNCTION sim_written_${table}();\n`;
  }
  await db.exec(script);
}

/** The ids written since the last call, and forgets them. */
export async function takeWritten(db: Sql): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('DELETE FROM sim_written RETURNING id');
  return [...new Set(rows.map((r) => r.id))];
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
