import { FEE_BPS_DEFAULT, FEE_BPS_MAX } from '../core/limits.ts';

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
  const adminKey = env.TAGPAY_ADMIN_KEY || null;
  if (adminKey !== null && adminKey.length < 24) {
    throw new ConfigError(
      'TAGPAY_ADMIN_KEY must be at least 24 characters; leave it unset to have one generated',
    );
  }
  const publicUrl = (
    url(env, 'TAGPAY_PUBLIC_URL', ['http:', 'https:']) ?? `http://localhost:${port}`
  ).replace(/\/+$/, '');
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
    demo: bool(env, 'TAGPAY_DEMO', databaseUrl === null),
    smtpUrl: url(env, 'SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom: env.TAGPAY_EMAIL_FROM || 'tagpay <no-reply@tagpay.localhost>',
    botHandle,
    logLevel: env.LOG_LEVEL || 'info',
  };
}
