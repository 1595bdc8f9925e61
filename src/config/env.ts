import {
  CARD_DAILY_MAJOR_MAX_DEFAULT,
  CLAIM_PERIOD_MS_DEFAULT,
  CLAIM_PERIOD_MS_MAX,
  CLAIM_PERIOD_MS_MIN,
  DAY_MS,
  FEE_BPS_DEFAULT,
  FEE_BPS_MAX,
  PURCHASES_PER_HOUR_MAX_DEFAULT,
  PURCHASES_PER_HOUR_MAX_DEMO,
  RATE_LIMIT_PER_S_DEFAULT,
} from '../core/limits.ts';
import { isCurrency } from '../core/money.ts';

/** tagpay's whole configuration, typed, with its defaults. The environment is read here and nowhere else. */
export interface Config {
  port: number;
  host: string;
  /** PGlite's folder (embedded mode); unused when `databaseUrl` is set. */
  dataDir: string;
  /** A Postgres server (server mode); null for the embedded PGlite. */
  databaseUrl: string | null;
  adminKey: string | null;
  publicUrl: string;
  feeBps: number;
  /** Seed a demo merchant, offers and shoppers, and let the first page post as demo users. */
  demo: boolean;
  smtpUrl: string | null;
  emailFrom: string;
  botHandle: string;
  logLevel: string;
  /** Let webhooks target private and loopback addresses (a self-hosted setup); off: SSRF guard. */
  webhookAllowPrivate: boolean;
  /** Signs buy-now links and OAuth codes; null: generated once and kept in the database. */
  signingKey: string | null;
  /** API requests per second per key and per address (0: no limit). */
  rateLimitPerS: number;
  /** Checkouts one handle, or one card, may open per hour (0: no limit). */
  purchasesPerHourMax: number;
  /** What one card may be charged per day, in major units of the currency (0: no limit). */
  cardDailyMajorMax: number;
  /** Ask for a step-up by e-mail on anomalies (first spend, new owner, new address, unusual amount). */
  anomalyStepUp: boolean;
  /** Days an unlinked recipient has to claim money sent to their handle. */
  claimDays: number;
  /** The currency of an amount written without one, for shoppers who chose none. */
  defaultCurrency: string;
  /** Signs the card processor's transaction webhooks (card-linked offers); null: the endpoint is off. */
  processorWebhookSecret: string | null;
  /** Networks beyond the built-in local one; each is on when its service is configured. */
  bluesky: BlueskyConfig | null;
  mastodon: MastodonConfig | null;
  x: XConfig | null;
}

export interface BlueskyConfig {
  /** The PDS of tagpay's own account, e.g. https://bsky.social. */
  service: string;
  identifier: string;
  appPassword: string;
  /** A relay or PDS WebSocket base whose com.atproto.sync.subscribeRepos is read (signed commits). */
  firehose: string | null;
  /** A Jetstream URL (unsigned JSON; posts with codes are re-read from the author's PDS). */
  jetstream: string | null;
  plc: string;
}

export interface MastodonConfig {
  url: string;
  token: string;
}

export interface XConfig {
  bearerToken: string;
  /** OAuth 1.0a user context of tagpay's account, needed to reply. */
  apiKey: string | null;
  apiSecret: string | null;
  accessToken: string | null;
  accessSecret: string | null;
  apiBase: string;
}

function required(env: Env, name: string, because: string): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ConfigError(`${name} is required when ${because}`);
  return value;
}

function networksFrom(env: Env): Pick<Config, 'bluesky' | 'mastodon' | 'x'> {
  const bskyService = url(env, 'TAGPAY_BLUESKY_SERVICE', ['http:', 'https:']);
  let bluesky: BlueskyConfig | null = null;
  if (bskyService !== null) {
    const firehose = url(env, 'TAGPAY_BLUESKY_FIREHOSE', ['ws:', 'wss:']);
    const jetstream = url(env, 'TAGPAY_BLUESKY_JETSTREAM', ['ws:', 'wss:']);
    if (firehose !== null && jetstream !== null) {
      throw new ConfigError('set TAGPAY_BLUESKY_FIREHOSE or TAGPAY_BLUESKY_JETSTREAM, not both');
    }
    bluesky = {
      service: bskyService,
      identifier: required(env, 'TAGPAY_BLUESKY_IDENTIFIER', 'TAGPAY_BLUESKY_SERVICE is set'),
      appPassword: required(env, 'TAGPAY_BLUESKY_APP_PASSWORD', 'TAGPAY_BLUESKY_SERVICE is set'),
      firehose,
      jetstream,
      plc: url(env, 'TAGPAY_BLUESKY_PLC', ['http:', 'https:']) ?? 'https://plc.directory',
    };
  }
  const mastodonUrl = url(env, 'TAGPAY_MASTODON_URL', ['http:', 'https:']);
  const mastodon =
    mastodonUrl === null
      ? null
      : {
          url: mastodonUrl,
          token: required(env, 'TAGPAY_MASTODON_TOKEN', 'TAGPAY_MASTODON_URL is set'),
        };
  const bearer = env.TAGPAY_X_BEARER_TOKEN || null;
  const x =
    bearer === null
      ? null
      : {
          bearerToken: bearer,
          apiKey: env.TAGPAY_X_API_KEY || null,
          apiSecret: env.TAGPAY_X_API_SECRET || null,
          accessToken: env.TAGPAY_X_ACCESS_TOKEN || null,
          accessSecret: env.TAGPAY_X_ACCESS_SECRET || null,
          apiBase: url(env, 'TAGPAY_X_API_BASE', ['http:', 'https:']) ?? 'https://api.x.com',
        };
  return { bluesky, mastodon, x };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function currency(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!isCurrency(raw.toUpperCase()))
    throw new ConfigError(`${name} must be an ISO 4217 code tagpay knows, got "${raw}"`);
  return raw.toUpperCase();
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = env[name];
  if (raw === undefined || raw === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => p + '//').join(' or ')}`);
  }
  return raw;
}

/** Turns the environment into a Config; throws ConfigError with a message a person can act on. */
export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST || '127.0.0.1';
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const demo = bool(env, 'TAGPAY_DEMO', databaseUrl === null);
  const adminKey = env.TAGPAY_ADMIN_KEY || null;
  if (adminKey !== null && adminKey.length < 24) {
    throw new ConfigError(
      'TAGPAY_ADMIN_KEY must be at least 24 characters; leave it unset to have one generated',
    );
  }
  const publicUrl = (
    url(env, 'TAGPAY_PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`
  ).replace(/\/+$/, '');
  const signingKey = env.TAGPAY_SIGNING_KEY || null;
  if (signingKey !== null && signingKey.length < 32) {
    throw new ConfigError(
      'TAGPAY_SIGNING_KEY must be at least 32 characters; leave it unset to have one generated',
    );
  }
  const botHandle = (env.TAGPAY_BOT_HANDLE || 'tagpay').toLowerCase();
  if (!/^[a-z0-9_][a-z0-9_.-]{1,31}$/.test(botHandle))
    throw new ConfigError('TAGPAY_BOT_HANDLE is not a valid handle');
  return {
    port,
    host,
    dataDir: env.TAGPAY_DATA_DIR || './data',
    databaseUrl,
    adminKey,
    publicUrl,
    feeBps: int(env, 'TAGPAY_FEE_BPS', FEE_BPS_DEFAULT, 0, FEE_BPS_MAX),
    demo,
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom: env.TAGPAY_EMAIL_FROM || 'tagpay <no-reply@tagpay.localhost>',
    botHandle,
    logLevel: env.LOG_LEVEL || 'info',
    webhookAllowPrivate: bool(env, 'TAGPAY_WEBHOOK_ALLOW_PRIVATE', false),
    signingKey,
    rateLimitPerS: int(env, 'TAGPAY_RATE_LIMIT_PER_S', RATE_LIMIT_PER_S_DEFAULT, 0, 100_000),
    purchasesPerHourMax: int(
      env,
      'TAGPAY_PURCHASES_PER_HOUR_MAX',
      demo ? PURCHASES_PER_HOUR_MAX_DEMO : PURCHASES_PER_HOUR_MAX_DEFAULT,
      0,
      1_000_000,
    ),
    cardDailyMajorMax: int(
      env,
      'TAGPAY_CARD_DAILY_MAX',
      CARD_DAILY_MAJOR_MAX_DEFAULT,
      0,
      1_000_000_000,
    ),
    // The demo's shoppers buy minutes after they are linked: each first purchase would wait for an
    // e-mailed approval, so the demo leaves anomaly step-up off unless it is asked for.
    anomalyStepUp: bool(env, 'TAGPAY_ANOMALY_STEP_UP', !demo),
    claimDays: int(
      env,
      'TAGPAY_CLAIM_DAYS',
      CLAIM_PERIOD_MS_DEFAULT / DAY_MS,
      CLAIM_PERIOD_MS_MIN / DAY_MS < 1 ? 1 : CLAIM_PERIOD_MS_MIN / DAY_MS,
      CLAIM_PERIOD_MS_MAX / DAY_MS,
    ),
    defaultCurrency: currency(env, 'TAGPAY_DEFAULT_CURRENCY', 'USD'),
    processorWebhookSecret: processorSecret(env),
    ...networksFrom(env),
  };
}

/** The processor's webhook signing secret: at least 24 characters, like the admin key. */
function processorSecret(env: Env): string | null {
  const value = env.TAGPAY_PROCESSOR_WEBHOOK_SECRET;
  if (value === undefined || value === '') return null;
  if (value.length < 24)
    throw new ConfigError('TAGPAY_PROCESSOR_WEBHOOK_SECRET must be 24 characters or more');
  return value;
}
