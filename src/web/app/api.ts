import { exponentOf, formatMoney as coreFormatMoney, isCurrency } from '../../core/money.ts';

/**
 * The pages' one way to the JSON API. The session cookie is httpOnly (scripts never see it); the CSRF
 * token from GET /v1/session goes in a header on every state-changing request.
 */

export interface Session {
  signed_in: boolean;
  network: string | null;
  handle: string | null;
  merchant: { id: string; handle: string; name: string } | null;
  csrf_token: string | null;
  expires_at: string | null;
  demo: boolean;
  /** Demo mode with no SMTP server: the demo mailbox page shows the signed-in handle its e-mail. */
  demo_mailbox?: boolean;
}

/** An error the API answered with: its stable code, the message for people, the field it is about. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

let counter = 0;
/** A fresh Idempotency-Key per user action, so a retried click never acts twice. */
export function idempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `web_${Date.now().toString(36)}_${(counter++).toString(36)}_${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export async function api<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  opts: { idempotencyKey?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'tagpay could not be reached. Check your connection and try again.',
    );
  }
  const text = await res.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const e = parsed?.error;
    throw new ApiError(
      res.status,
      e?.code ?? 'HTTP_' + res.status,
      e?.message ?? `The server answered ${res.status}.`,
      e?.param,
    );
  }
  return parsed as T;
}

/**
 * Money on the wire is minor units; shown with the currency's own exponent, symbol and thousands
 * separators by the one formatter tagpay's replies and e-mails use too (src/core/money.ts).
 */
export function formatMoney(amount: number | string | bigint, currency: string): string {
  const minor = BigInt(amount);
  if (isCurrency(currency)) return coreFormatMoney({ minor, currency });
  // A currency this tagpay does not know: the digits as they are, and its code.
  return `${minor.toString()} ${currency}`;
}

/** Minor units as a person would type them in a field: `1025.00` for 102500 USD (no symbol). */
export function moneyInput(amount: number | string | bigint, currency: string): string {
  const minor = BigInt(amount);
  const exponent = isCurrency(currency) ? exponentOf(currency) : 2;
  if (exponent === 0) return minor.toString();
  const unit = 10n ** BigInt(exponent);
  return `${minor / unit}.${(minor % unit).toString().padStart(exponent, '0')}`;
}
