import type { Context } from 'hono';
import { newSecret, sha256 } from '../core/codes.ts';
import { TagpayError } from '../core/errors.ts';
import { IDEMPOTENCY_KEY_CHARS_MAX } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';

export type Principal = { kind: 'admin' } | { kind: 'merchant'; merchantId: string };

export function bearer(c: Context): string | null {
  const header = c.req.header('authorization');
  if (!header) return null;
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header);
  return match ? match[1]! : null;
}

/** The admin key or a merchant's API key (stored as sha256, looked up by hash). */
export async function principalOf(app: AppContext, c: Context): Promise<Principal | null> {
  const token = bearer(c);
  if (token === null) return null;
  if (await app.isAdminKey(token)) return { kind: 'admin' };
  const { rows } = await app.db.query<{ merchant_id: string }>(
    'SELECT merchant_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL',
    [sha256(token)],
  );
  return rows[0] ? { kind: 'merchant', merchantId: rows[0].merchant_id } : null;
}

export async function requireAdmin(app: AppContext, c: Context): Promise<void> {
  const p = await principalOf(app, c);
  if (p === null) throw new TagpayError('UNAUTHENTICATED', 'Send the admin key as "Authorization: Bearer <key>".');
  if (p.kind !== 'admin') throw new TagpayError('FORBIDDEN', 'This needs the admin key.');
}

export async function requireMerchant(app: AppContext, c: Context): Promise<string> {
  const p = await principalOf(app, c);
  if (p === null) throw new TagpayError('UNAUTHENTICATED', 'Send a merchant API key as "Authorization: Bearer <key>".');
  if (p.kind !== 'merchant') throw new TagpayError('FORBIDDEN', 'This needs a merchant API key.');
  return p.merchantId;
}

export async function requirePrincipal(app: AppContext, c: Context): Promise<Principal> {
  const p = await principalOf(app, c);
  if (p === null) throw new TagpayError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <key>".');
  return p;
}

/** The handle of a local network bearer token: the proof that the caller owns that account. */
export async function requireLocalAccount(app: AppContext, c: Context): Promise<string> {
  const token = bearer(c);
  const handle = token === null ? null : await app.local.authenticate(token);
  if (handle === null) throw new TagpayError('UNAUTHENTICATED', 'Send a local network token as "Authorization: Bearer <token>".');
  return handle;
}

/**
 * The request's Idempotency-Key (Stripe's header), or a fresh one when the caller sent none, and the
 * hash of the request that the key is bound to.
 */
export async function idempotency(app: AppContext, c: Context): Promise<{ key: string; requestHash: string }> {
  const sent = c.req.header('idempotency-key');
  if (sent !== undefined && !new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_CHARS_MAX}}$`).test(sent)) {
    throw new TagpayError('IDEMPOTENCY_KEY_INVALID', `An Idempotency-Key is 1 to ${IDEMPOTENCY_KEY_CHARS_MAX} printable ASCII characters.`);
  }
  const body = await c.req.json().catch(() => null);
  const requestHash = sha256(`${c.req.method} ${c.req.path} ${JSON.stringify(body)}`);
  return { key: sent ?? newSecret('auto', app.random), requestHash };
}
