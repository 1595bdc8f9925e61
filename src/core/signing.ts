import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signatures made with the operator's signing key: buy-now links, OAuth authorization codes and
 * access tokens. Each has a purpose word inside what is signed, so a signature made for one purpose
 * is never valid for another. Pure: the key comes in as a parameter.
 */
export type SignPurpose = 'buy-now' | 'oauth-code' | 'oauth-token';

/** HMAC-SHA256 of the purpose and the parts (joined by `|`, which no part contains), base64url. */
export function sign(key: string, purpose: SignPurpose, ...parts: string[]): string {
  for (const part of parts) {
    if (part.includes('|')) throw new Error(`signing: a part holds "|": ${part}`);
  }
  return createHmac('sha256', key)
    .update([purpose, ...parts].join('|'))
    .digest('base64url');
}

/** Checks a signature in constant time. */
export function verify(
  key: string,
  sig: string,
  purpose: SignPurpose,
  ...parts: string[]
): boolean {
  const expected = Buffer.from(sign(key, purpose, ...parts));
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The path of an offer's buy-now link: `/buy/<offer>?exp=<unix seconds>&sig=<hmac>`. */
export function buyLinkPath(key: string, offerId: string, expiresAtMs: number): string {
  const exp = Math.floor(expiresAtMs / 1000);
  return `/buy/${offerId}?exp=${exp}&sig=${sign(key, 'buy-now', offerId, String(exp))}`;
}

/** What a buy-now link says, once its signature is checked; the expiry is checked by the caller. */
export type BuyLinkCheck =
  { ok: true; offerId: string; expiresAtMs: number } | { ok: false; reason: 'invalid' };

export function checkBuyLink(key: string, offerId: string, exp: string, sig: string): BuyLinkCheck {
  if (!/^[0-9]{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{1,64}$/.test(sig)) {
    return { ok: false, reason: 'invalid' };
  }
  if (!/^ofr_[a-z2-7]{12}$/.test(offerId)) return { ok: false, reason: 'invalid' };
  if (!verify(key, sig, 'buy-now', offerId, exp)) return { ok: false, reason: 'invalid' };
  return { ok: true, offerId, expiresAtMs: Number(exp) * 1000 };
}

/** An OAuth authorization code or access token: `<prefix>.<payment id>.<hmac>`. */
export function paymentCredential(
  key: string,
  purpose: 'oauth-code' | 'oauth-token',
  paymentId: string,
): string {
  const prefix = purpose === 'oauth-code' ? 'tpc' : 'tpt';
  return `${prefix}.${paymentId}.${sign(key, purpose, paymentId)}`;
}

/** The payment a code or token names, if its signature holds. */
export function readPaymentCredential(
  key: string,
  purpose: 'oauth-code' | 'oauth-token',
  credential: string,
): string | null {
  const prefix = purpose === 'oauth-code' ? 'tpc' : 'tpt';
  const match = /^([a-z]{3})\.(pay_[a-z2-7]{12})\.([A-Za-z0-9_-]{43})$/.exec(credential);
  if (!match || match[1] !== prefix) return null;
  return verify(key, match[3]!, purpose, match[2]!) ? match[2]! : null;
}

/** RFC 7636 §4.2, S256: BASE64URL(SHA256(ASCII(code_verifier))). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** RFC 7636 §4.1: 43 to 128 characters of [A-Z] [a-z] [0-9] - . _ ~ */
export const PKCE_VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
/** An S256 challenge is a base64url SHA-256: 43 characters. */
export const PKCE_CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
