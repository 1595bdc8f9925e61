import { Serial } from '../core/serial.ts';
import type { Db, Sql } from '../store/db.ts';
import { num } from '../store/db.ts';
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

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
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
    return this.serial.run(async () => {
      const at = this.clock.now();
      const result = await this.db.transaction(async (tx) => {
        if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7262)');
        const seqs = await insertEvents(tx, events, at);
        if (alsoIn) await alsoIn(tx);
        return seqs;
      });
      const added = events.filter((_, i) => result[i] !== null);
      if (added.length > 0) for (const l of this.listeners) l(added);
      return result;
    });
  }

  /** Runs `fn` with appends held back, for a connector that reads its source inside the log's order. */
  appendWith<T>(fn: (append: (tx: Sql, events: NewEvent[]) => Promise<(bigint | null)[]>) => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      const added: NewEvent[] = [];
      const at = this.clock.now();
      const result = await fn(async (tx, events) => {
        if (this.db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7262)');
        const seqs = await insertEvents(tx, events, at);
        added.push(...events.filter((_, i) => seqs[i] !== null));
        return seqs;
      });
      if (added.length > 0) for (const l of this.listeners) l(added);
      return result;
    });
  }

  async read(after: bigint, limit: number): Promise<LogEntry[]> {
    const { rows } = await this.db.query<{ seq: unknown; key: string; at: unknown; body: string }>(
      'SELECT seq, key, at, body FROM log WHERE seq > $1 ORDER BY seq LIMIT $2',
      [after.toString(), limit],
    );
    return rows.map((r) => ({ seq: BigInt(r.seq as string), key: r.key, at: num(r.at), body: JSON.parse(r.body) }));
  }

  async findByKey(key: string): Promise<LogEntry | null> {
    const { rows } = await this.db.query<{ seq: unknown; key: string; at: unknown; body: string }>(
      'SELECT seq, key, at, body FROM log WHERE key = $1',
      [key],
    );
    const r = rows[0];
    return r ? { seq: BigInt(r.seq as string), key: r.key, at: num(r.at), body: JSON.parse(r.body) } : null;
  }
}

async function insertEvents(tx: Sql, events: NewEvent[], at: number): Promise<(bigint | null)[]> {
  if (events.length === 0) return [];
  const { rows } = await tx.query<{ seq: unknown; key: string }>(
    `INSERT INTO log (key, kind, at, body)
     SELECT k, kind, $3, b FROM unnest($1::text[], $2::text[], $4::text[]) AS u(k, kind, b)
     ON CONFLICT (key) DO NOTHING RETURNING seq, key`,
    [events.map((e) => e.key), events.map((e) => e.body.kind), at, events.map((e) => JSON.stringify(e.body))],
  );
  const byKey = new Map(rows.map((r) => [r.key, BigInt(r.seq as string)]));
  // A key repeated inside one append is a duplicate too: only its first occurrence gets the row.
  return events.map((e) => {
    const seq = byKey.get(e.key) ?? null;
    byKey.delete(e.key);
    return seq;
  });
}
