import type { Context, MiddlewareHandler } from 'hono';
import { newSecret, sha256 } from '../core/codes.ts';
import { TagpayError } from '../core/errors.ts';
import { API_KEY_TOUCH_MS, IDEMPOTENCY_KEY_CHARS_MAX } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';
import { submitCommand } from '../engine/commands.ts';
import type { ApiCommand } from '../engine/events.ts';
import { looksLikeProof, readProof, type Ownership } from './ownership.ts';
import { send } from './route.ts';
import { sessionOf } from './session.ts';

export type Scope = 'read' | 'write';
export type Principal =
  | { kind: 'admin' }
  | { kind: 'merchant'; merchantId: string; keyId: string; scopes: readonly Scope[] };

export function bearer(c: Context): string | null {
  const header = c.req.header('authorization');
  if (!header) return null;
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header);
  return match ? match[1]! : null;
}

const principals = new WeakMap<Request, Promise<Principal | null>>();

/** The admin key or a merchant's API key (stored as sha256, looked up by hash), once per request. */
export function principalOf(app: AppContext, c: Context): Promise<Principal | null> {
  let found = principals.get(c.req.raw);
  if (found === undefined) {
    const token = bearer(c);
    found = token === null ? fromSession(app, c) : lookUp(app, token);
    principals.set(c.req.raw, found);
  }
  return found;
}

/** Without a bearer token, a web session signed in as a merchant acts as that merchant's key. */
async function fromSession(app: AppContext, c: Context): Promise<Principal | null> {
  const session = await sessionOf(app, c);
  // The signed-in merchant itself (its dashboard): both scopes; the session guards against CSRF.
  return session?.merchantId
    ? {
        kind: 'merchant',
        merchantId: session.merchantId,
        keyId: 'session',
        scopes: ['read', 'write'],
      }
    : null;
}

/** The local handle a request acts for: its bearer token's, or its web session's. */
async function localHandleOf(app: AppContext, c: Context): Promise<string | null> {
  const token = bearer(c);
  if (token !== null) return app.local.authenticate(token);
  const session = await sessionOf(app, c);
  return session?.network === 'local' ? session.handle : null;
}

async function lookUp(app: AppContext, token: string | null): Promise<Principal | null> {
  if (token === null) return null;
  if (await app.isAdminKey(token)) return { kind: 'admin' };
  const hash = sha256(token);
  const { rows } = await app.db.query<{ merchant_id: string; id: string | null; scopes: string }>(
    'SELECT merchant_id, id, scopes FROM api_keys WHERE hash = $1 AND revoked_at IS NULL',
    [hash],
  );
  const row = rows[0];
  if (!row) return null;
  await touchKey(app, hash);
  return {
    kind: 'merchant',
    merchantId: row.merchant_id,
    keyId: row.id ?? '',
    scopes: row.scopes.split(',').filter((s): s is Scope => s === 'read' || s === 'write'),
  };
}

/** When each key's last_used_at was last written by this process: at most once per API_KEY_TOUCH_MS. */
const touched = new Map<string, number>();

async function touchKey(app: AppContext, hash: string): Promise<void> {
  const now = app.clock.now();
  if (now - (touched.get(hash) ?? -Infinity) < API_KEY_TOUCH_MS) return;
  touched.set(hash, now);
  if (touched.size > 100_000) touched.clear();
  await app.db.query('UPDATE api_keys SET last_used_at = $2 WHERE hash = $1', [hash, now]);
}

/** The scope a request needs: reading for GET and HEAD, writing for everything else. */
function scopeFor(c: Context): Scope {
  return c.req.method === 'GET' || c.req.method === 'HEAD' ? 'read' : 'write';
}

function checkScope(c: Context, p: Principal): void {
  if (p.kind !== 'merchant') return;
  const need = scopeFor(c);
  if (!p.scopes.includes(need))
    throw new TagpayError('INSUFFICIENT_SCOPE', `This API key lacks the "${need}" scope.`);
}

/** Who may call a route: checked before the body is validated, so a caller without a key learns nothing. */
export type Need =
  'admin' | 'merchant' | 'principal' | 'local' | 'admin-or-local' | 'admin-or-owner';

/** Route middleware: 401 for missing or unknown credentials, 403 for credentials without the right. */
export function guard(app: AppContext, need: Need): MiddlewareHandler {
  return async (c, next) => {
    switch (need) {
      case 'admin':
        await requireAdmin(app, c);
        break;
      case 'merchant':
        await requireMerchant(app, c);
        break;
      case 'principal':
        await requirePrincipal(app, c);
        break;
      case 'local':
        await requireLocalAccount(app, c);
        break;
      case 'admin-or-local':
        await requireAdminOrLocal(app, c);
        break;
      case 'admin-or-owner':
        await requireAdminOrOwner(app, c);
        break;
    }
    await next();
  };
}

/** The admin key, or a local network token: `null` for the admin, the token's handle otherwise. */
export async function requireAdminOrLocal(app: AppContext, c: Context): Promise<string | null> {
  const principal = await principalOf(app, c);
  if (principal?.kind === 'admin') return null;
  if (principal?.kind === 'merchant')
    throw new TagpayError('FORBIDDEN', 'A merchant key cannot act for shoppers.');
  const token = bearer(c);
  const owner = await localHandleOf(app, c);
  if (owner === null) {
    throw new TagpayError(
      'UNAUTHENTICATED',
      token === null
        ? "Send the admin key or the handle's own local network token."
        : 'This token is not valid (unknown or revoked).',
    );
  }
  return owner;
}

/**
 * The admin key, a local network token, or a proof of ownership (src/http/ownership.ts): `null` for
 * the admin, otherwise the handle the caller proved they control.
 */
export async function requireAdminOrOwner(app: AppContext, c: Context): Promise<Ownership | null> {
  const token = bearer(c);
  if (token !== null && looksLikeProof(token)) return readProof(app, token);
  if (token === null) {
    // A web session stands for the proof it was started with (src/http/session.ts).
    const session = await sessionOf(app, c);
    if (session?.network && session.account && session.handle)
      return { network: session.network, account: session.account, handle: session.handle };
  }
  const owner = await requireAdminOrLocal(app, c);
  return owner === null ? null : { network: 'local', account: owner, handle: owner };
}

/** The principal an API command is logged under: who proved what. */
export function callerOf(owner: Ownership | null): string {
  return owner === null ? 'admin' : `${owner.network}:${owner.account}`;
}

export async function requireAdmin(app: AppContext, c: Context): Promise<void> {
  const p = await principalOf(app, c);
  if (p === null)
    throw new TagpayError(
      'UNAUTHENTICATED',
      'Send the admin key as "Authorization: Bearer <key>".',
    );
  if (p.kind !== 'admin') throw new TagpayError('FORBIDDEN', 'This needs the admin key.');
}

export async function requireMerchant(app: AppContext, c: Context): Promise<string> {
  const p = await principalOf(app, c);
  if (p === null)
    throw new TagpayError(
      'UNAUTHENTICATED',
      'Send a merchant API key as "Authorization: Bearer <key>".',
    );
  if (p.kind !== 'merchant') throw new TagpayError('FORBIDDEN', 'This needs a merchant API key.');
  checkScope(c, p);
  return p.merchantId;
}

export async function requirePrincipal(app: AppContext, c: Context): Promise<Principal> {
  const p = await principalOf(app, c);
  if (p === null)
    throw new TagpayError('UNAUTHENTICATED', 'Send an API key as "Authorization: Bearer <key>".');
  checkScope(c, p);
  return p;
}

/** The handle of a local network bearer token: the proof that the caller owns that account. */
export async function requireLocalAccount(app: AppContext, c: Context): Promise<string> {
  const token = bearer(c);
  const handle = await localHandleOf(app, c);
  if (handle === null) {
    throw new TagpayError(
      'UNAUTHENTICATED',
      token === null
        ? 'Send a local network token as "Authorization: Bearer <token>".'
        : 'This local network token is not valid (unknown or revoked).',
    );
  }
  return handle;
}

/**
 * The request's Idempotency-Key (Stripe's header), or a fresh one when the caller sent none, and the
 * hash of the request that the key is bound to.
 */
export async function idempotency(
  app: AppContext,
  c: Context,
): Promise<{ key: string; requestHash: string }> {
  const sent = c.req.header('idempotency-key');
  if (
    sent !== undefined &&
    !new RegExp(`^[\\x21-\\x7e]{1,${IDEMPOTENCY_KEY_CHARS_MAX}}$`).test(sent)
  ) {
    throw new TagpayError(
      'IDEMPOTENCY_KEY_INVALID',
      `An Idempotency-Key is 1 to ${IDEMPOTENCY_KEY_CHARS_MAX} printable ASCII characters.`,
    );
  }
  const body = await c.req.json().catch(() => null);
  const requestHash = sha256(`${c.req.method} ${c.req.path} ${JSON.stringify(body)}`);
  return { key: sent ?? newSecret('auto', app.random), requestHash };
}

/**
 * Sends an API command to the engine under the request's Idempotency-Key (one command per key and
 * caller, see submitCommand) and answers with the engine's answer: what most writing routes do.
 */
export async function answerCommand(
  app: AppContext,
  c: Context,
  principal: string,
  command: ApiCommand,
): Promise<never> {
  const { key, requestHash } = await idempotency(app, c);
  const result = await submitCommand(app.log, app.engine, principal, key, requestHash, command);
  return send(c, result.body, result.status);
}
