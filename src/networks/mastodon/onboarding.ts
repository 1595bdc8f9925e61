import { ONBOARDING_REQUEST_TIMEOUT_MS } from '../../core/limits.ts';
import { fullAcct } from './normalize.ts';

/**
 * Mastodon onboarding by OAuth 2.0 on the shopper's own server (docs.joinmastodon.org/methods/apps,
 * /methods/oauth, /spec/oauth): tagpay registers itself once per server, sends the shopper to
 * /oauth/authorize, exchanges the code the callback brings at /oauth/token, asks
 * /api/v1/accounts/verify_credentials whose account approved, and revokes the token: the account is
 * all tagpay wanted, and it keeps no token of the shopper's.
 */

/** The only scope asked: reading the approving account (verify_credentials). */
export const ONBOARDING_SCOPES = 'read:accounts';
export const ONBOARDING_CLIENT_NAME = 'tagpay';

export interface MastodonApp {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** A server's base URL from what a shopper types: `mastodon.social`, `https://mastodon.social/`. */
export function serverOrigin(input: string): string | null {
  const text = input.trim();
  if (text.length === 0 || text.length > 255) return null;
  try {
    const url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `https://${text}`);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    if (url.username !== '' || url.password !== '') return null;
    return url.origin;
  } catch {
    return null;
  }
}

async function call(
  server: string,
  path: string,
  init: { method: 'GET' | 'POST'; json?: object; token?: string },
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(new URL(path, server), {
    method: init.method,
    headers: {
      accept: 'application/json',
      ...(init.json && { 'content-type': 'application/json' }),
      ...(init.token && { authorization: `Bearer ${init.token}` }),
    },
    ...(init.json && { body: JSON.stringify(init.json) }),
    signal: AbortSignal.timeout(ONBOARDING_REQUEST_TIMEOUT_MS),
    redirect: 'manual',
  });
  const body = (await res.json().catch(() => null)) as unknown;
  return {
    status: res.status,
    body: typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : null,
  };
}

/** POST /api/v1/apps: tagpay as an OAuth client of `server`, with one redirect URI. */
export async function registerApp(
  server: string,
  redirectUri: string,
  website: string,
): Promise<MastodonApp> {
  const res = await call(server, '/api/v1/apps', {
    method: 'POST',
    json: {
      client_name: ONBOARDING_CLIENT_NAME,
      redirect_uris: redirectUri,
      scopes: ONBOARDING_SCOPES,
      website,
    },
  });
  const id = res.body?.client_id;
  const secret = res.body?.client_secret;
  if (res.status !== 200 || typeof id !== 'string' || typeof secret !== 'string')
    throw new Error(`${server} refused to register tagpay (POST /api/v1/apps: HTTP ${res.status})`);
  return { clientId: id, clientSecret: secret, redirectUri };
}

/** Where the shopper approves tagpay: GET /oauth/authorize on their server. */
export function authorizeUrl(server: string, app: MastodonApp, state: string): string {
  const url = new URL('/oauth/authorize', server);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: app.clientId,
    redirect_uri: app.redirectUri,
    scope: ONBOARDING_SCOPES,
    state,
  }).toString();
  return url.toString();
}

export type MastodonProof =
  | { ok: true; account: string }
  | { ok: false; reason: 'code_refused' | 'no_account'; detail: string };

/**
 * The code from the callback → a token (POST /oauth/token) → the account that approved
 * (verify_credentials), as `user@domain` with the server's own domain (GET /api/v2/instance) →
 * the token revoked (POST /oauth/revoke).
 */
export async function accountFromCode(
  server: string,
  app: MastodonApp,
  code: string,
): Promise<MastodonProof> {
  const token = await call(server, '/oauth/token', {
    method: 'POST',
    json: {
      grant_type: 'authorization_code',
      code,
      client_id: app.clientId,
      client_secret: app.clientSecret,
      redirect_uri: app.redirectUri,
      scope: ONBOARDING_SCOPES,
    },
  });
  const accessToken = token.body?.access_token;
  if (token.status !== 200 || typeof accessToken !== 'string') {
    const detail = token.body?.error_description ?? token.body?.error ?? `HTTP ${token.status}`;
    return { ok: false, reason: 'code_refused', detail: String(detail) };
  }
  try {
    const me = await call(server, '/api/v1/accounts/verify_credentials', {
      method: 'GET',
      token: accessToken,
    });
    if (me.status !== 200 || typeof me.body?.acct !== 'string')
      return { ok: false, reason: 'no_account', detail: `verify_credentials: HTTP ${me.status}` };
    // `acct` has no domain for the server's own accounts; the domain is the server's LOCAL_DOMAIN,
    // which the instance entity names (it may differ from the host serving the API).
    let domain = new URL(server).hostname;
    const instance = await call(server, '/api/v2/instance', { method: 'GET' }).catch(() => null);
    if (typeof instance?.body?.domain === 'string' && instance.body.domain !== '')
      domain = instance.body.domain;
    const account = fullAcct(me.body.acct, domain);
    if (account === null)
      return { ok: false, reason: 'no_account', detail: `unreadable acct ${me.body.acct}` };
    return { ok: true, account };
  } finally {
    await call(server, '/oauth/revoke', {
      method: 'POST',
      json: { client_id: app.clientId, client_secret: app.clientSecret, token: accessToken },
    }).catch(() => null);
  }
}
