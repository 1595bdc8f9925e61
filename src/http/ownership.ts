import { createHmac, timingSafeEqual } from 'node:crypto';
import { newSecret } from '../core/codes.ts';
import { TagpayError } from '../core/errors.ts';
import { OWNERSHIP_PROOF_TTL_MS } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';

/**
 * Proofs of ownership: short-lived tokens, signed by this tagpay, saying that whoever holds one showed
 * they control an account on a network (Bluesky: a session made with their app password on their own
 * PDS; Mastodon: an OAuth approval on their own server; local: their token). `POST /v1/shoppers`
 * and `POST /v1/shoppers/{id}/handles` accept one instead of the admin key, for that handle only.
 *
 * A token is `own_<payload>.<signature>`: the payload is base64url JSON, the signature
 * HMAC-SHA256 over a purpose label and the payload, with a secret made at the first use and kept in
 * the settings table (never sent anywhere). Nothing about the shopper's credentials is in it.
 */

/** A handle someone proved they control. */
export interface Ownership {
  network: string;
  /** The account posts come from (see PostEvent.author): a DID on Bluesky, `user@server` on Mastodon. */
  account: string;
  handle: string;
}

const PROOF_PREFIX = 'own_';
const SECRET_SETTING = 'ownership_secret';
const secrets = new WeakMap<AppContext, Promise<Buffer>>();

function secretOf(app: AppContext): Promise<Buffer> {
  let found = secrets.get(app);
  if (found === undefined) {
    found = (async () => {
      await app.db.query(
        'INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
        [SECRET_SETTING, newSecret('sk', app.random)],
      );
      const { rows } = await app.db.query<{ value: string }>(
        'SELECT value FROM settings WHERE name = $1',
        [SECRET_SETTING],
      );
      return Buffer.from(rows[0]!.value, 'utf8');
    })();
    found.catch(() => secrets.delete(app));
    secrets.set(app, found);
  }
  return found;
}

function mac(secret: Buffer, purpose: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(`tagpay:${purpose}:${payload}`).digest();
}

/** Signs `data` for `purpose` until `ttlMs` from now: `<prefix><payload>.<signature>`. */
export async function sign(
  app: AppContext,
  purpose: string,
  prefix: string,
  data: object,
  ttlMs: number,
): Promise<{ token: string; expiresAt: number }> {
  const expiresAt = app.clock.now() + ttlMs;
  const payload = Buffer.from(JSON.stringify({ ...data, exp: expiresAt })).toString('base64url');
  const signature = mac(await secretOf(app), purpose, payload).toString('base64url');
  return { token: `${prefix}${payload}.${signature}`, expiresAt };
}

/** The data of a token signed for `purpose` and not expired, or null (forged, altered, expired). */
export async function verify(
  app: AppContext,
  purpose: string,
  prefix: string,
  token: string,
): Promise<Record<string, unknown> | null> {
  if (!token.startsWith(prefix) || token.length > 4096) return null;
  const [payload, signature, extra] = token.slice(prefix.length).split('.');
  if (payload === undefined || signature === undefined || extra !== undefined) return null;
  const expected = mac(await secretOf(app), purpose, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  const record = data as Record<string, unknown>;
  if (typeof record.exp !== 'number' || record.exp <= app.clock.now()) return null;
  return record;
}

/** A proof that its holder controls `owner`, valid for OWNERSHIP_PROOF_TTL_MS. */
export async function issueProof(
  app: AppContext,
  owner: Ownership,
): Promise<{ proof: string; expires_at: string } & Ownership> {
  const { token, expiresAt } = await sign(
    app,
    'ownership',
    PROOF_PREFIX,
    { n: owner.network, a: owner.account, h: owner.handle },
    OWNERSHIP_PROOF_TTL_MS,
  );
  return { proof: token, expires_at: new Date(expiresAt).toISOString(), ...owner };
}

export function looksLikeProof(token: string): boolean {
  return token.startsWith(PROOF_PREFIX);
}

/** The handle a proof was issued for; PROOF_INVALID when it is not one of this tagpay's, or expired. */
export async function readProof(app: AppContext, token: string): Promise<Ownership> {
  const data = await verify(app, 'ownership', PROOF_PREFIX, token);
  if (
    data === null ||
    typeof data.n !== 'string' ||
    typeof data.a !== 'string' ||
    typeof data.h !== 'string'
  ) {
    throw new TagpayError(
      'PROOF_INVALID',
      'This proof of ownership is expired or was not issued by this tagpay; prove the handle again.',
      'proof',
    );
  }
  return { network: data.n, account: data.a, handle: data.h };
}
