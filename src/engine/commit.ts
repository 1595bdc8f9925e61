import type { Sql } from '../store/db.ts';
import type { Db } from '../store/db.ts';
import { inlineParams, insertNew, pgArray, upsertRows, type Column } from '../store/set-sql.ts';
import { commitSafety, keyIdOf } from './flows/safety.ts';
import type { Effects, Order, State, WaitEntry } from './state.ts';
import type { ChainedTransfer } from '../core/ledger-chain.ts';
import { commitMoney } from './flows/money-commit.ts';
import { commitCardPayoutEffects } from './flows/card-payout-store.ts';

/** A transfer's place in the hash chain; one that was never chained is a bug, and nothing is written. */
function chainOf(t: ChainedTransfer): [bigint, string] {
  if (t.n === undefined || t.hash === undefined)
    throw new Error(`ledger: transfer ${t.id} reached the commit without its chain hash`);
  return [t.n, t.hash];
}
import { commitCheckout } from './flows/checkout-store.ts';

const MERCHANT_COLUMNS: Column[] = [
  ['id', 'text'],
  ['network', 'text'],
  ['handle', 'text'],
  ['name', 'text'],
  ['webhook_url', 'text'],
  ['webhook_secret', 'text'],
  ['fee_bps', 'int'],
  ['created_at', 'bigint'],
  ['verified', 'boolean'],
  ['webhook_secret_previous', 'text'],
  ['webhook_previous_until', 'bigint'],
];
const OFFER_COLUMNS: Column[] = [
  ['id', 'text'],
  ['merchant_id', 'text'],
  ['title', 'text'],
  ['price_minor', 'bigint'],
  ['currency', 'text'],
  ['quantity', 'int'],
  ['available', 'int'],
  ['sold', 'int'],
  ['variants', 'text'],
  ['per_buyer_max', 'int'],
  ['hashtag', 'text'],
  ['window_ms', 'int'],
  ['starts_at', 'bigint'],
  ['ends_at', 'bigint'],
  ['status', 'text'],
  ['published_at', 'bigint'],
  ['created_at', 'bigint'],
  ['hashtag_posts', 'bigint'],
];
const SHOPPER_COLUMNS: Column[] = [
  ['id', 'text'],
  ['network', 'text'],
  ['account', 'text'],
  ['handle', 'text'],
  ['email', 'text'],
  ['shipping_address', 'text'],
  ['card_token', 'text'],
  ['card_brand', 'text'],
  ['card_last4', 'text'],
  ['purchase_limit_minor', 'bigint'],
  ['daily_limit_minor', 'bigint'],
  ['limit_currency', 'text'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
];
const ORDER_COLUMNS: Column[] = [
  ['id', 'text'],
  ['offer_id', 'text'],
  ['merchant_id', 'text'],
  ['shopper_id', 'text'],
  ['network', 'text'],
  ['handle', 'text'],
  ['variant', 'text'],
  ['quantity', 'int'],
  ['amount_minor', 'bigint'],
  ['fee_minor', 'bigint'],
  ['currency', 'text'],
  ['status', 'text'],
  ['code_hash', 'text'],
  ['expires_at', 'bigint'],
  ['created_at', 'bigint'],
  ['updated_at', 'bigint'],
  ['post_id', 'text'],
  ['shipping_address', 'text'],
  ['failure', 'text'],
  ['charge_id', 'text'],
  ['refunded_minor', 'bigint'],
  ['restocked', 'int'],
];
const WAIT_COLUMNS: Column[] = [
  ['id', 'text'],
  ['offer_id', 'text'],
  ['network', 'text'],
  ['handle', 'text'],
  ['variant', 'text'],
  ['quantity', 'int'],
  ['post_id', 'text'],
  ['joined_at', 'bigint'],
  ['seq', 'bigint'],
  ['status', 'text'],
];

/** One statement of a batch's commit and its parameters, as built when the batch was decided. */
export type Statement = readonly [text: string, params: readonly unknown[] | undefined];

/** The rows of balances the batch changed (from `Balances.entries`). */
export type BalanceRow = { account: string; currency: string; balance: bigint };

/**
 * Writes one batch's effects and the engine cursor in the caller's transaction: one statement per
 * table, whatever the batch size. Mutable entities are written once each, in their final state.
 */
export async function commitEffects(
  tx: Sql,
  fx: Effects,
  from: bigint,
  cursor: bigint,
  balanceRows: BalanceRow[],
  state?: State,
): Promise<void> {
  await commitPlan(tx, from, cursor, await planEffects(fx, balanceRows, state));
}

/**
 * Builds every statement that writes a batch's effects, touching no database: each writer below
 * "runs" against a recorder that keeps the statement and answers no rows (writers never read what a
 * statement returns). The engine calls this the moment a batch is decided, so the rows are a snapshot
 * of that batch: the next batch is decided while this one commits, and it changes the same objects in
 * place (an order confirmed, an offer's stock); serialized later, they would carry the next batch's
 * decisions under this batch's cursor, and a crash between the two commits would replay them twice.
 * Parameters must be values or fresh arrays, never an array the state keeps.
 */
export async function planEffects(
  fx: Effects,
  balanceRows: BalanceRow[],
  state?: State,
): Promise<Statement[]> {
  const statements: Statement[] = [];
  const recorder: Sql = {
    query: <T>(text: string, params?: unknown[]) => {
      statements.push([text, params]);
      return Promise.resolve({ rows: [] as T[] });
    },
  };
  await writeEffects(recorder, fx, balanceRows, state);
  return statements;
}

/** Moves the engine cursor from `from` to `cursor`, then runs a planned batch, in the caller's transaction. */
export async function commitPlan(
  tx: Sql,
  from: bigint,
  cursor: bigint,
  statements: readonly Statement[],
): Promise<void> {
  // First, and only if the cursor is still where this engine left it: a second engine (or a batch
  // written twice) fails here, before writing anything, and the row lock orders competing writers.
  const moved = await tx.query(
    `INSERT INTO cursors (name, value) VALUES ('engine', $1)
     ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE cursors.value = $2
     RETURNING name`,
    [cursor.toString(), from.toString()],
  );
  if (moved.rows.length === 0) {
    throw new Error(`engine: the log cursor is no longer ${from}; is another engine writing?`);
  }
  for (const [text, params] of statements) await tx.query(text, params as unknown[] | undefined);
}

/**
 * Commits a planned batch as commitPlan does, the cursor first, but as one script (Db.script): the
 * parameters written into the statements, so a server gets the whole transaction in one round trip
 * (the cursor, a dozen set-based statements, COMMIT were fourteen, a third of a loaded batch's
 * time). The cursor's check raises inside the script, so a second engine still writes nothing.
 */
export async function commitPlanScript(
  db: Db,
  from: bigint,
  cursor: bigint,
  statements: readonly Statement[],
): Promise<void> {
  const parts: string[] = new Array(statements.length + 1);
  parts[0] = `DO $cursor$BEGIN
    INSERT INTO cursors (name, value) VALUES ('engine', '${cursor}')
    ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE cursors.value = '${from}';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'engine: the log cursor is no longer ${from}; is another engine writing?';
    END IF;
  END$cursor$`;
  for (let i = 0; i < statements.length; i++) {
    const [text, params] = statements[i]!;
    parts[i + 1] = inlineParams(text, params);
  }
  await db.script(parts.join(';\n'));
}

async function writeEffects(
  tx: Sql,
  fx: Effects,
  balanceRows: BalanceRow[],
  state?: State,
): Promise<void> {
  await upsertRows(
    tx,
    'merchants',
    MERCHANT_COLUMNS,
    [...fx.merchants].map((m) => [
      m.id,
      m.network,
      m.handle,
      m.name,
      m.webhookUrl,
      m.webhookSecret,
      m.feeBps,
      m.createdAt,
      m.verified,
      m.webhookSecretPrevious,
      m.webhookPreviousUntil,
    ]),
    'id',
  );
  // Every handle of a changed merchant; a handle already written is left as it is.
  await insertNew(
    tx,
    'merchant_handles',
    [
      ['merchant_id', 'text'],
      ['network', 'text'],
      ['handle', 'text'],
    ],
    [...fx.merchants].flatMap((m) => m.alsoOn.map((h) => [m.id, h.network, h.handle])),
  );
  await insertNew(
    tx,
    'api_keys',
    [
      ['hash', 'text'],
      ['merchant_id', 'text'],
      ['created_at', 'bigint'],
      ['id', 'text'],
      ['name', 'text'],
      ['scopes', 'text'],
    ],
    fx.apiKeys.map((k) => [
      k.hash,
      k.merchantId,
      k.at,
      keyIdOf(k.hash),
      k.name ?? null,
      (k.scopes ?? ['read', 'write']).join(','),
    ]),
  );
  await commitSafety(tx, fx, state);
  if (fx.revokeKeys.length > 0) {
    await tx.query(
      `UPDATE api_keys k SET revoked_at = u.at
       FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(merchant_id, keep, at)
       WHERE k.merchant_id = u.merchant_id AND k.hash <> u.keep AND k.revoked_at IS NULL`,
      [
        fx.revokeKeys.map((r) => r.merchantId),
        fx.revokeKeys.map((r) => r.keep),
        fx.revokeKeys.map((r) => r.at),
      ],
    );
  }
  await upsertRows(
    tx,
    'offers',
    OFFER_COLUMNS,
    [...fx.offers].map((o) => [
      o.id,
      o.merchantId,
      o.title,
      o.priceMinor,
      o.currency,
      o.quantity,
      o.available,
      o.sold,
      JSON.stringify(o.variants),
      o.perBuyerMax,
      o.hashtag,
      o.windowMs,
      o.startsAt,
      o.endsAt,
      o.status,
      o.publishedAt,
      o.createdAt,
      o.hashtagPosts,
    ]),
    'id',
  );
  await upsertRows(
    tx,
    'shoppers',
    SHOPPER_COLUMNS,
    [...fx.shoppers].map((s) => [
      s.id,
      s.network,
      s.account,
      s.handle,
      s.email,
      JSON.stringify(s.shippingAddress),
      s.cardToken,
      s.cardBrand,
      s.cardLast4,
      s.purchaseLimitMinor,
      s.dailyLimitMinor,
      s.limitCurrency,
      s.createdAt,
      s.updatedAt,
    ]),
    'id',
  );
  // A handle added to a shopper; its key is unique, and the engine never gives one to two shoppers.
  await insertNew(
    tx,
    'shopper_handles',
    [
      ['network', 'text'],
      ['account', 'text'],
      ['shopper_id', 'text'],
      ['handle', 'text'],
      ['added_at', 'bigint'],
    ],
    fx.shopperHandles.map((a) => [
      a.handle.network,
      a.handle.account,
      a.shopperId,
      a.handle.handle,
      a.handle.addedAt,
    ]),
  );
  // Orders and waitlist entries new in this batch are plain inserts, the others upserts (Effects).
  const [newOrders, changedOrders] = splitNew(fx.orders, fx.newOrders);
  await upsertRows(tx, 'orders', ORDER_COLUMNS, newOrders.map(orderRow));
  await upsertRows(tx, 'orders', ORDER_COLUMNS, changedOrders.map(orderRow), 'id');
  const [newWaits, changedWaits] = splitNew(fx.waitlist, fx.newWaitlist);
  await upsertRows(tx, 'waitlist', WAIT_COLUMNS, newWaits.map(waitRow));
  await upsertRows(tx, 'waitlist', WAIT_COLUMNS, changedWaits.map(waitRow), 'id');
  await upsertRows(
    tx,
    'transfers',
    [
      ['id', 'text'],
      ['ref', 'text'],
      ['at', 'bigint'],
      ['n', 'bigint'],
      ['hash', 'text'],
    ],
    fx.transfers.map((t) => [t.id, t.ref, t.at, ...chainOf(t)]),
  );
  const postings = fx.transfers.flatMap((t) =>
    t.postings.map((p, n) => [t.id, n, p.from, p.to, p.minor, p.currency]),
  );
  await upsertRows(
    tx,
    'postings',
    [
      ['transfer_id', 'text'],
      ['n', 'smallint'],
      ['debit', 'text'],
      ['credit', 'text'],
      ['minor', 'bigint'],
      ['currency', 'text'],
    ],
    postings,
  );
  await commitCardPayoutEffects(tx, fx);
  await upsertRows(
    tx,
    'balances',
    [
      ['account', 'text'],
      ['currency', 'text'],
      ['balance', 'bigint'],
    ],
    balanceRows.map((b) => [b.account, b.currency, b.balance]),
    'account, currency',
  );
  await commitMoney(tx, fx.money);
  // A plain INSERT: the outbox has no unique key to skip on (0001-core.sql: a batch's rows are written
  // only with its cursor, so never twice), and ON CONFLICT costs Postgres a speculative insertion per
  // row (about 7 against 5.5 µs of server CPU per row, measured on the bench machine).
  // Each row is due from its batch's time, so a lane's pass (ordered by due time) takes new rows and
  // retries in the order they fell due (src/outbox/worker.ts).
  if (fx.outbox.length > 0) {
    const keys: string[] = new Array(fx.outbox.length);
    const kinds: string[] = new Array(fx.outbox.length);
    const bodies: string[] = new Array(fx.outbox.length);
    fx.outbox.forEach((o, i) => {
      keys[i] = o.key;
      kinds[i] = o.kind;
      bodies[i] = JSON.stringify(o.body);
    });
    await tx.query(
      `INSERT INTO outbox (key, kind, body, next_at)
       SELECT k, kd, b, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(k, kd, b)`,
      [pgArray(keys), pgArray(kinds), pgArray(bodies), fx.at],
    );
  }
  await commitCheckout(tx, fx.checkout);
  await insertNew(
    tx,
    'api_results',
    [
      ['key', 'text'],
      ['status', 'int'],
      ['body', 'text'],
    ],
    fx.apiResults.map((r) => [r.key, r.status, JSON.stringify(r.body)]),
  );
}

/** The entities of `all` created in this batch (in `created`), then the others. */
function splitNew<T>(all: ReadonlySet<T>, created: ReadonlySet<T>): [T[], T[]] {
  const fresh: T[] = [];
  const changed: T[] = [];
  for (const e of all) (created.has(e) ? fresh : changed).push(e);
  return [fresh, changed];
}

function orderRow(o: Order): unknown[] {
  return [
    o.id,
    o.offerId,
    o.merchantId,
    o.shopperId,
    o.network,
    o.handle,
    o.variant,
    o.quantity,
    o.amountMinor,
    o.feeMinor,
    o.currency,
    o.status,
    o.codeHash,
    o.expiresAt,
    o.createdAt,
    o.updatedAt,
    o.postId,
    o.shippingAddress === null ? null : JSON.stringify(o.shippingAddress),
    o.failure,
    o.chargeId,
    o.refundedMinor,
    o.restocked ?? 0,
  ];
}

function waitRow(w: WaitEntry): unknown[] {
  return [
    w.id,
    w.offerId,
    w.network,
    w.handle,
    w.variant,
    w.quantity,
    w.postId,
    w.joinedAt,
    w.seq,
    w.status,
  ];
}
