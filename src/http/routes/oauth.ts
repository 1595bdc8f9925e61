import { timingSafeEqual } from 'node:crypto';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { newSecret, sha256 } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import {
  OAUTH_ACCESS_TOKEN_TTL_MS,
  OAUTH_REDIRECT_URI_CHARS_MAX,
  OAUTH_REDIRECT_URIS_MAX,
  OAUTH_STATE_CHARS_MAX,
  PAY_DESCRIPTION_CHARS_MAX,
  PAY_REFERENCE_CHARS_MAX,
} from '../../core/limits.ts';
import { formatMoney } from '../../core/money.ts';
import {
  paymentCredential,
  pkceChallenge,
  PKCE_CHALLENGE_RE,
  PKCE_VERIFIER_RE,
  readPaymentCredential,
} from '../../core/signing.ts';
import type { AppContext } from '../../app-context.ts';
import { submitCommand } from '../../engine/commands.ts';
import { paymentView } from '../../engine/flows/checkout.ts';
import { paymentFromRow } from '../../engine/flows/checkout-store.ts';
import { webhookTargetProblem } from '../../outbox/ssrf.ts';
import { guard, idempotency, requireMerchant } from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { MoneySchema } from '../schemas.ts';
import { PaymentSchema, requireShopper } from './checkout.ts';

/**
 * A redirect URI a shop may register: absolute, no fragment (RFC 6749 §3.1.2), https — or http on a
 * loopback host for a developer's machine (RFC 8252 §7.3).
 */
function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash !== '' || uri.includes('#')) return 'must not have a fragment';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname))
    return null;
  return 'must be https (http only on localhost)';
}

const ShopClientSchema = z
  .object({
    id: z.string(),
    object: z.literal('shop_client'),
    merchant_id: z.string(),
    name: z.string(),
    redirect_uris: z.array(z.string()),
    webhook_url: z.string().nullable(),
    created_at: z.string(),
    client_secret: z.string().nullable().openapi({ description: 'Shown once.' }),
  })
  .openapi('ShopClient');

const PayRequestSchema = z
  .object({
    id: z.string(),
    object: z.literal('pay_request'),
    client_id: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    description: z.string(),
    reference: z.string().nullable(),
    status: z.enum(['open', 'approved', 'expired']),
    payment_id: z.string().nullable(),
    expires_at: z.string(),
    created_at: z.string(),
  })
  .openapi('PayRequest');

/** The OAuth 2.0 authorization request of a shop (RFC 6749 §4.1.1 with RFC 7636 PKCE). */
export const AuthorizeQuery = z.object({
  response_type: z.string().max(32).optional(),
  client_id: z.string().max(64).optional(),
  redirect_uri: z.string().max(OAUTH_REDIRECT_URI_CHARS_MAX).optional(),
  state: z.string().max(OAUTH_STATE_CHARS_MAX).optional(),
  code_challenge: z.string().max(128).optional(),
  code_challenge_method: z.string().max(16).optional(),
  pay_request: z.string().max(64).optional(),
  scope: z.string().max(64).optional(),
});
type AuthorizeParams = z.infer<typeof AuthorizeQuery>;

/** Where an OAuth answer goes: the registered redirect URI with the parameters added. */
function redirectWith(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** An authorization request checked: what the approve page shows, or why it cannot go on. */
export type CheckedAuthorization =
  | {
      ok: true;
      clientId: string;
      redirectUri: string;
      state: string | undefined;
      codeChallenge: string;
      requestId: string;
      shop: string;
      merchant: string;
      amount: { amount: number; currency: string };
      display: string;
      description: string;
    }
  /** The client or its redirect URI cannot be trusted: say so to the person, never redirect. */
  | { ok: false; redirect: null; error: string; description: string }
  /** A bad request from a known client: back to the shop with an error (RFC 6749 §4.1.2.1). */
  | { ok: false; redirect: string; error: string; description: string };

export function checkAuthorization(app: AppContext, q: AuthorizeParams): CheckedAuthorization {
  const view = app.engine.view.checkout;
  const client = q.client_id === undefined ? undefined : view.clients.get(q.client_id);
  if (client === undefined)
    return {
      ok: false,
      redirect: null,
      error: 'invalid_client',
      description: 'Unknown shop (client_id).',
    };
  // Exact comparison, no prefix or pattern: an open redirector would hand the code to anyone.
  if (q.redirect_uri === undefined || !client.redirectUris.includes(q.redirect_uri)) {
    return {
      ok: false,
      redirect: null,
      error: 'invalid_request',
      description: 'The redirect_uri is not one this shop registered.',
    };
  }
  const back = (error: string, description: string): CheckedAuthorization => ({
    ok: false,
    redirect: redirectWith(q.redirect_uri!, {
      error,
      error_description: description,
      state: q.state,
    }),
    error,
    description,
  });
  if (q.response_type !== 'code')
    return back('unsupported_response_type', 'Only response_type=code is supported.');
  if (q.code_challenge_method !== 'S256')
    return back('invalid_request', 'PKCE is required with code_challenge_method=S256.');
  if (q.code_challenge === undefined || !PKCE_CHALLENGE_RE.test(q.code_challenge))
    return back('invalid_request', 'code_challenge must be a base64url SHA-256 (43 characters).');
  if (q.scope !== undefined && q.scope !== 'payment')
    return back('invalid_scope', 'The only scope is "payment".');
  const request = q.pay_request === undefined ? undefined : view.payRequests.get(q.pay_request);
  if (
    request === undefined ||
    request.clientId !== client.id ||
    request.expiresAt < app.clock.now()
  )
    return back('invalid_request', 'The pay_request is unknown, not open or expired.');
  const merchant = app.engine.view.merchants.get(client.merchantId)!;
  return {
    ok: true,
    clientId: client.id,
    redirectUri: q.redirect_uri,
    state: q.state,
    codeChallenge: q.code_challenge,
    requestId: request.id,
    shop: client.name,
    merchant: merchant.name,
    amount: { amount: Number(request.amountMinor), currency: request.currency },
    display: formatMoney({ minor: request.amountMinor, currency: request.currency }),
    description: request.description,
  };
}

/** HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or client_id + client_secret in the body. */
async function authenticateClient(
  app: AppContext,
  c: Context,
  form: Record<string, string>,
): Promise<{ id: string; basic: boolean } | null> {
  const header = c.req.header('authorization');
  let id: string | undefined;
  let secret: string | undefined;
  let basic = false;
  if (header !== undefined && /^Basic\s+/i.test(header)) {
    basic = true;
    const decoded = Buffer.from(header.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    try {
      id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      return null;
    }
  } else {
    id = form.client_id;
    secret = form.client_secret;
  }
  if (id === undefined || secret === undefined || id.length > 64 || secret.length > 128)
    return null;
  const { rows } = await app.db.query<{ secret_hash: string }>(
    'SELECT secret_hash FROM shop_clients WHERE id = $1',
    [id],
  );
  if (!rows[0]) return null;
  const a = Buffer.from(rows[0].secret_hash);
  const b = Buffer.from(sha256(secret));
  return a.length === b.length && timingSafeEqual(a, b) ? { id, basic } : null;
}

async function bodyParams(c: Context): Promise<Record<string, string>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const out: Record<string, string> = {};
  if (type === 'application/x-www-form-urlencoded') {
    const text = await c.req.text();
    for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  } else if (type === 'application/json') {
    const parsed = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
    for (const [k, v] of Object.entries(parsed ?? {})) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/** An OAuth error response (RFC 6749 §5.2); never cached. */
function oauthError(
  c: Context,
  status: 400 | 401,
  error: string,
  description: string,
  basic = false,
) {
  c.header('cache-control', 'no-store');
  if (status === 401 && basic) c.header('www-authenticate', 'Basic realm="tagpay"');
  return c.json({ error, error_description: description }, status);
}

/**
 * Pay with tagpay (DESIGN flow 6): a shop registers a client, creates a pay request on its server,
 * sends the shopper to tagpay with an OAuth 2.0 authorization request (code + PKCE S256), the shopper
 * approves and pays, and the shop trades the code for the payment at /oauth/token.
 */
export function oauthRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shop_clients',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Pay with tagpay'],
      security,
      summary: 'Register an outside shop (an OAuth client); the secret is shown once',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              name: z.string().trim().min(1).max(100),
              redirect_uris: z
                .array(z.string().max(OAUTH_REDIRECT_URI_CHARS_MAX))
                .min(1)
                .max(OAUTH_REDIRECT_URIS_MAX),
              webhook_url: z.string().url().max(2048).optional(),
            }),
          ),
        },
      },
      responses: {
        201: { description: 'The client', ...json(ShopClientSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      body.redirect_uris.forEach((uri, i) => {
        const problem = redirectUriProblem(uri);
        if (problem !== null)
          throw new TagpayError(
            'INVALID_REQUEST',
            `redirect_uris.${i} ${problem}.`,
            `redirect_uris.${i}`,
          );
      });
      if (body.webhook_url !== undefined) {
        const refused = await webhookTargetProblem(
          body.webhook_url,
          app.config.webhookAllowPrivate,
        );
        if (refused !== null)
          throw new TagpayError(
            'WEBHOOK_URL_NOT_ALLOWED',
            `webhook_url ${refused}.`,
            'webhook_url',
          );
      }
      const secret = newSecret('cs', app.random);
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(app.log, app.engine, merchantId, key, requestHash, {
        op: 'shop_client.create',
        merchantId,
        name: body.name,
        secretHash: sha256(secret),
        redirectUris: body.redirect_uris,
        webhookUrl: body.webhook_url ?? null,
      });
      const answer =
        result.status === 201
          ? { ...(result.body as object), client_secret: result.replayed ? null : secret }
          : result.body;
      return send(c, answer, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/pay_requests',
      tags: ['Pay with tagpay'],
      summary: "A shop's server asks for a payment (HTTP Basic: client_id and client_secret)",
      description:
        'Create it before redirecting the shopper to /oauth/authorize with pay_request=<id>; it is open for an hour. The amount is fixed here, on the server, so the browser cannot change it.',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              amount: MoneySchema.shape.amount,
              currency: MoneySchema.shape.currency,
              description: z.string().trim().min(1).max(PAY_DESCRIPTION_CHARS_MAX),
              reference: z.string().max(PAY_REFERENCE_CHARS_MAX).optional(),
            }),
          ),
        },
      },
      responses: {
        201: { description: 'The pay request', ...json(PayRequestSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const client = await authenticateClient(app, c, {});
      if (client === null) {
        c.header('www-authenticate', 'Basic realm="tagpay"');
        throw new TagpayError(
          'OAUTH_INVALID_CLIENT',
          'Send the shop client id and secret with HTTP Basic.',
        );
      }
      const body = c.req.valid('json');
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(
        app.log,
        app.engine,
        `client:${client.id}`,
        key,
        requestHash,
        {
          op: 'pay_request.create',
          clientId: client.id,
          amountMinor: body.amount.toString(),
          currency: body.currency,
          description: body.description,
          reference: body.reference ?? null,
        },
      );
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/oauth/authorize',
      tags: ['Pay with tagpay'],
      summary: 'Checks an authorization request; answers what the approve page shows',
      request: { query: AuthorizeQuery },
      responses: {
        200: {
          description: 'The request, valid',
          ...json(
            z.object({
              shop: z.string(),
              merchant: z.string(),
              amount: z.object({ amount: z.number().int(), currency: z.string() }),
              display: z.string(),
              description: z.string(),
            }),
          ),
        },
        400: {
          description: 'Not valid: `redirect_to` is where to send the browser (null: nowhere)',
          ...json(
            z.object({
              error: z.string(),
              error_description: z.string(),
              redirect_to: z.string().nullable(),
            }),
          ),
        },
      },
    }),
    (c) => {
      const checked = checkAuthorization(app, c.req.valid('query'));
      if (!checked.ok)
        return send(
          c,
          {
            error: checked.error,
            error_description: checked.description,
            redirect_to: checked.redirect,
          },
          400,
        );
      return send(c, {
        shop: checked.shop,
        merchant: checked.merchant,
        amount: checked.amount,
        display: checked.display,
        description: checked.description,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/oauth/authorize',
      tags: ['Pay with tagpay'],
      security,
      summary: 'The signed-in shopper approves (pays) or denies an authorization request',
      description:
        'Approve: paid through the engine from the card on file, or from the wallet first and the card for the rest (`pay_from`), and `redirect_to` carries the code and state back to the shop (wait for the payment to leave `charging` first, GET /v1/payments/{id}). Deny: `redirect_to` carries error=access_denied.',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            AuthorizeQuery.extend({
              decision: z.enum(['approve', 'deny']),
              pay_from: z.enum(['card', 'wallet']).default('card').openapi({
                description:
                  'card: the card on file pays it all. wallet: the wallet pays first and the card the rest (refused with INSUFFICIENT_FUNDS when the wallet holds nothing in the currency).',
              }),
            }),
          ),
        },
      },
      responses: {
        200: {
          description: 'Where to send the browser',
          ...json(z.object({ redirect_to: z.string(), payment: PaymentSchema.nullable() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const shopper = await requireShopper(app, c);
      const body = c.req.valid('json');
      const checked = checkAuthorization(app, body);
      if (!checked.ok) {
        if (checked.redirect === null)
          throw new TagpayError('OAUTH_INVALID_REQUEST', checked.description);
        return send(c, { redirect_to: checked.redirect, payment: null });
      }
      if (body.decision === 'deny') {
        return send(c, {
          redirect_to: redirectWith(checked.redirectUri, {
            error: 'access_denied',
            error_description: 'The shopper declined to pay.',
            state: checked.state,
          }),
          payment: null,
        });
      }
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(
        app.log,
        app.engine,
        `shopper:${shopper.network}:${shopper.account}`,
        key,
        requestHash,
        {
          op: 'pay_request.approve',
          clientId: checked.clientId,
          requestId: checked.requestId,
          redirectUri: checked.redirectUri,
          codeChallenge: checked.codeChallenge,
          network: shopper.network,
          account: shopper.account,
          payFrom: body.pay_from,
        },
      );
      if (result.status !== 201) return send(c, result.body, result.status);
      const payment = result.body as { id: string };
      return send(c, {
        redirect_to: redirectWith(checked.redirectUri, {
          code: paymentCredential(app.signingKey, 'oauth-code', payment.id),
          state: checked.state,
        }),
        payment,
      });
    },
  );

  api.openAPIRegistry.registerPath({
    method: 'post',
    path: '/oauth/token',
    tags: ['Pay with tagpay'],
    summary: 'The shop trades its authorization code (and PKCE verifier) for the payment',
    description:
      'RFC 6749 §4.1.3 with RFC 7636: form-encoded grant_type=authorization_code, code, redirect_uri, code_verifier; the client authenticates with HTTP Basic (or client_id and client_secret in the form). A code works once, for 10 minutes. Errors are RFC 6749 §5.2 `{error, error_description}`.',
    request: {
      body: {
        content: {
          'application/x-www-form-urlencoded': {
            schema: z.object({
              grant_type: z.literal('authorization_code'),
              code: z.string(),
              redirect_uri: z.string(),
              code_verifier: z.string(),
              client_id: z.string().optional(),
              client_secret: z.string().optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: {
        description: 'The token and the payment',
        ...json(
          z.object({
            access_token: z.string(),
            token_type: z.literal('Bearer'),
            expires_in: z.number(),
            scope: z.literal('payment'),
            payment: PaymentSchema,
          }),
        ),
      },
      400: { description: 'invalid_request, invalid_grant, unsupported_grant_type' },
      401: { description: 'invalid_client' },
    },
  });
  api.post('/oauth/token', async (c) => {
    const form = await bodyParams(c);
    const client = await authenticateClient(app, c, form);
    if (client === null)
      return oauthError(c, 401, 'invalid_client', 'Client authentication failed.', true);
    if (form.grant_type !== 'authorization_code')
      return oauthError(c, 400, 'unsupported_grant_type', 'Only authorization_code is supported.');
    if (!form.code || !form.redirect_uri || !form.code_verifier)
      return oauthError(
        c,
        400,
        'invalid_request',
        'code, redirect_uri and code_verifier are required.',
      );
    if (!PKCE_VERIFIER_RE.test(form.code_verifier))
      return oauthError(
        c,
        400,
        'invalid_request',
        'code_verifier must be 43 to 128 unreserved characters.',
      );
    const paymentId = readPaymentCredential(app.signingKey, 'oauth-code', form.code);
    if (paymentId === null) return oauthError(c, 400, 'invalid_grant', 'The code is not valid.');
    const result = await submitCommand(
      app.log,
      app.engine,
      `client:${client.id}`,
      newSecret('auto', app.random),
      sha256(`token ${form.code}`),
      {
        op: 'oauth.exchange',
        clientId: client.id,
        paymentId,
        redirectUri: form.redirect_uri,
        challenge: pkceChallenge(form.code_verifier),
      },
    );
    if (result.status !== 200) {
      const error = (result.body as { error: { message: string } }).error;
      return oauthError(c, 400, 'invalid_grant', error.message);
    }
    c.header('cache-control', 'no-store');
    return c.json({
      access_token: paymentCredential(app.signingKey, 'oauth-token', paymentId),
      token_type: 'Bearer',
      expires_in: OAUTH_ACCESS_TOKEN_TTL_MS / 1000,
      scope: 'payment',
      payment: result.body,
    });
  });

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/oauth/payment',
      tags: ['Pay with tagpay'],
      security,
      summary: 'The payment an access token from /oauth/token reads (for a payment still charging)',
      responses: { 200: { description: 'The payment', ...json(PaymentSchema) }, ...errorResponses },
    }),
    async (c) => {
      const header = c.req.header('authorization') ?? '';
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1] ?? '';
      const paymentId = readPaymentCredential(app.signingKey, 'oauth-token', token);
      if (paymentId === null)
        throw new TagpayError('UNAUTHENTICATED', 'Send the access token from /oauth/token.');
      const { rows } = await app.db.query('SELECT * FROM payments WHERE id = $1', [paymentId]);
      const payment = rows[0] ? paymentFromRow(rows[0]) : null;
      if (
        payment === null ||
        payment.codeUsedAt === null ||
        payment.codeUsedAt + OAUTH_ACCESS_TOKEN_TTL_MS < app.clock.now()
      )
        throw new TagpayError('UNAUTHENTICATED', 'This access token has expired.');
      return send(c, paymentView(payment));
    },
  );
}
