import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openPglite, openPostgres, type Db } from '../../src/store/db.ts';
import { checkInvariants, type Finding } from '../sim/invariants.ts';
import { Rng } from '../sim/rng.ts';

/** Each crash-test shopper's own daily limit (USD minor units): high enough never to bind. */
const CRASH_DAILY_LIMIT_MINOR = 100_000_000;

/**
 * Crash tests with real processes: `tagpay start` runs on a fresh Postgres database or a fresh PGlite
 * folder, clients drive load through its HTTP API and local network (hashtag posts, confirmation
 * codes, refunds, new offers, re-links), and the process is killed with SIGKILL at a random moment.
 * With it down, the database is checked (tests/sim/invariants.ts) and every acknowledged write (a 2xx
 * answer) is looked for; then it is started again on the same data, and again killed. At the end it
 * runs undisturbed until every acknowledged post has reached the input log.
 */

export interface CrashOptions {
  cycles: number;
  storage: 'pglite' | 'postgres';
  seed: bigint;
  /** Starts no new cycle after this many milliseconds (the run then ends as after its last cycle). */
  maxMs?: number;
  /** Load time before each kill, drawn in [minMs, maxMs]. */
  loadMs?: [number, number];
  progress?: (line: string) => void;
}

export interface CrashStats {
  storage: string;
  seed: string;
  cycles: number;
  kills: number;
  requests: number;
  acknowledged: number;
  acknowledgedPosts: number;
  codesPosted: number;
  paid: number;
  refunds: number;
  seconds: number;
  violations: number;
}

export class CrashViolation extends Error {
  constructor(
    readonly seed: bigint,
    readonly cycle: number,
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`VIOLATION seed=${seed} cycle=${cycle} invariant=${invariant}: ${detail}`);
  }
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const ADMIN_KEY = 'ak_crash_admin_key_0123456789abcdef';
const POSTGRES_URL =
  process.env.TAGPAY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SHOPPERS = 8;
const CLIENTS = 6;
const CODE_RE = /#(TP[A-Z2-7]{10})\b/g;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Copies the code a run starts with (src, the package and TypeScript files, the built pages; with
 * node_modules linked), so every restart of a long run runs that code. Restarting from the working
 * tree ran whatever was there at that moment, and a long run (1,000 cycles take hours) outlives many
 * edits and merges: the last one stopped at cycle 77 with "restart" while the tree was being merged.
 * A file broken in the tree for a minute during a 3-cycle run reproduces it (`tagpay exited with 1
 * while starting`, an esbuild TransformError in its log); with the copy the same run passes.
 */
function snapshotCode(dir: string): string {
  const code = join(dir, 'code');
  cpSync(join(ROOT, 'src'), join(code, 'src'), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json'])
    if (existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(code, file));
  symlinkSync(join(ROOT, 'node_modules'), join(code, 'node_modules'), 'dir');
  if (existsSync(join(ROOT, 'dist')))
    cpSync(join(ROOT, 'dist'), join(code, 'dist'), { recursive: true });
  return code;
}

interface Shopper {
  handle: string;
  token: string;
  posted: Set<string>;
}

export async function crashRun(opts: CrashOptions): Promise<CrashStats> {
  const run = new CrashRun(opts);
  try {
    await run.run();
  } finally {
    await run.cleanup();
  }
  return run.stats;
}

class CrashRun {
  readonly stats: CrashStats;
  private readonly rng: Rng;
  private readonly dir = mkdtempSync(join(tmpdir(), 'tagpay-crash-'));
  /** The code every restart runs: a copy taken when the run began (see snapshotCode). */
  private readonly code = snapshotCode(this.dir);
  private readonly database = `tagpay_crash_${process.pid}_${Date.now().toString(36)}`;
  private child: ChildProcess | null = null;
  private base = '';
  private cycle = 0;
  private merchantKey = '';
  private readonly offers: { id: string; hashtag: string }[] = [];
  private readonly shoppers: Shopper[] = [];
  private readonly tokens: string[] = [];
  /** Acknowledged: local posts (id → has a hashtag), offers, refunds. */
  private readonly ackedPosts = new Map<string, boolean>();
  private readonly ackedOffers = new Set<string>();
  private readonly ackedRefunds = new Set<string>();
  private counter = 0;

  constructor(private readonly opts: CrashOptions) {
    this.rng = new Rng(opts.seed);
    this.stats = {
      storage: opts.storage,
      seed: opts.seed.toString(),
      cycles: 0,
      kills: 0,
      requests: 0,
      acknowledged: 0,
      acknowledgedPosts: 0,
      codesPosted: 0,
      paid: 0,
      refunds: 0,
      seconds: 0,
      violations: 0,
    };
  }

  private get databaseUrl(): string {
    const url = new URL(POSTGRES_URL);
    url.pathname = `/${this.database}`;
    return url.toString();
  }

  private violation(invariant: string, detail: string): never {
    this.stats.violations++;
    throw new CrashViolation(this.opts.seed, this.cycle, invariant, detail);
  }

  async run(): Promise<void> {
    const started = performance.now();
    if (this.opts.storage === 'postgres') {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${this.database}`);
      await admin.end();
    }
    await this.start();
    await this.setup();
    for (this.cycle = 1; this.cycle <= this.opts.cycles; this.cycle++) {
      if (this.opts.maxMs !== undefined && performance.now() - started > this.opts.maxMs) {
        this.opts.progress?.(
          `${this.opts.storage}: time is up after ${this.cycle - 1} of ${this.opts.cycles} cycles`,
        );
        break;
      }
      const [lo, hi] = this.opts.loadMs ?? [300, 2_500];
      await this.loadThenKill(this.rng.range(lo, hi));
      await this.checkDown();
      this.stats.cycles++;
      await this.start();
      if (this.cycle % 10 === 0 || this.cycle === this.opts.cycles)
        this.opts.progress?.(
          `${this.opts.storage} cycle ${this.cycle}/${this.opts.cycles}: ${this.stats.acknowledged} acknowledged, ${this.stats.paid} paid, ${Math.round((performance.now() - started) / 1000)} s`,
        );
    }
    await this.finish();
    this.stats.seconds = (performance.now() - started) / 1000;
  }

  async cleanup(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGKILL');
      await new Promise((resolve) => this.child!.once('exit', resolve));
    }
    if (this.stats.violations > 0) {
      // What tagpay said is the first thing a failure needs: its log's tail, before the folder goes.
      const log = readFileSync(join(this.dir, 'tagpay.log'), 'utf8');
      process.stderr.write(`--- tagpay.log (last 4,000 characters)\n${log.slice(-4_000)}\n`);
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (this.opts.storage === 'postgres') {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => {});
      await admin.end();
    }
  }

  // -------------------------------------------------------------------------------------------
  // The process

  private async start(): Promise<void> {
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      PORT: String(port),
      HOST: '127.0.0.1',
      TAGPAY_ADMIN_KEY: ADMIN_KEY,
      TAGPAY_PUBLIC_URL: this.base,
      TAGPAY_DEMO: '0',
      TAGPAY_RATE_LIMIT_PER_S: '0',
      // Its shoppers share the test cards and buy right after linking: velocity per card and the
      // first-spend step-up would stop every purchase (the fraud controls have tests/fraud.test.ts).
      TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
      TAGPAY_CARD_DAILY_MAX: '0',
      TAGPAY_ANOMALY_STEP_UP: '0',
      LOG_LEVEL: 'warn',
      TAGPAY_DATA_DIR: join(this.dir, 'data'),
    };
    if (this.opts.storage === 'postgres') env.DATABASE_URL = this.databaseUrl;
    else delete env.DATABASE_URL;
    const log = createWriteStream(join(this.dir, 'tagpay.log'), { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
      cwd: this.code,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    this.child = child;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        this.violation('restart', `tagpay exited with ${child.exitCode} while starting`);
      try {
        const res = await fetch(`${this.base}/healthz`);
        if (res.ok) return;
      } catch {}
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.violation('restart', 'tagpay did not answer /healthz within 120 s');
  }

  private async kill(): Promise<void> {
    const child = this.child!;
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    this.stats.kills++;
    this.child = null;
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    idempotencyKey?: string,
  ): Promise<{ status: number; body: any } | null> {
    this.stats.requests++;
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...(token && { authorization: `Bearer ${token}` }),
          ...(idempotencyKey && { 'idempotency-key': idempotencyKey }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      if (res.status >= 500 && res.status !== 503)
        this.violation('no_500', `${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`);
      return { status: res.status, body: parsed };
    } catch (error) {
      if (error instanceof CrashViolation) throw error;
      // The process is dying or dead: no answer, so nothing is acknowledged.
      return null;
    }
  }

  private async must(
    method: string,
    path: string,
    body: unknown,
    token: string | undefined,
    status: number[],
  ): Promise<any> {
    const res = await this.request(method, path, body, token, `setup-${++this.counter}`);
    if (res === null || !status.includes(res.status))
      this.violation('setup', `${method} ${path}: ${JSON.stringify(res)}`);
    return res.body;
  }

  // -------------------------------------------------------------------------------------------
  // The load

  private async setup(): Promise<void> {
    const merchant = await this.must(
      'POST',
      '/v1/merchants',
      { handle: 'crashshop', name: 'Crash Shop' },
      ADMIN_KEY,
      [201],
    );
    this.merchantKey = merchant.api_key;
    for (let i = 0; i < 2; i++) await this.createOffer(true);
    for (let i = 0; i < 3; i++) {
      const token = await this.must(
        'POST',
        '/v1/sandbox/tokens',
        { number: '4242424242424242', exp_month: 12, exp_year: 2099, cvc: '123' },
        undefined,
        [201],
      );
      this.tokens.push(token.id);
    }
    for (let i = 0; i < SHOPPERS; i++) {
      const account = await this.must(
        'POST',
        '/v1/local/accounts',
        { handle: `crasher${i}` },
        undefined,
        [201],
      );
      this.shoppers.push({ handle: account.handle, token: account.token, posted: new Set() });
      await this.link(this.shoppers[i]!, true);
    }
  }

  private async createOffer(required = false): Promise<void> {
    const hashtag = `Crash${this.cycle}x${++this.counter}`;
    const body = {
      title: `Crash item ${hashtag}`,
      price: { amount: this.rng.range(100, 5_000), currency: 'USD' },
      quantity: this.rng.range(5, 60),
      hashtag,
    };
    const res = required
      ? { status: 201, body: await this.must('POST', '/v1/offers', body, this.merchantKey, [201]) }
      : await this.request('POST', '/v1/offers', body, this.merchantKey, `offer-${this.counter}`);
    if (res?.status === 201) {
      this.offers.push({ id: res.body.id, hashtag });
      this.ackedOffers.add(res.body.id);
      this.stats.acknowledged++;
    }
  }

  private async link(shopper: Shopper, required: boolean): Promise<void> {
    const body = {
      handle: shopper.handle,
      network: 'local',
      email: `${shopper.handle}@crash.test`,
      shipping_address: {
        name: shopper.handle,
        line1: '1 Main St',
        city: 'Springfield',
        postal_code: '12345',
        country: 'US',
      },
      card_token: this.rng.pick(this.tokens),
      // A long run buys for hours with eight shoppers: the default daily limit would refuse every
      // purchase after the first hundreds (the kills would then only meet refusals).
      limits: { per_day: CRASH_DAILY_LIMIT_MINOR, currency: 'USD' },
    };
    if (required) await this.must('POST', '/v1/shoppers', body, ADMIN_KEY, [200, 201]);
    else {
      const res = await this.request(
        'POST',
        '/v1/shoppers',
        body,
        ADMIN_KEY,
        `link-${++this.counter}`,
      );
      if (res !== null && res.status < 300) this.stats.acknowledged++;
    }
  }

  private async post(shopper: Shopper, text: string): Promise<void> {
    const res = await this.request('POST', '/v1/local/posts', { text }, shopper.token);
    if (res?.status === 201) {
      this.ackedPosts.set(String(res.body.id), text.includes('#'));
      this.stats.acknowledged++;
      this.stats.acknowledgedPosts++;
    }
  }

  private async client(rng: Rng, until: { stop: boolean }): Promise<void> {
    while (!until.stop) {
      const shopper = rng.pick(this.shoppers);
      const action = rng.weighted({
        buy: 5,
        confirm: 5,
        refund: 1,
        offer: 0.3,
        link: 0.3,
        cancel: 0.3,
      });
      if (action === 'buy') {
        const offer = rng.pick(this.offers.slice(-4));
        await this.post(shopper, `#${offer.hashtag}${rng.chance(0.2) ? ' x2' : ''}`);
      } else if (action === 'confirm') {
        const res = await this.request(
          'GET',
          `/v1/local/posts?mentions=${shopper.handle}&limit=20`,
          undefined,
          shopper.token,
        );
        if (res?.status !== 200) continue;
        for (const p of res.body.data as { author: string; text: string }[]) {
          if (p.author !== 'tagpay') continue;
          if (p.text.startsWith('Paid:')) continue;
          for (const match of p.text.matchAll(CODE_RE)) {
            const code = `#${match[1]}`;
            if (shopper.posted.has(code)) continue;
            shopper.posted.add(code);
            this.stats.codesPosted++;
            await this.post(shopper, code);
            break;
          }
        }
      } else if (action === 'refund') {
        const res = await this.request('GET', '/v1/orders?limit=50', undefined, this.merchantKey);
        if (res?.status !== 200) continue;
        const paid = (res.body.data as { id: string; status: string }[]).filter(
          (o) => o.status === 'paid',
        );
        if (paid.length === 0) continue;
        const order = rng.pick(paid);
        const refund = await this.request(
          'POST',
          `/v1/orders/${order.id}/refund`,
          { restock: rng.chance(0.5) },
          this.merchantKey,
          `refund-${order.id}-${++this.counter}`,
        );
        if (refund?.status === 200) {
          this.ackedRefunds.add(order.id);
          this.stats.acknowledged++;
          this.stats.refunds++;
        }
      } else if (action === 'offer') {
        await this.createOffer();
      } else if (action === 'link') {
        await this.link(shopper, false);
      } else {
        await this.post(shopper, 'never mind #cancel');
      }
    }
  }

  private async loadThenKill(ms: number): Promise<void> {
    const until = { stop: false };
    const clients = Array.from({ length: CLIENTS }, () => this.client(this.rng.fork(), until));
    await new Promise((resolve) => setTimeout(resolve, ms));
    await this.kill();
    until.stop = true;
    await Promise.all(clients);
  }

  // -------------------------------------------------------------------------------------------
  // Checks

  private async openDb(): Promise<Db> {
    return this.opts.storage === 'postgres'
      ? openPostgres(this.databaseUrl, null, 2)
      : openPglite(join(this.dir, 'data'));
  }

  /** With the process dead: the invariants hold and every acknowledged write is in the database. */
  private async checkDown(): Promise<void> {
    const db = await this.openDb();
    try {
      const findings: Finding[] = await checkInvariants(db, null, false);
      if (findings.length > 0) this.violation(findings[0]!.invariant, findings[0]!.detail);
      const posts = [...this.ackedPosts.keys()];
      const found = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM local_posts WHERE id = ANY($1::bigint[])',
        [posts],
      );
      if (Number(found.rows[0]!.n) !== posts.length)
        this.violation(
          'acked_post_present',
          `${posts.length} posts acknowledged, ${found.rows[0]!.n} present`,
        );
      const offers = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM offers WHERE id = ANY($1::text[])',
        [[...this.ackedOffers]],
      );
      if (Number(offers.rows[0]!.n) !== this.ackedOffers.size)
        this.violation(
          'acked_write_present',
          `${this.ackedOffers.size} offers acknowledged, ${offers.rows[0]!.n} present`,
        );
      const refunds = await db.query<{ id: string; status: string }>(
        "SELECT id, status FROM orders WHERE id = ANY($1::text[]) AND status NOT IN ('refunding', 'refunded')",
        [[...this.ackedRefunds]],
      );
      if (refunds.rows.length > 0)
        this.violation(
          'acked_write_present',
          `acknowledged refunds not kept: ${JSON.stringify(refunds.rows)}`,
        );
      const paid = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM orders WHERE status IN ('paid', 'refunding', 'refunded')",
      );
      this.stats.paid = Number(paid.rows[0]!.n);
    } finally {
      await db.close();
    }
  }

  /** Undisturbed at the end: every acknowledged post with a hashtag reaches the input log. */
  private async finish(): Promise<void> {
    const tagged = [...this.ackedPosts]
      .filter(([, tags]) => tags)
      .map(([id]) => `post:local:${id}`);
    const deadline = Date.now() + 60_000;
    let missing = tagged.length;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Read through a side connection while tagpay runs (Postgres), or after a clean stop (PGlite).
      if (this.opts.storage === 'pglite') await this.stop();
      const db = await this.openDb();
      try {
        const { rows } = await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM log WHERE key = ANY($1::text[])',
          [tagged],
        );
        missing = tagged.length - Number(rows[0]!.n);
      } finally {
        await db.close();
      }
      if (missing === 0) break;
      if (this.opts.storage === 'pglite') await this.start();
    }
    if (missing > 0)
      this.violation('acked_post_in_log', `${missing} acknowledged posts never reached the log`);
    if (this.child) await this.stop();
    await this.checkDown();
  }

  private async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    this.child = null;
  }
}
