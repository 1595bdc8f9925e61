import { AppContext, createLogger } from '../../src/app-context.ts';
import { loadConfig } from '../../src/config/env.ts';
import { newSecret, sha256 } from '../../src/core/codes.ts';
import { hashGiftCode, normalizeGiftCode } from '../../src/core/gift-codes.ts';
import type {
  ApiCommand,
  ApiEvent,
  CardTransactionEvent,
  PostEvent,
} from '../../src/engine/events.ts';
import type { NewEvent } from '../../src/engine/log.ts';
import type { NetworkClient, PostRequest } from '../../src/networks/network.ts';
import type { ChargeOutcome, ChargeRequest } from '../../src/processors/processor.ts';
import { openPglite, type Db, type Sql } from '../../src/store/db.ts';
import {
  checkAcked,
  checkInvariants,
  takeWritten,
  trackWrites,
  type Acked,
  type Finding,
} from './invariants.ts';
import { Rng } from './rng.ts';
import { RELINK_COOL_DOWN_MS } from '../../src/core/limits.ts';

/** Clock steps back a little now and then (clockJump): a cool-down's end is read with this slack. */
const COOL_DOWN_SLACK_MS = 5_000;
/** How long, and how many, of a handle's re-links the model keeps to explain a cool-down refusal. */
const RELINKS_KEPT_MS = 14 * 24 * 60 * 60_000;
const RELINKS_KEPT_MAX = 512;

/**
 * A deterministic simulation of tagpay, after TigerBeetle's VOPR: one seed drives a random workload
 * (merchants, offers, shoppers, hashtag purchases, confirmations, wrong and stolen codes, cancels,
 * refunds) and random faults (duplicated and reordered posts, processor errors and timeouts, a
 * failing network, clock jumps, crashes at any database statement, restarts) through the real
 * AppContext, engine, outbox worker and sandbox processor on an in-memory PGlite. Only the outside
 * world is simulated: the clock, the social network the posts come from and the processor's faults.
 * After every step the database and the observed replies are checked against the invariants in
 * invariants.ts; a violation names the seed and the operation, so the run replays exactly.
 */

export interface SimOptions {
  seed: bigint;
  ops: number;
  /** Workload operations per step (one append, one settle, one check); drawn in [1, 2 × stepOps]. */
  stepOps?: number;
  /** Probability per step of a crash at a random database statement. */
  crashRate?: number;
  /** Probability per step of a clean restart at its end. */
  restartRate?: number;
  /** Called with a progress line every `progressEvery` operations. */
  progress?: (line: string) => void;
  progressEvery?: number;
  /** Steps between two checks of every row (each step checks the rows it wrote). */
  fullCheckEvery?: number;
}

export interface SimStats {
  seed: string;
  ops: number;
  steps: number;
  crashes: number;
  restarts: number;
  posts: number;
  duplicatePosts: number;
  delayedPosts: number;
  apiCommands: number;
  apiAcked: number;
  apiReplays: number;
  clockJumps: number;
  processorErrors: number;
  processorTimeouts: number;
  networkFailures: number;
  redeliveredReplies: number;
  codesIssued: number;
  payCodesIssued: number;
  paid: number;
  refundsAsked: number;
  /** What the money workload came to, counted in the database at the end. */
  outcomes: Record<string, number>;
  checks: number;
  fullChecks: number;
  seconds: number;
  opsPerSecond: number;
  violations: number;
}

export class Violation extends Error {
  constructor(
    readonly seed: bigint,
    readonly op: number,
    readonly step: number,
    readonly invariant: string,
    readonly detail: string,
  ) {
    super(`VIOLATION seed=${seed} op=${op} step=${step} invariant=${invariant}: ${detail}`);
  }
}

/** Thrown at the statement where the simulated process dies, and at every statement after it. */
class SimCrash extends Error {}

/** Kills the simulated process at a chosen database statement: it and everything after it fail. */
class CrashSwitch {
  countdown: number | null = null;
  dead = false;
  tick(): void {
    if (this.dead) throw new SimCrash('the simulated process is dead');
    if (this.countdown !== null && --this.countdown <= 0) {
      this.dead = true;
      throw new SimCrash('simulated crash');
    }
  }
}

/**
 * The database as seen by one simulated process. A crash before a statement (or after a commit)
 * is the process dying there: a transaction in progress rolls back, nothing later reaches the data.
 */
export const queryTimes = new Map<string, [number, number]>();
function crashable(db: Db, sw: CrashSwitch): Db {
  const wrap = (sql: Sql): Sql => ({
    query: async <T>(text: string, params?: unknown[]) => {
      sw.tick();
      if (!process.env.SIM_QPROF) return sql.query<T>(text, params);
      const t = performance.now();
      const r = await sql.query<T>(text, params);
      const k = text.replace(/\s+/g, ' ').slice(0, 90);
      const e = queryTimes.get(k) ?? [0, 0];
      e[0] += performance.now() - t;
      e[1]++;
      queryTimes.set(k, e);
      return r;
    },
  });
  return {
    kind: db.kind,
    query: wrap(db).query,
    transaction: async (fn) => {
      sw.tick();
      const result = await db.transaction((tx) => fn(wrap(tx)));
      // Dying right after a commit: the effects are in, whatever was to follow never happens.
      sw.tick();
      return result;
    },
    exec: async (script) => {
      sw.tick();
      await db.exec(script);
    },
    script: async (text) => {
      sw.tick();
      const result = await db.script(text);
      // As for a transaction: dying right after its commit.
      sw.tick();
      return result;
    },
    close: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
}

/** The outside social network: records tagpay's replies once per idempotency key, fails on demand. */
class SimNetwork implements NetworkClient {
  readonly name = 'sim';
  failRate = 0;
  failures = 0;
  redeliveries = 0;
  private readonly seen = new Map<string, string>();
  private n = 0;

  constructor(
    private readonly rng: Rng,
    private readonly onReply: (req: PostRequest) => void,
  ) {}

  async post(req: PostRequest): Promise<{ postId: string }> {
    if (this.rng.chance(this.failRate)) {
      this.failures++;
      throw new Error('sim: network unavailable');
    }
    const known = this.seen.get(req.idempotencyKey);
    if (known !== undefined) {
      this.redeliveries++;
      return { postId: known };
    }
    const postId = `r${++this.n}`;
    this.seen.set(req.idempotencyKey, postId);
    this.onReply(req);
    return { postId };
  }
}

type CardKind = 'ok' | 'declined' | 'insufficient' | 'error';
const CARD_NUMBERS: Record<CardKind, string> = {
  ok: '4242424242424242',
  declined: '4000000000000002',
  insufficient: '4000000000009995',
  error: '4000000000000119',
};
const CURRENCIES = ['USD', 'USD', 'USD', 'EUR', 'JPY'] as const;
const VARIANTS = ['S', 'M', 'L', 'XL'];
const SHOPPERS_MAX = 80;
const ATTACKERS_MAX = 10;
const MERCHANTS_MAX = 8;
const OPEN_OFFERS_MAX = 30;
const RECENT_MAX = 400;
const ADMIN_KEY = 'ak_sim_admin_key_0123456789abcdef';
const START_MS = Date.parse('2026-11-26T12:00:00Z');
const NETWORK = 'sim';
/** Steps between two full checks by default: the full check's cost grows with the history. */
const FULL_CHECK_EVERY_STEPS = 50;

interface ModelMerchant {
  id: string;
  handle: string;
}
interface ModelOffer {
  id: string;
  merchant: ModelMerchant;
  hashtag: string;
  variants: string[];
  status: 'live' | 'paused' | 'ended';
}
interface BuyPost {
  author: string;
  code: string | null;
  paidKeys: number;
  orderId: string | null;
}
interface PendingApi {
  key: string;
  event: ApiEvent;
  /** What the model learns from the answer. */
  onAnswer: (status: number, body: any) => void;
  replay: boolean;
}

/** Runs one simulation; throws a Violation on the first broken invariant. */
export async function simulate(opts: SimOptions): Promise<SimStats> {
  const sim = new Simulation(opts);
  try {
    await sim.run();
  } finally {
    await sim.close();
  }
  return sim.stats;
}

class Simulation {
  readonly stats: SimStats;
  private readonly rng: Rng;
  private readonly faultRng: Rng;
  private readonly engineRandom;
  private readonly clock = { ms: START_MS, now: () => this.clock.ms };
  private raw!: Db;
  private app!: AppContext;
  private sw = new CrashSwitch();
  private readonly network: SimNetwork;
  private readonly config = loadConfig({
    TAGPAY_ADMIN_KEY: ADMIN_KEY,
    TAGPAY_PUBLIC_URL: 'http://tagpay.test',
    TAGPAY_DEMO: '0',
    TAGPAY_RATE_LIMIT_PER_S: '0',
    // Its shoppers share the test cards and buy right after linking: velocity per card and the
    // first-spend step-up would stop every purchase (the fraud controls have tests/fraud.test.ts).
    TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
    TAGPAY_CARD_DAILY_MAX: '0',
    TAGPAY_ANOMALY_STEP_UP: '0',
    // Claims not made within a day go back, so clock jumps and the run's end see both outcomes.
    TAGPAY_CLAIM_DAYS: '1',
  });
  private readonly logger = createLogger('silent');

  // Faults in force.
  private chargeErrorRate = 0;
  private chargeTimeoutRate = 0;
  private refundErrorRate = 0;
  private refundTimeoutRate = 0;

  // The reference model: what the outside world has seen and been told.
  private readonly cards = new Map<CardKind, string>();
  private readonly merchants: ModelMerchant[] = [];
  private readonly offers: ModelOffer[] = [];
  private readonly linked = new Set<string>();
  /** Shopper ids by handle, from the link answers. */
  private readonly shopperIds = new Map<string, string>();
  /** `#pay` posts by post id: who pays whom, and the code tagpay answered with. */
  private readonly payPosts = new Map<string, { payer: string; code: string | null }>();
  /** Payment codes not yet posted: the code and its payer. */
  private readonly openPayCodes: { code: string; payer: string }[] = [];
  /** Handles money was sent to before they linked: they link later (a claim) or never (a return). */
  private readonly claimHandles: string[] = [];
  /** Gift card codes read from the buyers' e-mail, and whether the model saw them redeemed. */
  private readonly giftCodes: { code: string; redeemed: boolean }[] = [];
  private mailboxSeen = 0;
  private giftOffers = 0;
  /** Card-linked offers: their hashtag and merchant. */
  private readonly cardOffers: {
    id: string;
    hashtag: string;
    merchantId: string;
    currency: string;
  }[] = [];
  /** Card transactions sent, for duplicates and refunds. */
  private readonly cardTxns: NewEvent[] = [];
  /** The card each handle was last linked with. */
  private readonly shopperCards = new Map<string, CardKind>();
  /** A handle's recent re-links: a re-link cool-down may begin at any of them. */
  private readonly relinks = new Map<string, { sent: number; answered: number | null }[]>();
  private readonly buyPosts = new Map<string, BuyPost>();
  /** Codes issued, by code: the post they confirm. */
  private readonly codes = new Map<string, string>();
  /** `author|CODE` for every code an author posted. */
  private readonly posted = new Set<string>();
  private readonly openCodes: string[] = [];
  private readonly usedCodes: string[] = [];
  private readonly paidOrders: { orderId: string; merchant: string }[] = [];
  private readonly recentPosts: NewEvent[] = [];
  private readonly delayed: { releaseStep: number; event: NewEvent }[] = [];
  private readonly recentApi: PendingApi[] = [];
  private readonly acked: Acked[] = [];
  private ackedChecked = 0;
  private readonly findings: Finding[] = [];
  private counter = 0;
  readonly timing = { check: 0, append: 0, finish: 0 };
  private op = 0;
  private step = 0;

  constructor(private readonly opts: SimOptions) {
    const root = new Rng(opts.seed);
    this.rng = root.fork();
    this.faultRng = root.fork();
    this.engineRandom = root.fork().bytes();
    this.network = new SimNetwork(root.fork(), (req) => this.onReply(req));
    this.stats = {
      seed: opts.seed.toString(),
      ops: 0,
      steps: 0,
      crashes: 0,
      restarts: 0,
      posts: 0,
      duplicatePosts: 0,
      delayedPosts: 0,
      apiCommands: 0,
      apiAcked: 0,
      apiReplays: 0,
      clockJumps: 0,
      processorErrors: 0,
      processorTimeouts: 0,
      networkFailures: 0,
      redeliveredReplies: 0,
      codesIssued: 0,
      payCodesIssued: 0,
      paid: 0,
      refundsAsked: 0,
      outcomes: {},
      checks: 0,
      fullChecks: 0,
      seconds: 0,
      opsPerSecond: 0,
      violations: 0,
    };
  }

  private violation(invariant: string, detail: string): never {
    this.stats.violations++;
    throw new Violation(this.opts.seed, this.op, this.step, invariant, detail);
  }

  // -------------------------------------------------------------------------------------------
  // The process: open, crash, restart

  private async open(): Promise<void> {
    if (process.env.SIM_DEBUG && this.step > 0) {
      const { rows } = await this.raw.query<{ n: string; nulls: string }>(
        'SELECT max(n)::text AS n, count(*) FILTER (WHERE n IS NULL)::text AS nulls FROM transfers',
      );
      console.error(`before open: db ${rows[0]?.n} nulls ${rows[0]?.nulls}`);
    }
    this.sw = new CrashSwitch();
    this.app = await AppContext.fromConfig(this.config, {
      clock: this.clock,
      random: this.engineRandom,
      db: crashable(this.raw, this.sw),
      logger: this.logger,
    });
    await this.app.ensureAdminKey();
    this.app.networks.set(NETWORK, this.network);
    if (process.env.SIM_DEBUG) {
      const { rows } = await this.raw.query<{ n: string }>(
        'SELECT max(n)::text AS n FROM transfers',
      );
      console.error(
        `open: step ${this.step} op ${this.op} chain ${this.app.engine.view.chain.n} db ${rows[0]?.n}`,
      );
    }
    this.injectProcessorFaults();
  }

  /** The processor's faults: errors before anything is recorded, timeouts after it was. */
  private injectProcessorFaults(): void {
    const processor = this.app.processor;
    const chargeMany = processor.chargeMany.bind(processor);
    const refund = processor.refund.bind(processor);
    processor.chargeMany = async (requests: ChargeRequest[]): Promise<ChargeOutcome[]> => {
      const outcomes: ChargeOutcome[] = new Array(requests.length);
      const through: number[] = [];
      requests.forEach((_, i) => {
        if (this.faultRng.chance(this.chargeErrorRate)) {
          this.stats.processorErrors++;
          outcomes[i] = {
            ok: false,
            reason: 'processor_error',
            retryable: true,
            message: 'sim: processor error',
          };
        } else through.push(i);
      });
      const answered = await chargeMany(through.map((i) => requests[i]!));
      if (this.faultRng.chance(this.chargeTimeoutRate)) {
        // The processor did the work; the answer is lost on the way back.
        this.stats.processorTimeouts++;
        throw new Error('sim: processor timeout');
      }
      through.forEach((i, j) => (outcomes[i] = answered[j]!));
      return outcomes;
    };
    processor.refund = async (chargeId: string, amountMinor: bigint, key: string) => {
      if (this.faultRng.chance(this.refundErrorRate)) {
        this.stats.processorErrors++;
        return { ok: false, message: 'sim: processor error' };
      }
      const result = await refund(chargeId, amountMinor, key);
      if (this.faultRng.chance(this.refundTimeoutRate)) {
        this.stats.processorTimeouts++;
        throw new Error('sim: processor timeout');
      }
      return result;
    };
  }

  /** The process dies: nothing is flushed or closed; a new process opens on the same data. */
  private async crash(): Promise<void> {
    this.stats.crashes++;
    this.sw.dead = true;
    // Whatever the dead process still had in flight fails at its next statement.
    await this.app.engine.flush().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 0));
    await this.open();
    await this.checkAckedPresent(false);
  }

  private async restart(): Promise<void> {
    this.stats.restarts++;
    await this.app.close();
    await this.open();
    await this.checkAckedPresent(false);
  }

  /** Runs `fn`; a simulated crash inside it restarts the process and answers false. */
  private async guarded(fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (error) {
      if (error instanceof Violation) throw error;
      if (!(error instanceof SimCrash) && !this.sw.dead) {
        const message = error instanceof Error ? error.message : String(error);
        if (process.env.SIM_DEBUG) console.error(error);
        this.violation('engine_error', `${message}\n${(error as Error).stack ?? ''}`);
      }
      await this.crash();
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // The run

  async run(): Promise<void> {
    const started = performance.now();
    this.raw = await openPglite(null);
    await this.open();
    await trackWrites(this.raw);
    for (const kind of Object.keys(CARD_NUMBERS) as CardKind[]) {
      const token = await this.app.processor.tokenize({
        number: CARD_NUMBERS[kind],
        exp_month: 12,
        exp_year: 2099,
        cvc: '123',
      });
      this.cards.set(kind, token.id);
    }
    const stepOps = this.opts.stepOps ?? 200;
    const every = this.opts.progressEvery ?? 100_000;
    let nextProgress = every;
    while (this.op < this.opts.ops) {
      const n = Math.min(this.opts.ops - this.op, this.rng.range(1, 2 * stepOps));
      await this.runStep(n);
      if (this.op >= nextProgress) {
        nextProgress += every;
        this.opts.progress?.(this.progressLine(started));
      }
    }
    const tf = performance.now();
    await this.finish();
    this.timing.finish += performance.now() - tf;
    if (process.env.SIM_TIMING) console.error(this.timing);
    if (process.env.SIM_QPROF)
      for (const [k, [ms, n]] of [...queryTimes].sort((a, b) => b[1][0] - a[1][0]).slice(0, 30))
        console.error(`${Math.round(ms)} ms ${n}x ${k}`);
    if (process.env.SIM_DEBUG)
      console.error([...this.replyKinds].sort((a, b) => b[1] - a[1]).slice(0, 40));
    this.stats.ops = this.op;
    this.stats.seconds = (performance.now() - started) / 1000;
    this.stats.opsPerSecond = Math.round(this.op / this.stats.seconds);
  }

  private lastProgress = { at: 0, op: 0, check: 0 };
  private progressLine(started: number): string {
    const now = performance.now();
    const s = (now - started) / 1000;
    const last = this.lastProgress;
    const recent = Math.round(((this.op - last.op) * 1000) / (now - (last.at || started)));
    const checkShare = Math.round(
      (100 * (this.timing.check - last.check)) / (now - (last.at || started)),
    );
    this.lastProgress = { at: now, op: this.op, check: this.timing.check };
    if (process.env.SIM_QPROF) {
      for (const [k, [ms, n]] of [...queryTimes].sort((a, b) => b[1][0] - a[1][0]).slice(0, 6))
        console.error(`   ${Math.round(ms)} ms ${n}x ${k}`);
      queryTimes.clear();
    }
    return `seed=${this.opts.seed} ops=${this.op} steps=${this.step} crashes=${this.stats.crashes} restarts=${this.stats.restarts} paid=${this.stats.paid} ${Math.round(this.op / s)} ops/s (recent ${recent} ops/s, checks ${checkShare}% of the time)`;
  }

  async close(): Promise<void> {
    if (this.app && !this.sw.dead) await this.app.close().catch(() => {});
    await this.raw?.close();
  }

  private async runStep(n: number): Promise<void> {
    this.step++;
    this.stats.steps++;
    const posts: NewEvent[] = [];
    const apis: PendingApi[] = [];
    const flushes: { posts: NewEvent[]; apis: PendingApi[] }[] = [];
    const crashesBefore = this.stats.crashes;
    const restart = this.faultRng.chance(this.opts.restartRate ?? 0.03);
    if (this.opts.crashRate !== 0 && this.faultRng.chance(this.opts.crashRate ?? 0.05)) {
      // The process dies at one of the statements this step runs.
      this.sw.countdown = this.faultRng.range(1, 400);
    }
    for (const event of this.delayed.filter((d) => d.releaseStep <= this.step)) {
      posts.push(event.event);
    }
    this.delayed.splice(
      0,
      this.delayed.length,
      ...this.delayed.filter((d) => d.releaseStep > this.step),
    );
    const flush = async () => {
      if (posts.length === 0 && apis.length === 0) return;
      const batch = { posts: this.rng.shuffle(posts.splice(0)), apis: apis.splice(0) };
      flushes.push(batch);
      await this.append(batch.posts, batch.apis);
    };
    for (let i = 0; i < n; i++) {
      this.op++;
      const kind = this.rng.weighted({
        buy: 34,
        confirm: 24,
        foreignCode: 2,
        reuseCode: 2,
        wrongCode: 2,
        cancel: 3,
        duplicatePost: 4,
        merchant: this.merchants.length < MERCHANTS_MAX ? 1 : 0,
        offer: this.openOffers() < OPEN_OFFERS_MAX ? 4 : 0.3,
        offerStatus: 2,
        link: 4,
        refund: 3,
        apiReplay: 1,
        pay: 4,
        payConfirm: 3,
        claimLink: 0.5,
        topUp: 1.5,
        giftOffer: this.giftOffers < 6 ? 0.3 : 0.02,
        redeem: 1,
        cardOffer: this.cardOffers.length < 6 ? 0.3 : 0.02,
        enrol: 1,
        cardTxn: 2,
        // About four clock jumps a step whatever its size, so codes can be confirmed in time.
        clockJump: (4 * 88) / (this.opts.stepOps ?? 200),
        faults: 1,
      });
      if (kind === 'clockJump') {
        // Jumps split the step: what was generated before it is appended at the earlier time.
        if (!(await this.guarded(flush))) break;
        this.clockJump();
        continue;
      }
      this.generate(kind, posts, apis);
    }
    const appended = await this.guarded(flush);
    let settled = appended && (await this.guarded(() => this.app.settle()));
    // After a crash, the sources deliver again what they may not have delivered: the network redelivers
    // its posts (the connector's cursor was not saved), API clients retry with their idempotency keys.
    let redeliver = this.stats.crashes > crashesBefore;
    for (let attempt = 0; !settled || redeliver; attempt++) {
      redeliver = false;
      if (attempt > 20) this.violation('liveness', 'the step does not settle after 20 restarts');
      const again = flushes.flatMap((f) => f.posts);
      const againApi = flushes.flatMap((f) => f.apis);
      settled =
        (await this.guarded(() => this.append(again, againApi))) &&
        (await this.guarded(() => this.app.settle()));
    }
    await this.collectAnswers(flushes.flatMap((f) => f.apis));
    if (restart) await this.restart();
    this.stats.networkFailures = this.network.failures;
    this.stats.redeliveredReplies = this.network.redeliveries;
    await this.check();
  }

  private async append(posts: NewEvent[], apis: PendingApi[]): Promise<void> {
    const events = [...posts, ...apis.map((a) => ({ key: a.key, body: a.event }))];
    if (events.length > 0) await this.app.log.append(events);
  }

  /** Offers not ended, pruned as they end so the workload's picks stay cheap in long runs. */
  private openOffers(): number {
    if (this.offers.length > 2 * OPEN_OFFERS_MAX) {
      const open = this.offers.filter((o) => o.status !== 'ended');
      this.offers.splice(0, this.offers.length, ...open);
    }
    return this.offers.length;
  }

  private clockJump(): void {
    this.stats.clockJumps++;
    const r = this.rng.next();
    let delta: number;
    if (r < 0.7) delta = this.rng.range(1_000, 30_000);
    else if (r < 0.95) delta = this.rng.range(30_000, 5 * 60_000);
    else if (r < 0.99) delta = this.rng.range(5, 30) * 60_000;
    else if (r < 0.996) delta = this.rng.range(1, 26) * 60 * 60_000;
    // A clock that steps back a little (NTP): log times are then not monotonic.
    else delta = -this.rng.range(1, 3_000);
    this.clock.ms += delta;
  }

  // -------------------------------------------------------------------------------------------
  // The workload

  private nextId(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  private postEvent(author: string, text: string): NewEvent {
    const postId = this.nextId('p');
    const body: PostEvent = { kind: 'post', network: NETWORK, postId, author, text, replyTo: null };
    return { key: `post:${NETWORK}:${postId}`, body };
  }

  private emitPost(posts: NewEvent[], event: NewEvent): void {
    this.stats.posts++;
    this.recentPosts.push(event);
    if (this.recentPosts.length > RECENT_MAX) this.recentPosts.shift();
    if (this.rng.chance(0.05)) {
      // Reordered across steps: the network delivers it later.
      this.stats.delayedPosts++;
      this.delayed.push({ releaseStep: this.step + this.rng.range(1, 3), event });
      return;
    }
    posts.push(event);
  }

  /** Handles that only post codes that are not theirs (some of them linked too). */
  private attackerHandle(): string {
    return `x${this.rng.int(ATTACKERS_MAX)}`;
  }

  private shopperHandle(): string {
    return `u${this.rng.int(SHOPPERS_MAX)}`;
  }

  private generate(kind: string, posts: NewEvent[], apis: PendingApi[]): void {
    switch (kind) {
      case 'buy': {
        const live = this.offers.filter((o) => o.status !== 'ended' || this.rng.chance(0.05));
        if (live.length === 0) return this.generate('offer', posts, apis);
        const offer = this.rng.pick(live);
        const author = this.shopperHandle();
        let text = this.rng.chance(0.5) ? `#${offer.hashtag}` : `#${offer.hashtag.toLowerCase()}`;
        if (offer.variants.length > 0) {
          const r = this.rng.next();
          if (r < 0.85) text += ` ${this.rng.pick(offer.variants)}`;
          else if (r < 0.93) text += ' XXL';
        }
        const q = this.rng.next();
        if (q < 0.2) text += ` x${this.rng.range(2, 3)}`;
        else if (q < 0.22) text += ' x99';
        if (this.rng.chance(0.3)) text = `want it! ${text} please`;
        const event = this.postEvent(author, text);
        this.buyPosts.set((event.body as PostEvent).postId, {
          author,
          code: null,
          paidKeys: 0,
          orderId: null,
        });
        return this.emitPost(posts, event);
      }
      case 'confirm': {
        if (this.openCodes.length === 0) return this.generate('buy', posts, apis);
        const i = this.rng.int(this.openCodes.length);
        const code = this.openCodes[i]!;
        this.openCodes.splice(i, 1);
        this.usedCodes.push(code);
        if (this.usedCodes.length > RECENT_MAX) this.usedCodes.shift();
        const owner = this.buyPosts.get(this.codes.get(code)!)!.author;
        this.posted.add(`${owner}|${code}`);
        const text = this.rng.chance(0.5) ? code : `yes ${code.toLowerCase()} thanks`;
        return this.emitPost(posts, this.postEvent(owner, text));
      }
      case 'foreignCode': {
        // Someone else posts a code they saw: it must never pay for the owner's checkout.
        if (this.openCodes.length === 0) return;
        const code = this.rng.pick(this.openCodes);
        const owner = this.buyPosts.get(this.codes.get(code)!)!.author;
        let thief = this.rng.chance(0.8) ? this.attackerHandle() : this.shopperHandle();
        if (thief === owner) thief = `u${(Number(owner.slice(1)) + 1) % SHOPPERS_MAX}`;
        return this.emitPost(posts, this.postEvent(thief, code));
      }
      case 'reuseCode': {
        if (this.usedCodes.length === 0) return;
        const code = this.rng.pick(this.usedCodes);
        const owner = this.buyPosts.get(this.codes.get(code)!)!.author;
        return this.emitPost(posts, this.postEvent(owner, code));
      }
      case 'wrongCode': {
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
        let code = '#TP';
        for (let k = 0; k < 10; k++) code += alphabet[this.rng.int(32)];
        // Mostly from attackers' handles: five wrong codes an hour pause a handle's codes, and the
        // clock of a long step moves slowly, so shoppers guessing this often would all be paused.
        const author = this.rng.chance(0.9) ? this.attackerHandle() : this.shopperHandle();
        return this.emitPost(posts, this.postEvent(author, code));
      }
      case 'cancel':
        return this.emitPost(
          posts,
          this.postEvent(this.shopperHandle(), 'changed my mind #cancel'),
        );
      case 'duplicatePost': {
        if (this.recentPosts.length === 0) return;
        // The network delivers a post again (same post id): it must be dropped at the door.
        this.stats.duplicatePosts++;
        posts.push(this.rng.pick(this.recentPosts));
        return;
      }
      case 'merchant':
        return this.createMerchant(apis);
      case 'offer':
        return this.createOffer(apis);
      case 'offerStatus': {
        const open = this.offers.filter((o) => o.status !== 'ended');
        if (open.length === 0) return;
        const offer = this.rng.pick(open);
        const status = this.rng.weighted({ live: 5, paused: 3, ended: 1 });
        const event = this.api(offer.merchant.id, {
          op: 'offer.set_status',
          merchantId: offer.merchant.id,
          offerId: offer.id,
          status,
        });
        return apis.push({
          ...event,
          onAnswer: (code) => {
            if (code === 200) offer.status = status;
          },
        }) as unknown as void;
      }
      case 'link':
        return this.link(apis);
      case 'refund':
        return this.refund(apis);
      case 'pay':
        return this.pay(posts);
      case 'payConfirm': {
        if (this.openPayCodes.length === 0) return this.pay(posts);
        const i = this.rng.int(this.openPayCodes.length);
        const { code, payer } = this.openPayCodes[i]!;
        this.openPayCodes.splice(i, 1);
        this.posted.add(`${payer}|${code}`);
        return this.emitPost(
          posts,
          this.postEvent(payer, this.rng.chance(0.5) ? code : `ok ${code}`),
        );
      }
      case 'claimLink': {
        // Someone money was sent to links now: what waits for them is theirs, once.
        if (this.claimHandles.length === 0) return;
        const i = this.rng.int(this.claimHandles.length);
        const handle = this.claimHandles[i]!;
        this.claimHandles.splice(i, 1);
        return this.link(apis, handle);
      }
      case 'topUp':
        return this.topUp(apis);
      case 'giftOffer':
        return this.createOffer(apis, true);
      case 'redeem':
        return this.redeem(apis);
      case 'cardOffer':
        return this.createCardOffer(apis);
      case 'enrol': {
        if (this.cardOffers.length === 0) return this.createCardOffer(apis);
        const offer = this.rng.pick(this.cardOffers);
        return this.emitPost(
          posts,
          this.postEvent(this.shopperHandle(), `saving this #${offer.hashtag}`),
        );
      }
      case 'cardTxn':
        return this.cardTransaction(posts);
      case 'apiReplay': {
        if (this.recentApi.length === 0) return;
        // A client retries a request with the same idempotency key: one command, one answer.
        this.stats.apiReplays++;
        const first = this.rng.pick(this.recentApi);
        apis.push({ ...first, replay: true, onAnswer: () => {} });
        return;
      }
      case 'faults': {
        const f = this.faultRng;
        this.chargeErrorRate = f.chance(0.5) ? 0 : f.pick([0.05, 0.2, 0.5]);
        this.chargeTimeoutRate = f.chance(0.5) ? 0 : f.pick([0.05, 0.2, 0.5]);
        this.refundErrorRate = f.chance(0.5) ? 0 : f.pick([0.1, 0.3]);
        this.refundTimeoutRate = f.chance(0.5) ? 0 : f.pick([0.1, 0.3]);
        this.network.failRate = f.chance(0.6) ? 0 : f.pick([0.05, 0.2]);
        return;
      }
    }
  }

  private api(principal: string, command: ApiCommand): Omit<PendingApi, 'onAnswer'> {
    this.stats.apiCommands++;
    const key = `api:${principal}:${this.nextId('idem')}`;
    const event: ApiEvent = {
      kind: 'api',
      principal,
      requestHash: sha256(JSON.stringify(command)),
      command,
    };
    return { key, event, replay: false };
  }

  private createMerchant(apis: PendingApi[]): void {
    const handle =
      this.merchants.length > 0 && this.rng.chance(0.1)
        ? this.rng.pick(this.merchants).handle // taken: must be refused
        : this.nextId('m');
    const random = this.rng.bytes();
    const event = this.api('admin', {
      op: 'merchant.create',
      network: NETWORK,
      handle,
      name: `Shop ${handle}`,
      webhookUrl: null,
      webhookSecret: newSecret('whsec', random),
      keyHash: sha256(newSecret('sk', random)),
      feeBps: this.rng.pick([null, 0, 100, 250, 999]),
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        const taken = this.merchants.some((m) => m.handle === handle);
        if (status === 201) {
          if (taken) this.violation('merchant_unique', `@${handle} created twice`);
          this.merchants.push({ id: body.id, handle });
          this.acked.push({ key: event.key, status, table: 'merchants', id: body.id });
        } else if (!taken) {
          this.violation('api_answer', `merchant @${handle} refused: ${JSON.stringify(body)}`);
        }
      },
    });
  }

  private createOffer(apis: PendingApi[], gift = false): void {
    if (this.merchants.length === 0) return this.createMerchant(apis);
    const merchant = this.rng.pick(this.merchants);
    const hashtag =
      this.rng.chance(0.05) && this.offers.length > 0
        ? this.rng.pick(this.offers).hashtag
        : `Sim${this.nextId('o')}`;
    const currency = this.rng.pick(CURRENCIES);
    const price = currency === 'JPY' ? this.rng.range(100, 30_000) : this.rng.range(50, 20_000);
    const variants: string[] = this.rng.chance(0.3) ? VARIANTS.slice(0, this.rng.range(2, 4)) : [];
    const event = this.api(merchant.id, {
      op: 'offer.create',
      merchantId: merchant.id,
      title: `Item ${hashtag}`,
      priceMinor: String(price),
      currency,
      quantity: this.rng.range(1, 25),
      hashtag,
      variants,
      perBuyerMax: this.rng.chance(0.2) ? this.rng.range(1, 3) : null,
      windowMs: this.rng.range(1, 15) * 60_000,
      startsAt: null,
      endsAt: this.rng.chance(0.1) ? this.clock.ms + this.rng.range(1, 48) * 60 * 60_000 : null,
      publish: this.rng.chance(0.9),
    });
    if (gift) {
      // A gift card sold for less than it is worth (Amex's $25 card for $15): the merchant funds the rest.
      const command = event.event.command as Extract<ApiCommand, { op: 'offer.create' }>;
      const value = BigInt(price) + BigInt(this.rng.range(0, price));
      event.event.command = {
        op: 'giftcard.offer_create',
        offer: { ...command, variants: [] },
        valueMinor: value.toString(),
      };
      event.event.requestHash = sha256(JSON.stringify(event.event.command));
      variants.length = 0;
    }
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (status !== 201) return;
        if (gift) this.giftOffers++;
        this.offers.push({
          id: body.id,
          merchant,
          hashtag,
          variants,
          status: body.status,
        });
        this.acked.push({ key: event.key, status, table: 'offers', id: body.id });
      },
    });
  }

  private link(apis: PendingApi[], chosen?: string): void {
    const handle = chosen ?? this.shopperHandle();
    // A re-link mostly keeps the card: a changed card (or e-mail) starts the 24-hour re-link cool-down,
    // and re-linking every handle with a new card each time would keep every shopper cooling down.
    const kept = this.shopperCards.get(handle);
    const card =
      kept !== undefined && !this.rng.chance(0.05)
        ? kept
        : this.rng.weighted<CardKind>({ ok: 80, declined: 7, insufficient: 6, error: 7 });
    this.shopperCards.set(handle, card);
    // Any re-link may start the cool-down: the model cannot always know the engine's card (a link
    // lost in a crash may or may not have been logged), so each re-link's window is kept.
    const relink =
      kept === undefined ? null : { sent: this.clock.ms, answered: null as number | null };
    if (relink !== null) {
      // Kept long: a top-up sent before a clock jump may be answered days of sim time later.
      const windows = (this.relinks.get(handle) ?? [])
        .filter((w) => this.clock.ms - w.sent < RELINKS_KEPT_MS)
        .slice(-RELINKS_KEPT_MAX);
      windows.push(relink);
      this.relinks.set(handle, windows);
    }
    const own = this.rng.chance(0.7);
    const event = this.api('admin', {
      op: 'shopper.link',
      network: NETWORK,
      account: handle,
      handle,
      email: `${handle}@sim.test`,
      shippingAddress: {
        name: handle.toUpperCase(),
        line1: '1 Main St',
        city: 'Springfield',
        postal_code: '12345',
        country: 'US',
      },
      cardToken: this.cards.get(card)!,
      cardBrand: 'visa',
      cardLast4: CARD_NUMBERS[card].slice(-4),
      purchaseLimitMinor: own ? String(this.rng.range(5_000, 100_000)) : null,
      dailyLimitMinor: own ? String(this.rng.range(100_000, 10_000_000)) : null,
      limitCurrency: own ? 'USD' : null,
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (status !== 201 && status !== 200)
          this.violation('api_answer', `link @${handle} refused: ${JSON.stringify(body)}`);
        if (status === 201 && this.linked.has(handle))
          this.violation('api_answer', `@${handle} linked again answered 201, not 200`);
        this.linked.add(handle);
        this.shopperIds.set(handle, body.id);
        if (relink !== null) relink.answered = this.clock.ms;
        this.acked.push({ key: event.key, status, table: 'shoppers', id: body.id });
      },
    });
  }

  private refund(apis: PendingApi[]): void {
    if (this.paidOrders.length === 0) return;
    const paid = this.rng.pick(this.paidOrders);
    // Now and then another merchant tries: tenants never reach each other's orders.
    const stranger =
      this.merchants.length > 1 && this.rng.chance(0.1)
        ? this.merchants.find((m) => m.id !== paid.merchant)!
        : null;
    const merchantId = stranger?.id ?? paid.merchant;
    this.stats.refundsAsked++;
    const partial = this.rng.chance(0.3) ? String(this.rng.range(1, 2_000)) : null;
    const event = this.api(merchantId, {
      op: 'order.refund',
      merchantId,
      orderId: paid.orderId,
      // A partial refund now and then (more than is left is refused). Partial refunds do not restock:
      // the orders table does not record the units an order already gave back, so a second partial
      // refund with restock puts the same units on sale again (reported; seed 4 found it).
      restock: partial === null && this.rng.chance(0.5),
      amountMinor: partial,
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (stranger !== null && status !== 404)
          this.violation(
            'tenant_isolation',
            `merchant ${stranger.id} refunding another's order ${paid.orderId} got ${status} ${JSON.stringify(body)}`,
          );
        if (status === 200)
          this.acked.push({ key: event.key, status, table: 'orders', id: paid.orderId });
      },
    });
  }

  /**
   * `#pay @someone $X`: to a linked shopper (credited at once, or after the code for a new pair or a
   * larger amount), or to a handle that has not linked (held for a claim, then claimed or returned).
   */
  private pay(posts: NewEvent[]): void {
    const linked = [...this.linked].filter((h) => h.startsWith('u'));
    if (linked.length === 0) return;
    const payer = this.rng.pick(linked);
    let to: string;
    if (this.rng.chance(0.25)) {
      to = this.nextId('c');
      this.claimHandles.push(to);
      if (this.claimHandles.length > RECENT_MAX) this.claimHandles.shift();
    } else to = this.shopperHandle();
    const r = this.rng.next();
    const amount =
      r < 0.6
        ? `$${this.rng.range(1, 25)}`
        : r < 0.9
          ? `$${this.rng.range(26, 120)}.${String(this.rng.int(100)).padStart(2, '0')}`
          : `${this.rng.range(1, 40)} EUR`;
    const event = this.postEvent(
      payer,
      `#pay @${to} ${amount} ${this.rng.pick(['pizza', 'rent', ''])}`,
    );
    this.payPosts.set((event.body as PostEvent).postId, { payer, code: null });
    this.emitPost(posts, event);
  }

  private topUp(apis: PendingApi[]): void {
    if (this.shopperIds.size === 0) return;
    const [handle, shopperId] = this.rng.pick([...this.shopperIds]);
    const currency = this.rng.pick(CURRENCIES);
    const sent = this.clock.ms;
    const event = this.api(shopperId, {
      op: 'wallet.top_up',
      shopperId,
      amountMinor: String(this.rng.range(100, currency === 'JPY' ? 20_000 : 10_000)),
      currency,
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (status === 202) return;
        // Refused during a re-link cool-down (a re-link with another card): it began when a re-link
        // of this handle was logged — between sending it and its answer, or any time after if no
        // answer came (a crash; the clock may jump in between) — and was not over when the top-up
        // was sent.
        const refusal = body as { error?: { code?: string; message?: string } };
        const until = Date.parse(
          /send money again from (\S+?)\.?$/.exec(refusal.error?.message ?? '')?.[1] ?? '',
        );
        const begun = (this.relinks.get(handle) ?? []).some(
          (w) =>
            until >= w.sent + RELINK_COOL_DOWN_MS - COOL_DOWN_SLACK_MS &&
            until <= (w.answered ?? this.clock.ms) + RELINK_COOL_DOWN_MS + COOL_DOWN_SLACK_MS,
        );
        if (
          begun &&
          status === 403 &&
          refusal.error?.code === 'PAYMENT_REFUSED' &&
          // Decided when it was logged, between sending and this answer (the clock may have jumped).
          sent < until + COOL_DOWN_SLACK_MS
        )
          return;
        this.violation(
          'api_answer',
          `top-up of @${handle} answered ${status} ${JSON.stringify(body)}`,
        );
      },
    });
  }

  private redeem(apis: PendingApi[]): void {
    if (this.giftCodes.length === 0 || this.shopperIds.size === 0) return;
    const card = this.rng.pick(this.giftCodes);
    // Any holder of the code may redeem it (a gift); a second redemption must be refused.
    const [, shopperId] = this.rng.pick([...this.shopperIds]);
    const event = this.api(shopperId, {
      op: 'giftcard.redeem',
      shopperId,
      codeHash: hashGiftCode(normalizeGiftCode(card.code)!),
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (status === 200) {
          if (card.redeemed) this.violation('gift_card_once', `${card.code} redeemed twice`);
          card.redeemed = true;
        } else if (!card.redeemed || body?.error?.code !== 'GIFT_CARD_USED')
          this.violation('api_answer', `redeem answered ${status} ${JSON.stringify(body)}`);
      },
    });
  }

  private createCardOffer(apis: PendingApi[]): void {
    if (this.merchants.length === 0) return this.createMerchant(apis);
    const merchant = this.rng.pick(this.merchants);
    const hashtag = `Save${this.nextId('k')}`;
    const currency = this.rng.pick(CURRENCIES);
    const minSpend = this.rng.range(100, 5_000);
    const event = this.api(merchant.id, {
      op: 'card_offer.create',
      merchantId: merchant.id,
      title: `Save at ${merchant.handle}`,
      hashtag,
      creditMinor: String(this.rng.range(50, minSpend)),
      minSpendMinor: String(minSpend),
      currency,
      startsAt: null,
      endsAt: this.clock.ms + this.rng.range(1, 30) * 24 * 60 * 60_000,
      maxEnrolments: this.rng.range(5, 200),
    });
    apis.push({
      ...event,
      onAnswer: (status, body) => {
        if (status !== 201) return;
        this.cardOffers.push({ id: body.id, hashtag, merchantId: merchant.id, currency });
        if (this.cardOffers.length > OPEN_OFFERS_MAX) this.cardOffers.shift();
      },
    });
  }

  /**
   * A card used at a merchant, as the processor reports it (webhook or settlement file, keyed by the
   * transaction id): now and then the same transaction again, or a refund of an earlier one.
   */
  private cardTransaction(posts: NewEvent[]): void {
    if (this.cardTxns.length > 0 && this.rng.chance(0.15)) {
      // Reported twice (the webhook and the settlement file): one credit at most.
      posts.push(this.rng.pick(this.cardTxns));
      return;
    }
    if (this.cardOffers.length === 0 || this.cards.size === 0) return;
    const offer = this.rng.pick(this.cardOffers);
    const card = this.cards.get(this.rng.pick([...this.cards.keys()]))!;
    const earlier =
      this.cardTxns.length > 0 && this.rng.chance(0.2) ? this.rng.pick(this.cardTxns) : null;
    const original = earlier?.body as CardTransactionEvent | undefined;
    const txnId = this.nextId('txn');
    const body: CardTransactionEvent =
      original !== undefined && original.type === 'purchase'
        ? {
            kind: 'card_transaction',
            txnId,
            type: 'refund',
            cardToken: original.cardToken,
            merchantId: original.merchantId,
            amountMinor: String(this.rng.range(1, Number(original.amountMinor))),
            currency: original.currency,
            occurredAt: this.clock.ms,
            originalId: original.txnId,
          }
        : {
            kind: 'card_transaction',
            txnId,
            type: 'purchase',
            cardToken: card,
            merchantId: offer.merchantId,
            amountMinor: String(this.rng.range(50, 10_000)),
            currency: this.rng.chance(0.9) ? offer.currency : 'USD',
            occurredAt: this.clock.ms - this.rng.range(0, 60_000),
            originalId: null,
          };
    const event = { key: `txn:${txnId}`, body };
    this.cardTxns.push(event);
    if (this.cardTxns.length > RECENT_MAX) this.cardTxns.shift();
    posts.push(event);
  }

  /** Gift card codes are e-mailed to their buyer once: read the new mail as the buyers would. */
  private async readGiftMail(): Promise<void> {
    const { rows } = await this.raw.query<{ id: unknown; body: string }>(
      "SELECT id, body FROM mailbox WHERE id > $1 AND subject LIKE 'Your gift card%' ORDER BY id",
      [this.mailboxSeen],
    );
    for (const row of rows) {
      this.mailboxSeen = Math.max(this.mailboxSeen, Number(row.id));
      for (const code of row.body.match(/GC-[A-Z2-7]{4}(?:-[A-Z2-7]{4})+/g) ?? []) {
        this.giftCodes.push({ code, redeemed: false });
        if (this.giftCodes.length > RECENT_MAX) this.giftCodes.shift();
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // What comes back

  /** The answers to the step's API commands, once the engine committed them (acknowledged writes). */
  private async collectAnswers(apis: PendingApi[]): Promise<void> {
    if (apis.length === 0) return;
    const keys = [...new Set(apis.map((a) => a.key))];
    const { rows } = await this.raw.query<{ key: string; status: number; body: string }>(
      'SELECT key, status, body FROM api_results WHERE key = ANY($1::text[])',
      [keys],
    );
    const answers = new Map(rows.map((r) => [r.key, r]));
    for (const api of apis) {
      const answer = answers.get(api.key);
      if (answer === undefined) {
        const logged = await this.raw.query<{ seq: unknown }>(
          'SELECT seq FROM log WHERE key = $1',
          [api.key],
        );
        const cursor = await this.raw.query<{ value: string }>(
          "SELECT value FROM cursors WHERE name = 'engine'",
        );
        this.violation(
          'api_answer',
          `no answer to ${api.key} after the step settled (log seq ${String(logged.rows[0]?.seq)}, engine cursor ${cursor.rows[0]?.value}, crashes ${this.stats.crashes})`,
        );
      }
      if (api.replay) continue;
      this.stats.apiAcked++;
      this.recentApi.push(api);
      if (this.recentApi.length > RECENT_MAX) this.recentApi.shift();
      api.onAnswer(answer.status, JSON.parse(answer.body));
    }
  }

  /**
   * A reply tagpay posted on the simulated network: what the shopper learns. It runs inside the
   * outbox's delivery, so a broken invariant is noted here and raised by the step's check.
   */
  readonly replyKinds = new Map<string, number>();
  private onReply(req: PostRequest): void {
    if (process.env.SIM_DEBUG) {
      const k = req.text.slice(0, 30);
      this.replyKinds.set(k, (this.replyKinds.get(k) ?? 0) + 1);
    }
    if (req.replyTo === null) return;
    const payPost = this.payPosts.get(req.replyTo);
    if (payPost !== undefined) return this.onPayReply(payPost, req);
    const post = this.buyPosts.get(req.replyTo);
    const code = req.text.includes('reply with') ? /#(TP[A-Z2-7]{10})\b/.exec(req.text) : null;
    if (code) {
      const text = `#${code[1]}`;
      if (post === undefined)
        return this.note('code_binding', `code issued under unknown post ${req.replyTo}`);
      if (this.codes.has(text)) return this.note('code_once', `code ${text} issued twice`);
      if (post.code !== null)
        return this.note('code_once', `a second code for post ${req.replyTo}`);
      post.code = text;
      this.codes.set(text, req.replyTo);
      this.openCodes.push(text);
      if (this.openCodes.length > RECENT_MAX) this.openCodes.shift();
      this.stats.codesIssued++;
      return;
    }
    const paid = /^Paid: .* Order (ord_[a-z0-9]+) /.exec(req.text);
    if (paid) {
      const orderId = paid[1]!;
      if (post === undefined)
        return this.note('paid_binding', `paid reply under unknown post ${req.replyTo}`);
      post.paidKeys++;
      if (post.paidKeys > 1)
        return this.note('charged_twice', `post ${req.replyTo} told "paid" twice (${orderId})`);
      if (post.code === null || !this.posted.has(`${post.author}|${post.code}`))
        return this.note(
          'code_owner',
          `order ${orderId} paid without @${post.author} posting its code ${post.code}`,
        );
      post.orderId = orderId;
      this.stats.paid++;
      const entry = { orderId, merchant: '' };
      this.pendingPaid.push(entry);
    }
  }

  /** A reply under a `#pay` post: a payment code once at most, bound to that payment. */
  private onPayReply(payPost: { payer: string; code: string | null }, req: PostRequest): void {
    const code = req.text.includes('reply with') ? /#(TP[A-Z2-7]{10})\b/.exec(req.text) : null;
    if (code === null) return;
    const text = `#${code[1]}`;
    if (this.codes.has(text) || payPost.code !== null)
      return this.note('code_once', `payment code ${text} issued twice`);
    payPost.code = text;
    this.codes.set(text, req.replyTo!);
    this.openPayCodes.push({ code: text, payer: payPost.payer });
    if (this.openPayCodes.length > RECENT_MAX) this.openPayCodes.shift();
    this.stats.payCodesIssued++;
  }

  private noted: { invariant: string; detail: string } | null = null;
  private note(invariant: string, detail: string): void {
    this.noted ??= { invariant, detail };
  }

  /** Paid orders whose merchant the model has not looked up yet. */
  private readonly pendingPaid: { orderId: string; merchant: string }[] = [];

  private async check(): Promise<void> {
    if (this.noted !== null) this.violation(this.noted.invariant, this.noted.detail);
    await this.readGiftMail();
    if (this.pendingPaid.length > 0) {
      const { rows } = await this.raw.query<{ id: string; merchant_id: string }>(
        'SELECT id, merchant_id FROM orders WHERE id = ANY($1::text[])',
        [this.pendingPaid.map((p) => p.orderId)],
      );
      const byId = new Map(rows.map((r) => [r.id, r.merchant_id]));
      for (const p of this.pendingPaid.splice(0)) {
        const merchant = byId.get(p.orderId);
        if (merchant === undefined)
          this.violation('paid_binding', `paid order ${p.orderId} not in the database`);
        p.merchant = merchant;
        this.paidOrders.push(p);
        if (this.paidOrders.length > RECENT_MAX) this.paidOrders.shift();
      }
    }
    this.stats.checks++;
    const t = performance.now();
    // Every step checks what it wrote; every `fullCheckEvery` steps, every row again (what a scoped
    // check could miss, such as a row changed by a statement the triggers do not see).
    const written = await takeWritten(this.raw);
    const full = this.step % (this.opts.fullCheckEvery ?? FULL_CHECK_EVERY_STEPS) === 0;
    if (full) {
      this.stats.fullChecks++;
      // PGlite runs no autovacuum, so nothing gathers statistics: without them the planner scans
      // whole tables for the scoped checks' joins. The full check's pace keeps them current.
      await this.raw.query('ANALYZE');
    }
    const findings = await checkInvariants(
      this.raw,
      this.app,
      full ? { kind: 'full', final: false } : { kind: 'written', ids: written },
    );
    this.timing.check += performance.now() - t;
    if (findings.length > 0 && process.env.SIM_DEBUG) {
      const ids = [...findings[0]!.detail.matchAll(/"id":"([a-z]+_[a-z0-9]+)"/g)].map((m) => m[1]);
      const { rows } = await this.raw.query(
        'SELECT t.id, t.ref, p.debit, p.credit, p.minor::text FROM transfers t JOIN postings p ON p.transfer_id = t.id WHERE t.ref = ANY($1::text[])',
        [ids],
      );
      console.error(rows);
      const h = await this.raw.query('SELECT * FROM handle_payments WHERE id = ANY($1::text[])', [
        ids,
      ]);
      console.error(h.rows);
    }
    if (findings.length > 0) this.violation(findings[0]!.invariant, findings[0]!.detail);
  }

  private async checkAckedPresent(all: boolean): Promise<void> {
    const from = all ? 0 : this.ackedChecked;
    const findings = await checkAcked(this.raw, this.acked.slice(from));
    this.ackedChecked = this.acked.length;
    if (findings.length > 0) this.violation(findings[0]!.invariant, findings[0]!.detail);
  }

  /**
   * The end: faults off, the clock runs three days so every hold expires and every retry is done,
   * then nothing may be left in between (liveness) and every invariant holds, the ledger recomputed
   * from its postings.
   */
  private async finish(): Promise<void> {
    this.chargeErrorRate = this.chargeTimeoutRate = 0;
    this.refundErrorRate = this.refundTimeoutRate = 0;
    this.network.failRate = 0;
    this.sw.countdown = null;
    const released = this.delayed.splice(0).map((d) => d.event);
    await this.app.log.append(released);
    for (let hour = 0; hour < 72; hour++) {
      this.clock.ms += 60 * 60_000;
      await this.app.settle();
    }
    await this.restart();
    await this.app.settle();
    await this.checkAckedPresent(true);
    this.stats.checks++;
    this.stats.fullChecks++;
    const findings = await checkInvariants(this.raw, this.app, true);
    if (findings.length > 0) this.violation(findings[0]!.invariant, findings[0]!.detail);
    this.findings.push(...findings);
    const { rows } = await this.raw.query<{ what: string; n: unknown }>(
      `SELECT 'payment_' || status || coalesce('_' || failure, '') AS what, count(*) AS n FROM handle_payments GROUP BY 1
       UNION ALL SELECT 'top_up_' || status, count(*) FROM wallet_ops GROUP BY status
       UNION ALL SELECT 'card_credit_' || status, count(*) FROM card_credits GROUP BY status
       UNION ALL SELECT 'card_txn_' || outcome, count(*) FROM card_transactions GROUP BY outcome
       UNION ALL SELECT CASE WHEN redeemed_by IS NULL THEN 'gift_card_unused' ELSE 'gift_card_redeemed' END, count(*) FROM gift_cards GROUP BY 1
       UNION ALL SELECT 'order_' || status, count(*) FROM orders GROUP BY status
       UNION ALL SELECT 'order_paid_with_wallet', count(DISTINCT ref) FROM holds WHERE ref LIKE 'ord\\_%'
       UNION ALL SELECT 'order_partly_refunded', count(*) FROM orders WHERE refunded_minor > 0 AND refunded_minor < amount_minor`,
    );
    for (const r of rows) this.stats.outcomes[r.what] = Number(r.n);
  }
}
