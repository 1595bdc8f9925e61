import {
  X_INLINE_WAIT_MS_MAX,
  X_RATE_LIMIT_RETRIES_MAX,
  X_RATE_LIMIT_WAIT_MS_MAX,
  X_RATE_LIMIT_WAIT_MS_MIN,
  X_REQUEST_TIMEOUT_MS,
} from './limits.ts';
import { authorizationHeader, percentEncode, type OAuth1Credentials } from './oauth1.ts';

/**
 * The X API v2 over HTTP, shared by the client (tweets, users) and the connector (stream, rules,
 * search). Two kinds of credentials: the app's bearer token (OAuth 2.0 app-only) for the stream, its
 * rules and search; tagpay's account's OAuth 1.0a user context for `users/me` and creating tweets.
 */

export type XAuth = 'app' | 'user';

/** An answer other than 2xx; `problem` is X's error body (RFC 7807 style) when there was one. */
export class XApiError extends Error {
  override readonly name: string = 'XApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly problem: unknown = null,
  ) {
    super(message);
  }
}

/** A 429: `waitMs` is how long until x-rate-limit-reset (bounded). */
export class XRateLimited extends XApiError {
  override readonly name = 'XRateLimited';
  constructor(
    readonly waitMs: number,
    message: string,
  ) {
    super(429, message);
  }
}

/** Waits `ms`, or less when `signal` aborts (then it resolves all the same). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * How long a 429 asks to wait: until `x-rate-limit-reset` (Unix seconds), at least a second (the
 * reset is in whole seconds) and at most X_RATE_LIMIT_WAIT_MS_MAX.
 */
export function rateLimitWaitMs(headers: Headers, nowMs: number): number {
  const reset = Number(headers.get('x-rate-limit-reset'));
  const wait =
    Number.isFinite(reset) && reset > 0 ? reset * 1000 - nowMs : X_RATE_LIMIT_WAIT_MS_MIN;
  return Math.min(X_RATE_LIMIT_WAIT_MS_MAX, Math.max(X_RATE_LIMIT_WAIT_MS_MIN, Math.ceil(wait)));
}

export interface XRequest {
  auth: XAuth;
  query?: Record<string, string>;
  json?: unknown;
  signal?: AbortSignal;
}

export class XApi {
  /** 429 answers waited out, by the client and the connector alike (reported in health). */
  rateLimitWaits = 0;

  constructor(
    readonly base: string,
    private readonly bearerToken: string,
    private readonly user: OAuth1Credentials | null,
  ) {}

  /** The full URL of a path and query; the query is encoded as OAuth 1.0a signs it (RFC 3986). */
  url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(path, this.base.endsWith('/') ? this.base : this.base + '/');
    const q = Object.entries(query)
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    if (q !== '') url.search = '?' + q;
    return url;
  }

  /** One request, the response as it comes (the stream reads its body itself). */
  async fetch(method: string, path: string, req: XRequest): Promise<Response> {
    const url = this.url(path, req.query);
    const headers: Record<string, string> = { 'user-agent': 'tagpay' };
    if (req.auth === 'app') headers.authorization = `Bearer ${this.bearerToken}`;
    else {
      if (this.user === null) throw new Error('X user-context credentials are not configured');
      headers.authorization = authorizationHeader(method, url, this.user);
    }
    if (req.json !== undefined) headers['content-type'] = 'application/json';
    return fetch(url, {
      method,
      headers,
      ...(req.json !== undefined && { body: JSON.stringify(req.json) }),
      ...(req.signal && { signal: req.signal }),
      redirect: 'error',
    });
  }

  /**
   * A REST call answered with JSON. A 429 that resets soon is waited out and retried (at most
   * X_RATE_LIMIT_RETRIES_MAX times); a longer one throws XRateLimited; any other failure XApiError.
   */
  async json<T>(method: string, path: string, req: XRequest): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const signal = req.signal
        ? AbortSignal.any([req.signal, AbortSignal.timeout(X_REQUEST_TIMEOUT_MS)])
        : AbortSignal.timeout(X_REQUEST_TIMEOUT_MS);
      const res = await this.fetch(method, path, { ...req, signal });
      const text = await res.text();
      if (res.status === 429) {
        const waitMs = rateLimitWaitMs(res.headers, Date.now());
        const message = `X rate limit on ${method} /${path}; resets in ${Math.ceil(waitMs / 1000)} s`;
        if (waitMs > X_INLINE_WAIT_MS_MAX || attempt >= X_RATE_LIMIT_RETRIES_MAX)
          throw new XRateLimited(waitMs, message);
        this.rateLimitWaits++;
        await sleep(waitMs, req.signal);
        if (req.signal?.aborted) throw new XApiError(0, 'stopped');
        continue;
      }
      let body: unknown = null;
      try {
        body = text === '' ? null : JSON.parse(text);
      } catch {
        body = null;
      }
      if (!res.ok) {
        throw new XApiError(
          res.status,
          `X answered ${res.status} to ${method} /${path}: ${problemText(body) ?? text.slice(0, 200)}`,
          body,
        );
      }
      return body as T;
    }
  }
}

/** A short account of an X error body: `{ title, detail }` or `{ errors: [{ message | detail }] }`. */
export function problemText(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  const parts = [b.title, b.detail].filter((s): s is string => typeof s === 'string');
  if (parts.length > 0) return parts.join(': ');
  if (Array.isArray(b.errors)) {
    return b.errors
      .map((e: unknown) => {
        const r = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
        return [r.title, r.detail ?? r.message].filter((s) => typeof s === 'string').join(': ');
      })
      .join('; ');
  }
  return null;
}
