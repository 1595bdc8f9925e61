import { createHmac, randomBytes } from 'node:crypto';

/**
 * OAuth 1.0a request signing with HMAC-SHA1 (RFC 5849 section 3), which X calls "OAuth 1.0a user
 * context": how tagpay's own account is authorized to create tweets. Pure apart from the default
 * nonce and timestamp, which a caller (and the tests) can give.
 */

export interface OAuth1Credentials {
  /** The app's API key and secret (X's "consumer keys"). */
  consumerKey: string;
  consumerSecret: string;
  /** tagpay's account's access token and secret. */
  token: string;
  tokenSecret: string;
}

/**
 * RFC 5849 section 3.6: every byte but the unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`)
 * is `%XX` with upper-case hex, over UTF-8. encodeURIComponent leaves `!*'()` alone, so they are
 * encoded here.
 */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/**
 * RFC 5849 section 3.4.1.2: the base string URI is scheme and host in lower case, the port only when
 * it is not the scheme's default, and the path; no query, no fragment.
 */
export function baseStringUri(url: URL): string {
  const scheme = url.protocol.toLowerCase();
  const defaultPort =
    (scheme === 'http:' && url.port === '80') || (scheme === 'https:' && url.port === '443');
  const port = url.port === '' || defaultPort ? '' : `:${url.port}`;
  return `${scheme}//${url.hostname.toLowerCase()}${port}${url.pathname}`;
}

/**
 * RFC 5849 section 3.4.1: `METHOD&uri&params`, the parameters (query, form body and `oauth_*` but
 * `oauth_signature`) encoded, sorted by name then value, joined with `=` and `&`, and encoded again.
 */
export function signatureBaseString(
  method: string,
  url: URL,
  params: readonly (readonly [string, string])[],
): string {
  const normalized = params
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return [method.toUpperCase(), percentEncode(baseStringUri(url)), percentEncode(normalized)].join(
    '&',
  );
}

/** RFC 5849 section 3.4.2: base64 of HMAC-SHA1 keyed by `consumerSecret&tokenSecret`, both encoded. */
export function hmacSha1Signature(
  baseString: string,
  consumerSecret: string,
  tokenSecret: string,
): string {
  const key = `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
  return createHmac('sha1', key).update(baseString).digest('base64');
}

/**
 * The `Authorization: OAuth …` header for one request. The URL's query parameters are signed; so are
 * `formParams` for an `application/x-www-form-urlencoded` body. A JSON body (as X's v2 API takes) is
 * not part of the signature (RFC 5849 section 3.4.1.3.1).
 */
export function authorizationHeader(
  method: string,
  url: string | URL,
  creds: OAuth1Credentials,
  opts: { nonce?: string; timestamp?: number; formParams?: Record<string, string> } = {},
): string {
  const target = typeof url === 'string' ? new URL(url) : url;
  const oauth: [string, string][] = [
    ['oauth_consumer_key', creds.consumerKey],
    ['oauth_nonce', opts.nonce ?? randomBytes(16).toString('hex')],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_timestamp', String(opts.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_token', creds.token],
    ['oauth_version', '1.0'],
  ];
  const params: [string, string][] = [
    ...target.searchParams.entries(),
    ...Object.entries(opts.formParams ?? {}),
    ...oauth,
  ];
  const signature = hmacSha1Signature(
    signatureBaseString(method, target, params),
    creds.consumerSecret,
    creds.tokenSecret,
  );
  oauth.push(['oauth_signature', signature]);
  oauth.sort(([a], [b]) => (a < b ? -1 : 1));
  return 'OAuth ' + oauth.map(([k, v]) => `${percentEncode(k)}="${percentEncode(v)}"`).join(', ');
}
