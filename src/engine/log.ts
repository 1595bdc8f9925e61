import { LOG_GROUP_EVENTS_MAX, LOG_TAIL_EVENTS_MAX } from '../core/limits.ts';
import { Serial } from '../core/serial.ts';
import type { Db, Sql } from '../store/db.ts';
import { num } from '../store/db.ts';
import { inlineParams, pgArray } from '../store/set-sql.ts';
import type { EventBody, LogEntry } from './events.ts';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface NewEvent {
  key: string;
  body: EventBody;
}

/**
 * The one ordered, durable input log. Appends are serialized, so log order is commit order and the
 * engine's cursor never skips a row; on Postgres an advisory lock extends that to other processes.
 * A duplicate key is dropped at the door: `append` answers null for it.
 */
export class InputLog {
  private readonly serial = new Serial();
  private readonly listeners: ((added: NewEvent[]) => void)[] = [];
  /**
   * The log's newest entries as appended by this process, so the engine reads what it was just handed
   * without a round trip and a JSON parse. Every entry with `seq > coveredFrom` is in it; when another
   * process appends (seen as a max seq we did not write), coverage restarts after that point and the
   * engine reads the gap from the database.
   */
  private tail: LogEntry[] = [];
  private tailHead = 0;
  private coveredFrom: bigint | null = null;
  private knownMax: bigint | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly tailMax = LOG_TAIL_EVENTS_MAX,
  ) {}

  /** Called after every append that added rows, with the events added: wakes the engine. */
  onAppend(listener: (added: NewEvent[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Appends events in one transaction; `alsoIn` runs in that same transaction (a connector saves its
   * resume cursor there). Returns each event's sequence number, or null where the key was already in.
   */
  append(events: NewEvent[], alsoIn?: (tx: Sql) => Promise<void>): Promise<(bigint | null)[]> {
    if (alsoIn !== undefined) return this.appendAlone(events, alsoIn);
    return new Promise((resolve, reject) => {
      this.queued.push({ events, resolve, reject });
      void this.appendQueued();
    });
  }

  /** Appends waiting for the one in flight; the next transaction takes them all (group commit). */
  private readonly queued: {
    events: NewEvent[];
    resolve: (seqs: (bigint | null)[]) => void;
    reject: (error: unknown) => void;
  }[] = [];

  private appendAlone(
    events: NewEvent[],
    alsoIn?: (tx: Sql) => Promise<void>,
  ): Promise<(bigint | null)[]> {
    return this.appendWith((append) =>
      this.db.transaction(async (tx) => {
        const seqs = await append(tx, events);
        if (alsoIn) await alsoIn(tx);
        return seqs;
      }),
    );
  }

  /**
   * Group commit: every append that queued while the one before was committing goes into the next
   * transaction together (up to LOG_GROUP_EVENTS_MAX events), so the log pays one commit and one fsync
   * for them instead of one each, and an append waits for at most one commit in front of it. Each
   * append still answers only once its events are committed, with its own sequence numbers (a key
   * repeated across them is taken once, by the first, as sequential appends would). If the group's
   * transaction fails, each append of it is tried again alone, so one bad append fails only itself.
   */
  private async appendQueued(): Promise<void> {
    let group: typeof this.queued = [];
    let seqs: (bigint | null)[] = [];
    try {
      await this.serial.run(async () => {
        let events = 0;
        let take = 0;
        while (
          take < this.queued.length &&
          (take === 0 || events + this.queued[take]!.events.length <= LOG_GROUP_EVENTS_MAX)
        )
          events += this.queued[take++]!.events.length;
        group = this.queued.splice(0, take);
        if (group.length === 0) return;
        const all = group.length === 1 ? group[0]!.events : group.flatMap((q) => q.events);
        const at = this.clock.now();
        const written = await this.appendScript(all, at);
        seqs = written.seqs;
        this.settle([written]);
      });
    } catch (error) {
      if (group.length === 1) group[0]!.reject(error);
      else for (const q of group) this.appendAlone(q.events).then(q.resolve, q.reject);
      return;
    }
    // Answered after the entries are in the tail and the engine woken, as a lone append is.
    let at = 0;
    for (const q of group) {
      q.resolve(seqs.slice(at, at + q.events.length));
      at += q.events.length;
    }
  }

  /**
   * A group's transaction as one script (Db.script): on Postgres the lock, the log's max and the
   * insert go in one round trip, committed with it, where BEGIN, each statement and COMMIT took one
   * each (five). Each statement of a script reads after the one before, so the max is read under the
   * lock, as in appendWith.
   */
  private async appendScript(
    events: NewEvent[],
    at: number,
  ): Promise<{ prevMax: bigint; entries: LogEntry[]; seqs: (bigint | null)[] }> {
    const parts: string[] = [];
    if (this.db.kind === 'postgres') parts.push('SELECT pg_advisory_xact_lock(7262)');
    parts.push('SELECT coalesce(max(seq), 0)::text AS m FROM log');
    if (events.length > 0) parts.push(inlineParams(INSERT_EVENTS, insertParams(events, at)));
    const results = await this.db.script(parts.join(';\n'));
    const max = results[parts.length - (events.length > 0 ? 2 : 1)]!.rows[0]!.m as string;
    const rows = events.length > 0 ? results[parts.length - 1]!.rows : [];
    const seqs = seqsOf(events, rows as { seq: unknown; key: string }[]);
    return { prevMax: BigInt(max), entries: entriesOf(events, seqs, at), seqs };
  }

  /** Takes committed appends into the tail and wakes the engine. */
  private settle(written: readonly { prevMax: bigint; entries: LogEntry[] }[]): void {
    const added: NewEvent[] = [];
    for (const { prevMax, entries } of written) {
      this.remember(prevMax, entries);
      for (const e of entries) added.push({ key: e.key, body: e.body });
    }
    if (added.length > 0) for (const l of this.listeners) l(added);
  }

  /**
   * Runs `fn` with appends held back, for a connector that reads its source inside the log's order;
   * `fn` calls `append` inside its own transaction, and the entries count once `fn` has resolved.
   */
  appendWith<T>(
    fn: (append: (tx: Sql, events: NewEvent[]) => Promise<(bigint | null)[]>) => Promise<T>,
  ): Promise<T> {
    return this.serial.run(async () => {
      const written: { prevMax: bigint; entries: LogEntry[] }[] = [];
      const at = this.clock.now();
      const result = await fn(async (tx, events) => {
        if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7262)');
        const max = (
          await tx.query<{ m: string }>('SELECT coalesce(max(seq), 0)::text AS m FROM log')
        ).rows[0]!.m;
        const seqs = await insertEvents(tx, events, at);
        written.push({ prevMax: BigInt(max), entries: entriesOf(events, seqs, at) });
        return seqs;
      });
      this.settle(written);
      return result;
    });
  }

  private remember(prevMax: bigint, entries: LogEntry[]): void {
    if (this.knownMax !== prevMax) {
      // Someone else appended (or this is our first append): coverage starts after what is there now.
      this.tail = [];
      this.tailHead = 0;
      this.coveredFrom = prevMax;
    }
    for (const e of entries) this.tail.push(e);
    this.knownMax = entries.length > 0 ? entries[entries.length - 1]!.seq : prevMax;
    while (this.tail.length - this.tailHead > this.tailMax)
      this.coveredFrom = this.tail[this.tailHead++]!.seq;
    if (this.tailHead > 4096 && this.tailHead * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailHead);
      this.tailHead = 0;
    }
  }

  /**
   * Caught up with this process's appends: has another process (`tagpay import-transactions`, a second
   * API server) appended since? Then the tail is dropped and reads go to the database until this
   * process appends again. Only Postgres can be shared between processes; PGlite never asks.
   */
  private async appendedElsewhere(): Promise<boolean> {
    if (this.db.kind !== 'postgres' || this.knownMax === null) return false;
    const { rows } = await this.db.query<{ m: string }>(
      'SELECT coalesce(max(seq), 0)::text AS m FROM log',
    );
    if (BigInt(rows[0]!.m) <= this.knownMax) return false;
    this.tail = [];
    this.tailHead = 0;
    this.coveredFrom = null;
    // The next append of this process starts its coverage afresh (see remember).
    this.knownMax = null;
    return true;
  }

  async read(after: bigint, limit: number): Promise<LogEntry[]> {
    if (this.coveredFrom !== null && after >= this.coveredFrom) {
      // Entries up to `after` are decided: the tail no longer needs them.
      while (this.tailHead < this.tail.length && this.tail[this.tailHead]!.seq <= after) {
        this.coveredFrom = this.tail[this.tailHead++]!.seq;
      }
      const slice = this.tail.slice(this.tailHead, this.tailHead + limit);
      if (slice.length > 0) return slice;
      // An append of this process may finish while the database answers: the tail is looked at again
      // after the await, or that append's wake-up would find the engine about to sleep with nothing.
      if (!(await this.appendedElsewhere())) {
        const again = this.tailAfter(after, limit);
        if (again !== null) return again;
      }
    }
    const { rows } = await this.db.query<{ seq: unknown; key: string; at: unknown; body: string }>(
      'SELECT seq, key, at, body FROM log WHERE seq > $1 ORDER BY seq LIMIT $2',
      [after.toString(), limit],
    );
    return rows.map((r) => ({
      seq: BigInt(r.seq as string),
      key: r.key,
      at: num(r.at),
      body: JSON.parse(r.body),
    }));
  }

  /** The tail's entries after `after`, or null if the tail does not cover them (see read). */
  private tailAfter(after: bigint, limit: number): LogEntry[] | null {
    if (this.coveredFrom === null || after < this.coveredFrom) return null;
    let i = this.tailHead;
    while (i < this.tail.length && this.tail[i]!.seq <= after) i++;
    return this.tail.slice(i, i + limit);
  }

  async findByKey(key: string): Promise<LogEntry | null> {
    const { rows } = await this.db.query<{ seq: unknown; key: string; at: unknown; body: string }>(
      'SELECT seq, key, at, body FROM log WHERE key = $1',
      [key],
    );
    const r = rows[0];
    return r
      ? { seq: BigInt(r.seq as string), key: r.key, at: num(r.at), body: JSON.parse(r.body) }
      : null;
  }
}

const INSERT_EVENTS = `INSERT INTO log (key, kind, at, body)
     SELECT k, kind, $3, b FROM unnest($1::text[], $2::text[], $4::text[]) AS u(k, kind, b)
     ON CONFLICT (key) DO NOTHING RETURNING seq, key`;

function insertParams(events: NewEvent[], at: number): unknown[] {
  return [
    pgArray(events.map((e) => e.key)),
    pgArray(events.map((e) => e.body.kind)),
    at,
    pgArray(events.map((e) => JSON.stringify(e.body))),
  ];
}

async function insertEvents(tx: Sql, events: NewEvent[], at: number): Promise<(bigint | null)[]> {
  if (events.length === 0) return [];
  const { rows } = await tx.query<{ seq: unknown; key: string }>(
    INSERT_EVENTS,
    insertParams(events, at),
  );
  return seqsOf(events, rows);
}

/** Each event's sequence number from the insert's rows, null for a key already in the log. */
function seqsOf(
  events: NewEvent[],
  rows: readonly { seq: unknown; key: string }[],
): (bigint | null)[] {
  const byKey = new Map(rows.map((r) => [r.key, BigInt(r.seq as string)]));
  // A key repeated inside one append is a duplicate too: only its first occurrence gets the row.
  return events.map((e) => {
    const seq = byKey.get(e.key) ?? null;
    byKey.delete(e.key);
    return seq;
  });
}

function entriesOf(events: NewEvent[], seqs: (bigint | null)[], at: number): LogEntry[] {
  const entries: LogEntry[] = [];
  seqs.forEach((seq, i) => {
    if (seq !== null) entries.push({ seq, key: events[i]!.key, at, body: events[i]!.body });
  });
  return entries;
}
