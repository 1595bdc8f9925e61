import type { Logger } from 'pino';
import { BATCH_EVENTS_MAX } from '../core/limits.ts';
import { Serial } from '../core/serial.ts';
import type { Db } from '../store/db.ts';
import { commitPlanScript, planEffects, type Statement } from './commit.ts';
import { decide, nextDeadline, ordersNeeded, type DecideContext } from './decide.ts';
import type { InputLog } from './log.ts';
import { loadState, orderFromRow } from './load.ts';
import { chainTransfers } from '../core/ledger-chain.ts';
import { paymentFromRow } from './flows/checkout-store.ts';
import { Effects, type ApiResult, type State } from './state.ts';

export interface BatchStats {
  events: number;
  /** Deciding and committing the batch. */
  ms: number;
  /** Of which deciding it in memory (the pure functions, the ledger chain). */
  decideMs: number;
  /** Building its statements: rows encoded as array literals (see planEffects). */
  planMs: number;
  /** Its database transaction, from asking for a connection to COMMIT answered. */
  writeMs: number;
  /** Waiting for the batch before it to commit (the pipeline is one batch deep). */
  waitMs: number;
  /** The log position committed with the batch. */
  lastSeq: bigint;
}

/**
 * The single writer. It reads the input log after its cursor in batches, decides each event with the
 * pure functions of decide.ts, and commits the batch's effects together with the new cursor in one
 * transaction. If a commit fails, the in-memory state may be ahead of the database, so it is rebuilt
 * from the database before the next batch.
 */
export class Engine {
  private readonly serial = new Serial();
  private readonly waiters = new Map<string, ((r: ApiResult) => void)[]>();
  private readonly batchListeners: ((stats: BatchStats) => void)[] = [];
  /** The last log position decided in memory; `cursor` is the last committed. */
  private decidedTo: bigint;
  private inflight: Promise<void> | null = null;

  private constructor(
    private readonly db: Db,
    private readonly log: InputLog,
    private readonly ctx: DecideContext,
    private readonly logger: Logger,
    private state: State,
    private cursor: bigint,
    private readonly batchMax: number,
  ) {
    this.decidedTo = cursor;
  }

  static async open(
    db: Db,
    log: InputLog,
    ctx: DecideContext,
    logger: Logger,
    batchMax = BATCH_EVENTS_MAX,
  ) {
    const { state, cursor } = await loadState(db);
    logger.info(
      { cursor: cursor.toString(), activeOrders: state.activeOrders.size },
      'engine state loaded',
    );
    return new Engine(db, log, ctx, logger, state, cursor, batchMax);
  }

  get position(): bigint {
    return this.cursor;
  }

  /** Read-only view for metrics and tests. */
  get view(): State {
    return this.state;
  }

  /** The earliest checkout deadline, for the clock's tick. */
  nextDeadline(): number | null {
    return nextDeadline(this.state);
  }

  onBatch(listener: (stats: BatchStats) => void): void {
    this.batchListeners.push(listener);
  }

  /**
   * Decides one batch and starts its commit; resolves to the number of events it took (0 when caught
   * up, after every commit has finished). Commits are pipelined one deep: batch N+1 is decided in
   * memory while batch N is being written, and is committed only after N, so the database and the
   * decisions run side by side. If a commit fails, every decision after the last committed batch is
   * dropped with the state rebuilt from the database, and the error is thrown.
   */
  runBatch(): Promise<number> {
    return this.serial.run(async () => {
      const from = this.decidedTo;
      const entries = await this.log.read(from, this.batchMax);
      if (entries.length === 0) {
        await this.settleInflight();
        return 0;
      }
      const started = performance.now();
      const fx = new Effects();
      const last = entries[entries.length - 1]!.seq;
      for (const entry of entries) if (entry.at > fx.at) fx.at = entry.at;
      let plan: Statement[];
      let decided: number;
      try {
        if (entries.some((e) => ordersNeeded(e) !== null)) {
          // What a prefetch reads must include the batch in flight.
          await this.settleInflight();
          await this.prefetch(entries);
        }
        for (const entry of entries) decide(this.state, entry, fx, this.ctx);
        // Every transfer of the batch, whichever flow made it, is chained here in log order.
        chainTransfers(this.state.chain, fx.transfers);
        // Assert before writing: the ledger sums to zero per currency (read back at every load).
        this.state.balances.assertZeroSum();
        const balanceRows = this.state.balances.entries(this.state.balances.dirty);
        this.state.balances.dirty.clear();
        this.state.fetched.clear();
        this.state.checkout.fetched.clear();
        decided = performance.now();
        // Built now, before the next batch is decided and changes the same objects (see planEffects).
        plan = await planEffects(fx, balanceRows, this.state);
      } catch (error) {
        // The batch before may still be committing: let it finish (or fail) before the state is
        // rebuilt, or the rebuild could read the tables and the cursor from either side of it.
        await this.settleInflight().catch(() => {});
        await this.recover(error, entries[0]!.seq);
        throw error;
      }
      this.decidedTo = last;
      const planned = performance.now();
      await this.settleInflight();
      const times = {
        started,
        decideMs: decided - started,
        planMs: planned - decided,
        waitMs: performance.now() - planned,
      };
      this.inflight = this.commit(fx, plan, from, last, entries.length, times);
      return entries.length;
    });
  }

  private async commit(
    fx: Effects,
    plan: Statement[],
    from: bigint,
    last: bigint,
    events: number,
    times: { started: number; decideMs: number; planMs: number; waitMs: number },
  ): Promise<void> {
    const writing = performance.now();
    await commitPlanScript(this.db, from, last, plan);
    this.cursor = last;
    const now = performance.now();
    const { started, ...phases } = times;
    const stats = { events, ms: now - started, writeMs: now - writing, lastSeq: last, ...phases };
    for (const l of this.batchListeners) l(stats);
    for (const result of fx.apiResults) {
      const list = this.waiters.get(result.key);
      if (list) {
        this.waiters.delete(result.key);
        for (const resolve of list) resolve(result);
      }
    }
  }

  /** Waits until every decided batch is committed (before a shutdown). */
  flush(): Promise<void> {
    return this.serial.run(() => this.settleInflight());
  }

  /** Waits for the commit in flight; if it failed, rebuilds the state and throws its error. */
  private async settleInflight(): Promise<void> {
    const inflight = this.inflight;
    if (inflight === null) return;
    this.inflight = null;
    try {
      await inflight;
    } catch (error) {
      await this.recover(error, this.cursor + 1n);
      throw error;
    }
  }

  private async recover(error: unknown, from: bigint): Promise<void> {
    this.logger.error({ err: error, from: from.toString() }, 'batch failed; rebuilding state');
    this.inflight = null;
    const loaded = await loadState(this.db);
    this.state = loaded.state;
    this.cursor = loaded.cursor;
    this.decidedTo = loaded.cursor;
  }

  /** Reads the settled orders the batch names (refunds) into `state.fetched`, before deciding. */
  private async prefetch(entries: readonly Parameters<typeof ordersNeeded>[0][]): Promise<void> {
    const ids = new Set<string>();
    for (const entry of entries) {
      const id = ordersNeeded(entry);
      if (id !== null && !this.state.activeOrders.has(id)) ids.add(id);
    }
    if (ids.size === 0) return;
    const payments = [...ids].filter((id) => id.startsWith('pay_'));
    const orders = [...ids].filter((id) => !id.startsWith('pay_'));
    if (orders.length > 0) {
      const { rows } = await this.db.query('SELECT * FROM orders WHERE id = ANY($1::text[])', [
        orders,
      ]);
      for (const row of rows) this.state.fetched.set(row.id as string, orderFromRow(row));
    }
    if (payments.length > 0) {
      const { rows } = await this.db.query('SELECT * FROM payments WHERE id = ANY($1::text[])', [
        payments,
      ]);
      const c = this.state.checkout;
      // One still in memory (its code not exchanged yet) is the one the engine holds.
      for (const row of rows)
        if (!c.payments.has(row.id as string)) c.fetched.set(row.id as string, paymentFromRow(row));
    }
  }

  /** Runs batches until the log is caught up. */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.runBatch(); n > 0; n = await this.runBatch()) total += n;
    return total;
  }

  /**
   * Resolves with the engine's answer to an API command once its batch is committed. Registers first,
   * then looks in the database, so an answer committed in between is never missed.
   */
  async awaitResult(key: string, timeoutMs: number): Promise<ApiResult | null> {
    let resolveFn!: (r: ApiResult | null) => void;
    const promise = new Promise<ApiResult | null>((resolve) => (resolveFn = resolve));
    const list = this.waiters.get(key) ?? [];
    list.push(resolveFn);
    this.waiters.set(key, list);
    const timer = setTimeout(() => resolveFn(null), timeoutMs);
    const { rows } = await this.db.query<{ status: number; body: string }>(
      'SELECT status, body FROM api_results WHERE key = $1',
      [key],
    );
    if (rows[0]) resolveFn({ key, status: rows[0].status, body: JSON.parse(rows[0].body) });
    const result = await promise;
    clearTimeout(timer);
    const left = this.waiters.get(key)?.filter((fn) => fn !== resolveFn);
    if (left && left.length > 0) this.waiters.set(key, left);
    else this.waiters.delete(key);
    return result;
  }
}
