import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { AppContext } from '../src/app-context.ts';
import { loadConfig } from '../src/config/env.ts';
import { CONFIRM_WINDOW_MS_DEFAULT } from '../src/core/limits.ts';
import type { ApiCommand } from '../src/engine/events.ts';
import type { NewEvent } from '../src/engine/log.ts';
import { dropSchema, openPglite, openPostgres, type Db } from '../src/store/db.ts';

export const POSTGRES_URL =
  process.env.TAGPAY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const APPEND_CHUNK = 5_000;

export type Storage = 'pglite' | 'postgres';

/** One row of bench/results/latest.json. Every figure is measured in the run that writes it. */
export interface ScenarioResult {
  scenario: string;
  ops_per_s: number;
  baseline_ops_per_s?: number;
  p50_ms?: number;
  p99_ms?: number;
  oversold?: number;
  rss_mb: number;
  [extra: string]: unknown;
}

export function machine() {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
  };
}

export function rssMb(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

/** CPU time so far, in ms: this process's, and every local `postgres` process's (null if none is seen). */
export interface CpuSample {
  node: number;
  postgres: number | null;
}

/**
 * Reads the CPU time of this process and of the Postgres server's processes on this machine (from
 * /proc: utime + stime of each process named `postgres`, in clock ticks of 10 ms). A Postgres on
 * another machine, or PGlite (in this process), gives null for Postgres. Backends that exit between
 * two samples take their time with them: scenarios sample while their pool is open.
 */
export function cpuSample(): CpuSample {
  let ticks = 0;
  let seen = false;
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // exited since the listing
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
      seen = true;
    }
  } catch {
    // no /proc: not Linux
  }
  const usage = process.cpuUsage();
  return { node: (usage.user + usage.system) / 1000, postgres: seen ? ticks * 10 : null };
}

/**
 * CPU microseconds per operation over timed phases (each a pair of samples), Node's and the Postgres
 * server's; on PGlite (`storage`), Postgres runs inside Node and its figure is null.
 */
export function cpuPerOp(phases: readonly [CpuSample, CpuSample][], ops: number, storage: Storage) {
  const us = (ms: number) => Math.round((ms * 1000 * 10) / ops) / 10;
  let node = 0;
  let postgres: number | null = storage === 'postgres' ? 0 : null;
  for (const [from, to] of phases) {
    node += to.node - from.node;
    postgres =
      postgres === null || from.postgres === null || to.postgres === null
        ? null
        : postgres + to.postgres - from.postgres;
  }
  return {
    node_cpu_us_per_op: us(node),
    postgres_cpu_us_per_op: postgres === null ? null : us(postgres),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function openDb(storage: Storage): Promise<{ db: Db; drop: () => Promise<void> }> {
  if (storage === 'pglite') {
    // A folder on disk, as `tagpay start` uses (./data): in memory, PGlite grows each file by
    // copying it (Emscripten's MEMFS), a cost the embedded default never pays.
    const dir = await mkdtemp(join(tmpdir(), 'tagpay-bench-'));
    const db = await openPglite(dir);
    return {
      db,
      drop: async () => {
        await db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  const db = await openPostgres(POSTGRES_URL, schema, 20);
  return { db, drop: () => dropSchema(POSTGRES_URL, schema) };
}

/**
 * A tagpay app on a fresh database with no background loops: each scenario runs exactly the stages it
 * times. Durability is as shipped: Postgres with fsync and synchronous_commit on, PGlite as it is.
 */
export async function openBenchApp(storage: Storage) {
  const { db, drop } = await openDb(storage);
  const config = loadConfig({
    TAGPAY_ADMIN_KEY: 'ak_bench_admin_key_0123456789',
    TAGPAY_DEMO: '0',
    // The bench's shoppers share the test cards and buy at once after linking: velocity per card
    // and the first-spend step-up would stop them (the checks still run).
    TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
    TAGPAY_CARD_DAILY_MAX: '0',
    TAGPAY_ANOMALY_STEP_UP: '0',
  });
  const app = await AppContext.fromConfig(config, { db, logger: pino({ level: 'warn' }) });
  const command = async (key: string, cmd: ApiCommand) => {
    await app.log.append([
      { key, body: { kind: 'api', principal: 'admin', requestHash: key, command: cmd } },
    ]);
    await app.engine.drain();
    const { rows } = await db.query<{ body: string }>(
      'SELECT body FROM api_results WHERE key = $1',
      [key],
    );
    return JSON.parse(rows[0]!.body) as { id: string };
  };
  const append = async (events: NewEvent[]) => {
    for (let i = 0; i < events.length; i += APPEND_CHUNK)
      await app.log.append(events.slice(i, i + APPEND_CHUNK));
  };
  /** A merchant and one live offer of `quantity` units at $25. */
  const offer = async (quantity: number, hashtag = 'BuyTee') => {
    const merchantId = (
      await command(`api:admin:m-${hashtag}`, {
        op: 'merchant.create',
        network: 'local',
        handle: `m${hashtag.toLowerCase()}`,
        name: 'Bench',
        webhookUrl: null,
        webhookSecret: 'whsec_x',
        keyHash: `x${hashtag}`,
        feeBps: null,
      })
    ).id;
    return (
      await command(`api:admin:o-${hashtag}`, {
        op: 'offer.create',
        merchantId,
        title: 'Tee',
        priceMinor: '2500',
        currency: 'USD',
        quantity,
        hashtag,
        variants: [],
        perBuyerMax: null,
        windowMs: CONFIRM_WINDOW_MS_DEFAULT,
        startsAt: null,
        endsAt: null,
        publish: true,
      })
    ).id;
  };
  /** Links handles u0 … u(n-1) to one test card. */
  const linkShoppers = async (n: number) => {
    const card = await app.processor.tokenize({
      number: '4242424242424242',
      exp_month: 12,
      exp_year: 2035,
      cvc: '123',
    });
    await append(
      Array.from(
        { length: n },
        (_, i) =>
          ({
            key: `api:admin:link-u${i}`,
            body: {
              kind: 'api',
              principal: 'admin',
              requestHash: `u${i}`,
              command: linkCommand(`u${i}`, card),
            },
          }) as NewEvent,
      ),
    );
    await app.engine.drain();
    return card.id;
  };
  const close = async () => {
    await app.close();
    await drop();
  };
  return { app, db, command, append, offer, linkShoppers, close };
}

/** A post event as a connector would append it. */
export function postEvent(id: string, author: string, text: string): NewEvent {
  return {
    key: `post:local:${id}`,
    body: { kind: 'post', network: 'local', postId: id, author, text, replyTo: null },
  };
}

/**
 * Runs the engine as production does (batches back to back, waking on appends) while `work` runs,
 * then until the log is decided and committed. Ingestion and deciding overlap, as they do live.
 */
export async function withEngine<T>(app: AppContext, work: () => Promise<T>): Promise<T> {
  let done = false;
  let wake: () => void = () => {};
  let woken = false;
  app.log.onAppend(() => {
    woken = true;
    wake();
  });
  const loop = (async () => {
    for (;;) {
      // Only a batch that started after `work` finished can say the log is done: one that started
      // before may have looked just before the last append landed.
      const finishing = done;
      woken = false;
      if ((await app.engine.runBatch()) > 0) continue;
      if (finishing) return;
      if (woken) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 5);
      });
    }
  })();
  try {
    return await work();
  } finally {
    done = true;
    wake();
    await loop;
  }
}

/** The command that links bench handle `handle` to a card (the same shopper in every scenario). */
export function linkCommand(
  handle: string,
  card: { id: string; brand: string; last4: string },
): Extract<ApiCommand, { op: 'shopper.link' }> {
  return {
    op: 'shopper.link',
    network: 'local',
    account: handle,
    handle,
    email: `${handle}@example.com`,
    shippingAddress: {
      name: handle,
      line1: '1 Main St',
      city: 'Springfield',
      postal_code: '12345',
      country: 'US',
    },
    cardToken: card.id,
    cardBrand: card.brand,
    cardLast4: card.last4,
    purchaseLimitMinor: null,
    dailyLimitMinor: null,
    limitCurrency: null,
  };
}
