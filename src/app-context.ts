import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import pino, { type Logger } from 'pino';
import { newSecret, sha256, type RandomBytes } from './core/codes.ts';
import {
  CHARGE_BATCH_MAX,
  DAY_MS,
  ENGINE_IDLE_POLL_MS,
  OUTBOX_IDLE_POLL_MS,
} from './core/limits.ts';
import { buyLinkPath } from './core/signing.ts';
import type { Config } from './config/env.ts';
import { Engine } from './engine/engine.ts';
import { InputLog, type Clock } from './engine/log.ts';
import { LocalConnector } from './networks/local/connector.ts';
import { LocalNetwork } from './networks/local/local.ts';
import type { Connector, ConnectorDeps } from './networks/connector.ts';
import type { NetworkClient } from './networks/network.ts';
import {
  chargeDeliverer,
  emailDeliverer,
  emailSender,
  postDeliverer,
  refundDeliverer,
  webhookDeliverer,
} from './outbox/deliverers.ts';
import { OutboxWorker } from './outbox/worker.ts';
import { cardCreditDeliverer } from './outbox/money-deliverers.ts';
import { SandboxProcessor } from './processors/sandbox/sandbox.ts';
import { SandboxBank } from './processors/sandbox/bank.ts';
import { statementCreditDeliverer, payoutDeliverer } from './outbox/statement-deliverers.ts';
import { Metrics } from './metrics.ts';
import { openPglite, openPostgres, type Db } from './store/db.ts';
import { migrate } from './store/migrations.ts';

export interface Overrides {
  clock?: Clock;
  random?: RandomBytes;
  db?: Db;
  logger?: Logger;
}

/**
 * A secret of this installation kept in the settings table, made at the first start: it signs the
 * e-mailed step-up and "not me" links, so it never enters the input log.
 */
export async function settingSecret(db: Db, name: string, random: RandomBytes): Promise<string> {
  await db.query(
    'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
    [name, newSecret('ls', random)],
  );
  const { rows } = await db.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [
    name,
  ]);
  return rows[0]!.value;
}

export const systemClock: Clock = { now: () => Date.now() };
/**
 * Cryptographic randomness, drawn from the OS in 64 KiB blocks: one `randomBytes` call per id or code
 * was the engine's largest single cost (measured by the purchases bench).
 */
export const systemRandom: RandomBytes = (() => {
  const BLOCK_BYTES = 64 * 1024;
  let block = randomBytes(BLOCK_BYTES);
  let at = 0;
  return (n: number) => {
    if (n > BLOCK_BYTES) return new Uint8Array(randomBytes(n));
    if (at + n > BLOCK_BYTES) {
      block = randomBytes(BLOCK_BYTES);
      at = 0;
    }
    const out = new Uint8Array(block.subarray(at, at + n));
    // Used bytes are wiped so no copy of a secret's randomness stays in the block.
    block.fill(0, at, at + n);
    at += n;
    return out;
  };
})();

/** Outbox lanes: money (charges, refunds) runs apart from replies, e-mails and webhooks. */
const CHARGE_KINDS = ['charge', 'refund', 'statement_credit', 'payout', 'card_credit'];
const EFFECT_KINDS = ['post', 'email', 'webhook'];

/** Redacted wherever it appears in a log line: card data and secrets never reach the logs. */
const LOG_REDACT = [
  '*.number',
  '*.cvc',
  '*.card_number',
  'req.headers.authorization',
  '*.token',
  '*.api_key',
  '*.password',
];

/** tagpay's logger: JSON lines (pino) with card data and secrets redacted; to stdout unless `write` is given. */
export function createLogger(level: string, write?: (line: string) => void): Logger {
  return write
    ? pino({ level, redact: LOG_REDACT }, { write })
    : pino({ level, redact: LOG_REDACT });
}

/**
 * The composition root: everything tagpay is made of, wired once from the config. Tests pass
 * overrides (a manual clock, seeded randomness, their own database).
 */
export class AppContext implements AsyncDisposable {
  private stopped = true;
  /** While settling, the background loops start no new step, so settle sees every consequence. */
  private settling = 0;
  private loops: Promise<void>[] = [];
  private wakeEngine: () => void = () => {};
  private wakeOutbox: () => void = () => {};
  private wakeCharges: () => void = () => {};
  private wakeConnector: () => void = () => {};

  private constructor(
    /** Signs buy-now links and OAuth codes (TAGPAY_SIGNING_KEY, or one generated at the first start). */
    readonly signingKey: string,
    readonly config: Config,
    readonly db: Db,
    readonly clock: Clock,
    readonly random: RandomBytes,
    readonly logger: Logger,
    readonly log: InputLog,
    readonly engine: Engine,
    readonly local: LocalNetwork,
    readonly connector: LocalConnector,
    readonly processor: SandboxProcessor,
    readonly outbox: OutboxWorker,
    readonly metrics: Metrics,
    /** Every connected network's client, by name ('local' always). */
    readonly networks: Map<string, NetworkClient>,
    /** Connectors of the networks beyond the local one (which has its own, `connector`). */
    readonly connectors: Connector[],
    /** Where payouts go (the sandbox bank). */
    readonly bank: SandboxBank,
  ) {
    log.onAppend((added) => {
      for (const e of added) metrics.eventsIngested.inc({ kind: e.body.kind });
      this.wakeEngine();
    });
    engine.onBatch((stats) => {
      metrics.batchEvents.observe(stats.events);
      metrics.commitSeconds.observe(stats.ms / 1000);
      metrics.batchPhaseSeconds.observe({ phase: 'decide' }, stats.decideMs / 1000);
      metrics.batchPhaseSeconds.observe({ phase: 'plan' }, stats.planMs / 1000);
      metrics.batchPhaseSeconds.observe({ phase: 'wait' }, stats.waitMs / 1000);
      metrics.batchPhaseSeconds.observe({ phase: 'write' }, stats.writeMs / 1000);
    });
    local.onPost(() => this.wakeConnector());
    engine.onBatch(() => {
      this.wakeCharges();
      this.wakeOutbox();
    });
  }

  static async fromConfig(config: Config, overrides: Overrides = {}): Promise<AppContext> {
    const logger = overrides.logger ?? createLogger(config.logLevel);
    const clock = overrides.clock ?? systemClock;
    const random = overrides.random ?? systemRandom;
    const db =
      overrides.db ??
      (config.databaseUrl
        ? await openPostgres(config.databaseUrl)
        : await openPglite(config.dataDir));
    const applied = await migrate(db);
    if (applied.length > 0)
      logger.info({ migrations: applied, storage: db.kind }, 'migrations applied');
    const log = new InputLog(db, clock);
    const signingKey = await ensureSigningKey(db, config.signingKey, random);
    const local = new LocalNetwork(db, clock);
    await local.ensureAccount(config.botHandle);
    // tagpay's own account on each network, filled in as the networks connect.
    const selves = new Map<string, string>();
    const engine = await Engine.open(
      db,
      log,
      {
        random,
        feeBps: config.feeBps,
        publicUrl: config.publicUrl,
        botHandle: (network) => selves.get(network) ?? config.botHandle,
        safety: {
          purchasesPerHourMax: config.purchasesPerHourMax,
          cardDailyMajorMax: config.cardDailyMajorMax,
          anomalyStepUp: config.anomalyStepUp,
          linkSecret: await settingSecret(db, 'link_secret', random),
        },
        claimPeriodMs: config.claimDays * DAY_MS,
        defaultCurrency: config.defaultCurrency,
        buyLink: (offerId, expiresAtMs) =>
          config.publicUrl + buyLinkPath(signingKey, offerId, expiresAtMs),
      },
      logger,
    );
    const processor = new SandboxProcessor(db, clock);
    const bank = new SandboxBank(db, clock);
    const smtp = config.smtpUrl ? nodemailer.createTransport(config.smtpUrl) : null;
    const mailer = emailSender(db, clock, smtp, config.emailFrom);
    const networks = new Map<string, NetworkClient>([['local', local]]);
    const connectors: Connector[] = [];
    const deps: ConnectorDeps = {
      db,
      log,
      clock,
      logger,
      liveHashtags: () => [
        ...[...engine.view.offerByTag.values()]
          .filter((o) => o.status === 'live')
          .map((o) => o.hashtag.toLowerCase()),
        ...[...engine.view.cards.byTag.keys()],
      ],
    };
    const remotes = [
      ['bluesky', config.bluesky, () => import('./networks/bluesky/index.ts')],
      ['mastodon', config.mastodon, () => import('./networks/mastodon/index.ts')],
      ['x', config.x, () => import('./networks/x/index.ts')],
    ] as const;
    for (const [name, networkConfig, load] of remotes) {
      if (networkConfig === null) continue;
      const { client, connector } = await (await load()).connect(networkConfig as never, deps);
      networks.set(name, client);
      selves.set(name, client.self);
      connectors.push(connector);
      logger.info({ network: name, account: client.self }, 'network connected');
    }
    const metrics = new Metrics(
      db,
      () => engine,
      () => connectors.map((c) => c.health()),
    );
    const outbox = new OutboxWorker(
      db,
      clock,
      {
        post: postDeliverer(networks, mailer, logger, log),
        email: emailDeliverer(mailer),
        charge: chargeDeliverer(processor, log),
        refund: refundDeliverer(processor, log),
        card_credit: cardCreditDeliverer(processor, log),
        webhook: webhookDeliverer(db, clock, config.webhookAllowPrivate),
        statement_credit: statementCreditDeliverer(processor),
        payout: payoutDeliverer(bank, log),
      },
      logger,
      (kind, outcome) => metrics.deliveries.inc({ kind, outcome }),
    );
    return new AppContext(
      signingKey,
      config,
      db,
      clock,
      random,
      logger,
      log,
      engine,
      local,
      new LocalConnector(db, log),
      processor,
      outbox,
      metrics,
      networks,
      connectors,
      bank,
    );
  }

  /**
   * Makes sure an admin key exists: TAGPAY_ADMIN_KEY when set, otherwise one generated at the first
   * start. Only its hash is stored; a generated key is returned once so the caller can print it.
   */
  async ensureAdminKey(): Promise<string | null> {
    if (this.config.adminKey !== null) {
      await this.db.query(
        "INSERT INTO settings (name, value) VALUES ('admin_key_hash', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [sha256(this.config.adminKey)],
      );
      return null;
    }
    const existing = await this.db.query("SELECT 1 FROM settings WHERE name = 'admin_key_hash'");
    if (existing.rows.length > 0) return null;
    const key = newSecret('ak', this.random);
    await this.db.query("INSERT INTO settings (name, value) VALUES ('admin_key_hash', $1)", [
      sha256(key),
    ]);
    return key;
  }

  async isAdminKey(key: string): Promise<boolean> {
    const { rows } = await this.db.query<{ value: string }>(
      "SELECT value FROM settings WHERE name = 'admin_key_hash'",
    );
    return rows[0]?.value === sha256(key);
  }

  /** Appends a tick when a checkout deadline has passed; true if it did. */
  async tickIfDue(): Promise<boolean> {
    const deadline = this.engine.nextDeadline();
    const now = this.clock.now();
    if (deadline === null || deadline > now) return false;
    const [seq] = await this.log.append([{ key: `tick:${now}`, body: { kind: 'tick' } }]);
    return seq !== null;
  }

  /** Starts the background loops: connector, clock, engine, outbox. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    for (const connector of this.connectors) {
      connector
        .start()
        .catch((error: unknown) =>
          this.logger.error(
            { err: error, network: connector.network },
            'connector failed to start',
          ),
        );
    }
    this.loops = [
      this.loop(
        'connector',
        (wake) => (this.wakeConnector = wake),
        () => this.connector.pump(),
        ENGINE_IDLE_POLL_MS,
      ),
      this.loop(
        'clock',
        () => {},
        async () => ((await this.tickIfDue()) ? 1 : 0),
        1000,
      ),
      this.loop(
        'engine',
        (wake) => (this.wakeEngine = wake),
        () => this.engine.runBatch(),
        ENGINE_IDLE_POLL_MS,
      ),
      this.loop(
        'charges',
        (wake) => (this.wakeCharges = wake),
        () => this.outbox.runOnce(CHARGE_KINDS, CHARGE_BATCH_MAX),
        OUTBOX_IDLE_POLL_MS,
      ),
      this.loop(
        'outbox',
        (wake) => (this.wakeOutbox = wake),
        () => this.outbox.runOnce(EFFECT_KINDS),
        OUTBOX_IDLE_POLL_MS,
      ),
    ];
  }

  private readonly wakers: (() => void)[] = [];

  private async loop(
    name: string,
    setWake: (wake: () => void) => void,
    step: () => Promise<number>,
    idleMs: number,
  ): Promise<void> {
    let wake: () => void = () => {};
    // A wake-up that comes while the step runs is kept: the step may have looked just before the
    // work that woke it landed, and sleeping then would leave that work for the idle poll.
    let woken = false;
    const wakeUp = () => {
      woken = true;
      wake();
    };
    setWake(wakeUp);
    this.wakers.push(wakeUp);
    while (!this.stopped) {
      let worked = 0;
      woken = false;
      try {
        if (this.settling === 0) worked = await step();
      } catch (error) {
        this.logger.error({ err: error, loop: name }, 'loop step failed');
      }
      if (worked > 0 || this.stopped || (woken && this.settling === 0)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, idleMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = () => {};
    }
  }

  /**
   * Runs every stage until nothing moves: posts into the log, deadlines into ticks, the log through the
   * engine, due outbox rows out. Tests use it to wait for the consequences of what they did.
   */
  async settle(): Promise<void> {
    this.settling++;
    try {
      for (let round = 0; round < 10_000; round++) {
        let moved = await this.connector.pump();
        if (await this.tickIfDue()) moved++;
        moved += await this.engine.drain();
        const [charges, effects] = await Promise.all([
          this.outbox.runOnce(CHARGE_KINDS, CHARGE_BATCH_MAX),
          this.outbox.runOnce(EFFECT_KINDS),
        ]);
        moved += charges + effects;
        // A background step that was already running has finished by now (each stage is serial): take
        // what it appended too before calling the system quiet.
        moved += await this.engine.drain();
        if (moved === 0) return;
      }
      throw new Error('settle: still moving after 10,000 rounds');
    } finally {
      this.settling--;
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.connectors.map((c) => c.stop().catch(() => {})));
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    this.wakers.length = 0;
    await this.engine
      .flush()
      .catch((error: unknown) => this.logger.error({ err: error }, 'last commit failed'));
    await this.db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The key that signs buy-now links and OAuth codes: TAGPAY_SIGNING_KEY when set, otherwise one
 * generated at the first start and kept in the settings table, so links outlive a restart.
 */
async function ensureSigningKey(db: Db, configured: string | null, random: RandomBytes) {
  if (configured !== null) return configured;
  const { rows } = await db.query<{ value: string }>(
    "SELECT value FROM settings WHERE name = 'signing_key'",
  );
  if (rows[0]) return rows[0].value;
  const key = newSecret('sk_sign', random);
  await db.query(
    "INSERT INTO settings (name, value) VALUES ('signing_key', $1) ON CONFLICT (name) DO NOTHING",
    [key],
  );
  const stored = await db.query<{ value: string }>(
    "SELECT value FROM settings WHERE name = 'signing_key'",
  );
  return stored.rows[0]!.value;
}
