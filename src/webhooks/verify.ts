import { createHmac, timingSafeEqual } from 'node:crypto';
import { WEBHOOK_TOLERANCE_S } from '../core/limits.ts';

/**
 * Checks a tagpay webhook, for shops that receive them: the `Tagpay-Signature` header is Stripe's
 * scheme, `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, with one `v1` per
 * secret tagpay signs with (two while a rotated secret is still honoured). A signature is good when
 * any `v1` matches any of the shop's secrets and `t` is within `toleranceS` of now (300 s by
 * default, Stripe's), which bounds replays. Pass the raw body, byte for byte as received.
 *
 *     import { verifyWebhook } from 'tagpay/src/webhooks/verify.ts';
 *     const event = verifyWebhook(rawBody, req.headers['tagpay-signature'], [process.env.WHSEC]);
 */
export class WebhookSignatureError extends Error {
  override readonly name = 'WebhookSignatureError';
}

export function verifyWebhook(
  payload: string,
  header: string | undefined | null,
  secrets: readonly string[],
  opts: { toleranceS?: number; nowS?: number } = {},
): unknown {
  const toleranceS = opts.toleranceS ?? WEBHOOK_TOLERANCE_S;
  const nowS = opts.nowS ?? Math.floor(Date.now() / 1000);
  if (typeof header !== 'string' || header.length > 1000)
    throw new WebhookSignatureError('no Tagpay-Signature header');
  let t: number | null = null;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't' && /^[0-9]{1,12}$/.test(value)) t = Number(value);
    else if (name === 'v1' && /^[0-9a-f]{64}$/.test(value))
      signatures.push(Buffer.from(value, 'hex'));
  }
  if (t === null || signatures.length === 0)
    throw new WebhookSignatureError('the header has no timestamp or no v1 signature');
  if (Math.abs(nowS - t) > toleranceS)
    throw new WebhookSignatureError(`the timestamp is more than ${toleranceS} s from now`);
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${t}.${payload}`).digest();
    if (signatures.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected)))
      return JSON.parse(payload);
  }
  throw new WebhookSignatureError('no signature matches the secrets');
}
