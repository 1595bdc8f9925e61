import { createServer, type IncomingMessage } from 'node:http';
import { after } from 'node:test';
import type { AddressInfo } from 'node:net';
import { AppContext, createLogger } from '../../src/app-context.ts';
import { loadConfig } from '../../src/config/env.ts';
import type { RandomBytes } from '../../src/core/codes.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { dropSchema, openPglite, openPostgres, type Db } from '../../src/store/db.ts';

export const POSTGRES_URL =
  process.env.TAGPAY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const ADMIN_KEY = 'ak_test_admin_key_0123456789abcdef';
export const START_MS = Date.parse('2026-11-26T12:00:00Z');

/** The storages every whole-service test runs on: PGlite always, the machine's Postgres too. */
export function storages(): ('pglite' | 'postgres')[] {
  return process.env.TAGPAY_TEST_SKIP_POSTGRES === '1' ? ['pglite'] : ['pglite', 'postgres'];
}

export class ManualClock {
  constructor(public ms = START_MS) {}
  now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** Seeded randomness (SplitMix64), so a failing run replays with the seed it printed. */
export function seededRandom(seed: bigint): RandomBytes {
  let state = seed;
  return (count) => {
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i += 8) {
      state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
      z ^= z >> 31n;
      for (let b = 0; b < 8 && i + b < count; b++)
        out[i + b] = Number((z >> BigInt(8 * b)) & 0xffn);
    }
    return out;
  };
}

export interface Harness {
  app: AppContext;
  clock: ManualClock;
  storage: 'pglite' | 'postgres';
  request(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  /** Restarts tagpay on the same database (a new process, as far as tagpay can tell). */
  restart(opts?: { outboxPaused?: boolean }): Promise<void>;
  close(): Promise<void>;
}

let schemaCounter = 0;
let pglite: Promise<Db> | null = null;

/** Harnesses and receivers opened by the file's tests and not closed yet. */
const stillOpen = new Set<{ close(): Promise<void> }>();

// A failed assertion skips the rest of its test, and with it the test's own close (an afterEach that
// asserts before it closes skips the close too): whatever is still open is closed once the file's
// tests are done, so a failure ends the file instead of leaving an engine, its timers and a database
// open, which hung CI once (tests/tenant-isolation.test.ts). PGlite keeps a 10-second timer alive:
// the shared instance is closed last, so the test process exits at once.
after(async () => {
  for (const resource of [...stillOpen]) await resource.close().catch(() => {});
  if (pglite) await (await pglite).close();
  pglite = null;
});

/**
 * One in-memory PGlite per test process (creating one takes seconds), a fresh schema in it per
 * harness: PGlite has one connection, so `SET search_path` holds for everything the harness runs.
 */
async function pgliteSchema(schema: string): Promise<Db> {
  pglite ??= openPglite(null);
  const db = await pglite;
  await db.exec(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
  return db;
}

export async function openHarness(
  storage: 'pglite' | 'postgres',
  opts: { seed?: bigint; env?: Record<string, string>; logTo?: (line: string) => void } = {},
): Promise<Harness> {
  const seed = opts.seed ?? BigInt(Math.floor(Math.random() * 2 ** 48));
  const clock = new ManualClock();
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${schemaCounter++}`;
  // PGlite in memory cannot be reopened, so a restart keeps the same PGlite instance open underneath.
  let shared: Db | null = storage === 'pglite' ? await pgliteSchema(schema) : null;
  const openDb = async (): Promise<Db> => {
    if (shared) {
      const db = shared;
      return { ...db, close: async () => {}, [Symbol.asyncDispose]: async () => {} };
    }
    return openPostgres(POSTGRES_URL, schema, 4);
  };
  const config = loadConfig({
    TAGPAY_ADMIN_KEY: ADMIN_KEY,
    TAGPAY_PUBLIC_URL: 'http://tagpay.test',
    TAGPAY_DEMO: '0',
    // The tests' webhook receivers listen on loopback; the SSRF guard itself is tested on its own.
    TAGPAY_WEBHOOK_ALLOW_PRIVATE: '1',
    // Tests send hundreds of requests a second with one key; the limiter is tested on its own.
    TAGPAY_RATE_LIMIT_PER_S: '0',
    // The world's shoppers share test cards and buy right after linking; the fraud controls that
    // this would trip are tested on their own (tests/fraud.test.ts turns them on).
    TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
    TAGPAY_CARD_DAILY_MAX: '0',
    TAGPAY_ANOMALY_STEP_UP: '0',
    ...opts.env,
  });
  const logger = opts.logTo
    ? createLogger('trace', opts.logTo)
    : createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const random = seededRandom(seed);
  const make = async () => {
    const app = await AppContext.fromConfig(config, { clock, random, db: await openDb(), logger });
    await app.ensureAdminKey();
    return app;
  };
  let app = await make();
  let http = createHttpApp(app);
  app.start();
  const h: Harness = {
    get app() {
      return app;
    },
    clock,
    storage,
    async request(method, path, body, token, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
      if (token) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
      const res = await http.request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed };
    },
    async restart(o = {}) {
      await app.close();
      app = await make();
      if (o.outboxPaused) app.outbox.paused = true;
      http = createHttpApp(app);
      app.start();
    },
    async close() {
      if (!stillOpen.delete(h)) return;
      await app.close();
      if (shared) await shared.exec(`DROP SCHEMA ${schema} CASCADE; SET search_path TO public`);
      shared = null;
      if (storage === 'postgres') await dropSchema(POSTGRES_URL, schema);
    },
  };
  stillOpen.add(h);
  return h;
}

/** A webhook receiver on loopback that records what it gets; `failFirst` answers 500 that many times. */
export async function webhookReceiver(failFirst = 0) {
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let failures = failFirst;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (failures > 0) {
        failures--;
        res.writeHead(500).end();
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: async () => {
      if (!stillOpen.delete(receiver)) return;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  stillOpen.add(receiver);
  return receiver;
}
