import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { newSecret, sha256 } from '../core/codes.ts';
import { TagpayError } from '../core/errors.ts';
import { WEB_SESSION_TTL_MS } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';

/**
 * The session cookie. `__Host-` binds it to this origin (Secure, Path=/, no Domain); it is httpOnly, so
 * page scripts never see it, and SameSite=Strict, so other sites' requests do not carry it.
 */
export const SESSION_COOKIE = '__Host-tagpay_session';
/** The header a page sends its CSRF token in (the synchronizer token pattern, OWASP's first defence). */
export const CSRF_HEADER = 'x-csrf-token';

/** Who a web session proved to be: a handle on a network, a merchant, or both. */
export interface WebSession {
  hash: string;
  network: string | null;
  account: string | null;
  handle: string | null;
  merchantId: string | null;
  csrf: string;
  expiresAt: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const sessions = new WeakMap<Request, Promise<WebSession | null>>();

/**
 * The request's web session, looked up once per request. A request that changes state with a session
 * must carry the session's CSRF token and, when the browser names it, come from this origin; otherwise
 * this throws CSRF_TOKEN_INVALID, so no route can act on a session without those checks.
 */
export function sessionOf(app: AppContext, c: Context): Promise<WebSession | null> {
  let found = sessions.get(c.req.raw);
  if (found === undefined) {
    found = lookUp(app, c);
    sessions.set(c.req.raw, found);
  }
  return found;
}

async function lookUp(app: AppContext, c: Context): Promise<WebSession | null> {
  const id = getCookie(c, SESSION_COOKIE);
  if (id === undefined || !/^ws_[A-Za-z0-9_-]{10,100}$/.test(id)) return null;
  const hash = sha256(id);
  const { rows } = await app.db.query<{
    network: string | null;
    account: string | null;
    handle: string | null;
    merchant_id: string | null;
    csrf: string;
    expires_at: unknown;
  }>(
    'SELECT network, account, handle, merchant_id, csrf, expires_at FROM web_sessions WHERE hash = $1 AND revoked_at IS NULL',
    [hash],
  );
  const row = rows[0];
  if (!row || Number(row.expires_at) <= app.clock.now()) return null;
  const session: WebSession = {
    hash,
    network: row.network,
    account: row.account,
    handle: row.handle,
    merchantId: row.merchant_id,
    csrf: row.csrf,
    expiresAt: Number(row.expires_at),
  };
  if (!SAFE_METHODS.has(c.req.method)) {
    checkOrigin(c);
    const sent = c.req.header(CSRF_HEADER) ?? '';
    if (!sameSecret(sent, session.csrf)) {
      throw new TagpayError(
        'CSRF_TOKEN_INVALID',
        `A signed-in page sends its CSRF token in the ${CSRF_HEADER} header (GET /v1/session gives it).`,
      );
    }
  }
  return session;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Browsers name the page that sent a request in `Origin`; a state-changing request from another
 * origin is refused (also for sign-in, where no CSRF token exists yet: a login CSRF would sign the
 * victim in as the attacker).
 */
export function checkOrigin(c: Context): void {
  const origin = c.req.header('origin');
  if (origin === undefined || origin === 'null') {
    if (origin === 'null')
      throw new TagpayError('CSRF_TOKEN_INVALID', 'Requests from opaque origins are refused.');
    return;
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new TagpayError('CSRF_TOKEN_INVALID', 'The Origin header is not a URL.');
  }
  if (host !== (c.req.header('host') ?? new URL(c.req.url).host)) {
    throw new TagpayError('CSRF_TOKEN_INVALID', 'Requests from other sites are refused.');
  }
}

/** Starts a session for what the caller just proved, sets the cookie, and returns the CSRF token. */
export async function startSession(
  app: AppContext,
  c: Context,
  who: {
    network: string | null;
    account: string | null;
    handle: string | null;
    merchantId: string | null;
  },
): Promise<{ csrf: string; expiresAt: number }> {
  // Signing in again replaces the session the browser had (no fixation of an earlier id).
  await revokeCookieSession(app, c);
  const id = newSecret('ws', app.random);
  const csrf = newSecret('csrf', app.random);
  const now = app.clock.now();
  const expiresAt = now + WEB_SESSION_TTL_MS;
  await app.db.query(
    'INSERT INTO web_sessions (hash, network, account, handle, merchant_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [sha256(id), who.network, who.account, who.handle, who.merchantId, csrf, now, expiresAt],
  );
  setCookie(c, SESSION_COOKIE, id, {
    path: '/',
    secure: true,
    httpOnly: true,
    sameSite: 'Strict',
    maxAge: Math.floor(WEB_SESSION_TTL_MS / 1000),
  });
  return { csrf, expiresAt };
}

/** Revokes the browser's session (if any) and clears its cookie. */
export async function endSession(app: AppContext, c: Context): Promise<void> {
  await revokeCookieSession(app, c);
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: true });
}

async function revokeCookieSession(app: AppContext, c: Context): Promise<void> {
  const id = getCookie(c, SESSION_COOKIE);
  if (id === undefined) return;
  await app.db.query(
    'UPDATE web_sessions SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL',
    [sha256(id), app.clock.now()],
  );
}
