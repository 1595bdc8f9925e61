import type { Logger } from 'pino';
import type { Clock, InputLog } from '../engine/log.ts';
import type { Db, Sql } from '../store/db.ts';

/**
 * What every network connector is: it reads its network (a firehose, a stream, a poll), turns posts
 * into normalized post events, appends them to the input log with its resume cursor in the same
 * transaction, reconnects with backoff, and reports its health.
 */
export interface Connector {
  readonly network: string;
  /** Starts reading in the background; resolves once the first connection is attempted. */
  start(): Promise<void>;
  /** Stops reading and closes connections. */
  stop(): Promise<void>;
  health(): ConnectorHealth;
}

export interface ConnectorHealth {
  network: string;
  state: 'starting' | 'live' | 'backoff' | 'stopped';
  /** When the last event arrived (ms since the epoch), or null. */
  lastEventAt: number | null;
  cursor: string | null;
  events: number;
  reconnects: number;
  rateLimitWaits: number;
  lastError: string | null;
}

/** What a connector is given by the composition root. */
export interface ConnectorDeps {
  db: Db;
  log: InputLog;
  clock: Clock;
  logger: Logger;
  /** The hashtags of live offers, lower case: connectors that subscribe per hashtag follow it. */
  liveHashtags(): string[];
}

/** A connector's saved resume position (`cursors` table), or null before its first event. */
export async function loadCursor(db: Sql, name: string): Promise<string | null> {
  const { rows } = await db.query<{ value: string }>('SELECT value FROM cursors WHERE name = $1', [
    name,
  ]);
  return rows[0]?.value ?? null;
}

/** Saves a connector's cursor; called inside the transaction that appends its events. */
export async function saveCursor(tx: Sql, name: string, value: string): Promise<void> {
  await tx.query(
    'INSERT INTO cursors (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    [name, value],
  );
}

/** Exponential backoff with full jitter (AWS's "Exponential Backoff and Jitter"), between min and max. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  /** The next delay; each failure doubles the ceiling. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** this.attempt++);
    return Math.round(this.minMs + this.random() * (ceiling - this.minMs));
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * A token bucket per account for outgoing posts: `capacity` posts at once, refilled at `perSecond`.
 * `take` answers how long to wait before the next post may go out (0: now).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  take(now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}
