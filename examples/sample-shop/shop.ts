import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny outside shop that takes payments with tagpay ("Pay with tagpay"), to show a developer the
 * whole integration in one file, with no dependency beyond Node:
 *
 * 1. The shop's server creates a pay request (the amount is fixed server-side) with its client id and
 *    secret (HTTP Basic).
 * 2. It sends the browser to tagpay's /oauth/authorize with an OAuth 2.0 authorization request:
 *    response_type=code, its registered redirect_uri, a random state, and a PKCE S256 challenge.
 * 3. The shopper signs in to tagpay, approves and pays; tagpay sends the browser back to the
 *    redirect_uri with a code and the same state.
 * 4. The shop checks the state and trades the code (with the PKCE verifier and its secret) at
 *    /oauth/token for the payment's result.
 * 5. tagpay also sends a signed webhook (payment.succeeded / payment.failed); the shop checks the
 *    `Tagpay-Signature: t=…,v1=…` header with its merchant webhook secret before trusting it.
 */
export interface ShopOptions {
  /** Where tagpay runs, e.g. http://localhost:3000. */
  tagpayUrl: string;
  clientId: string;
  clientSecret: string;
  /** The merchant's webhook secret (whsec_…), to check webhook signatures. */
  webhookSecret: string;
  /** This shop's own address, e.g. http://localhost:4000 (the redirect URI is <publicUrl>/callback). */
  publicUrl: string;
  port: number;
  /** The clock webhook timestamps are checked against (tests pass tagpay's). */
  now?: () => number;
}

/** What the shop sells: one product, priced in cents. */
const PRODUCT = { name: 'Desk lamp', amount: 1999, currency: 'USD' };
/** A webhook older than this is refused (replay protection, as Stripe's libraries do). */
const WEBHOOK_TOLERANCE_S = 300;
/** Checkouts started and not finished, kept at most (a real shop would use its session store). */
const PENDING_MAX = 1_000;

interface Pending {
  verifier: string;
  payRequest: string;
}

export interface ShopOrder {
  payRequest: string;
  payment: { id: string; status: string; amount: number; currency: string } | null;
  error: string | null;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · Sample Shop</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}
.card{border:1px solid #ddd;border-radius:12px;padding:1.5rem}button{font:inherit;padding:.7rem 1.2rem;border-radius:8px;border:0;background:#0b5cff;color:#fff;cursor:pointer}
.price{font-size:1.5rem;font-weight:600}.ok{color:#0a7d32}.bad{color:#b00020}</style></head>
<body><h1>Sample Shop</h1>${body}</body></html>`;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 65_536) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

/** Checks a tagpay webhook signature: `t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>`. */
export function verifyTagpaySignature(
  secret: string,
  header: string | undefined,
  body: string,
  nowS: number,
): boolean {
  if (header === undefined) return false;
  const parts = Object.fromEntries(
    header.split(',').map((p) => p.split('=', 2) as [string, string]),
  );
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowS - t) > WEBHOOK_TOLERANCE_S || !parts.v1) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class SampleShop {
  /** Started checkouts by state; the state is also in the browser's cookie (login CSRF). */
  private readonly pending = new Map<string, Pending>();
  readonly orders: ShopOrder[] = [];
  readonly webhooks: { type: string; paymentId: string; status: string }[] = [];
  private server: Server | null = null;

  constructor(readonly options: ShopOptions) {}

  private get basic(): string {
    const { clientId, clientSecret } = this.options;
    // RFC 6749 §2.3.1: each part form-encoded, then Basic.
    const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
    return 'Basic ' + Buffer.from(pair).toString('base64');
  }

  get redirectUri(): string {
    return `${this.options.publicUrl}/callback`;
  }

  async listen(): Promise<number> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`shop error: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
    await new Promise<void>((resolve) =>
      this.server!.listen(this.options.port, '127.0.0.1', resolve),
    );
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.options.publicUrl);
    const send = (status: number, html: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(html);
    };
    if (req.method === 'GET' && url.pathname === '/') {
      const price = `$${(PRODUCT.amount / 100).toFixed(2)}`;
      return send(
        200,
        page(
          PRODUCT.name,
          `<div class="card"><h2>${PRODUCT.name}</h2><p class="price">${price}</p>
<form method="post" action="/checkout"><button type="submit">Pay with tagpay</button></form></div>`,
        ),
      );
    }
    if (req.method === 'POST' && url.pathname === '/checkout') return this.checkout(res);
    if (req.method === 'GET' && url.pathname === '/callback') return this.callback(req, url, send);
    if (req.method === 'POST' && url.pathname === '/webhook') {
      const body = await readBody(req);
      const signature = req.headers['tagpay-signature'];
      const ok = verifyTagpaySignature(
        this.options.webhookSecret,
        Array.isArray(signature) ? signature[0] : signature,
        body,
        Math.floor((this.options.now ?? Date.now)() / 1000),
      );
      if (!ok) {
        res.writeHead(400).end('bad signature');
        return;
      }
      const event = JSON.parse(body) as {
        type: string;
        data: { object: { id: string; status: string } };
      };
      this.webhooks.push({
        type: event.type,
        paymentId: event.data.object.id,
        status: event.data.object.status,
      });
      res.writeHead(200).end('ok');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/orders.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ orders: this.orders, webhooks: this.webhooks }));
      return;
    }
    send(404, page('Not found', '<p>No such page.</p>'));
  }

  /** Steps 1 and 2: a pay request on the server, then the browser goes to tagpay. */
  private async checkout(res: ServerResponse): Promise<void> {
    const created = await fetch(`${this.options.tagpayUrl}/v1/pay_requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.basic },
      body: JSON.stringify({
        amount: PRODUCT.amount,
        currency: PRODUCT.currency,
        description: PRODUCT.name,
        reference: `order-${this.orders.length + 1}`,
      }),
    });
    const request = (await created.json()) as { id?: string; error?: { message: string } };
    if (!created.ok || request.id === undefined) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`tagpay refused the pay request: ${request.error?.message ?? created.status}`);
      return;
    }
    // RFC 7636 §4.1: a high-entropy verifier; only its SHA-256 leaves the server.
    const verifier = b64url(randomBytes(32));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const state = b64url(randomBytes(16));
    this.pending.set(state, { verifier, payRequest: request.id });
    for (const [oldest] of this.pending) {
      if (this.pending.size <= PENDING_MAX) break;
      this.pending.delete(oldest);
    }
    const authorize = new URL('/oauth/authorize', this.options.tagpayUrl);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: this.options.clientId,
      redirect_uri: this.redirectUri,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'payment',
      pay_request: request.id,
    }).toString();
    res.writeHead(303, {
      location: authorize.toString(),
      // The state is bound to this browser too: a callback from another browser is refused.
      'set-cookie': `shop_state=${state}; HttpOnly; SameSite=Lax; Path=/callback; Max-Age=3600`,
    });
    res.end();
  }

  /** Steps 3 and 4: back from tagpay; check the state, trade the code for the payment. */
  private async callback(
    req: IncomingMessage,
    url: URL,
    send: (status: number, html: string, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const state = url.searchParams.get('state') ?? '';
    const cookie = /(?:^|;\s*)shop_state=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const pending = this.pending.get(state);
    if (pending === undefined || cookie !== state) {
      return send(
        400,
        page(
          'Checkout not found',
          '<p class="bad">This checkout was not started here (state mismatch).</p>',
        ),
      );
    }
    this.pending.delete(state);
    const error = url.searchParams.get('error');
    if (error !== null) {
      this.orders.push({ payRequest: pending.payRequest, payment: null, error });
      const text =
        error === 'access_denied' ? 'You canceled the payment.' : `tagpay said: ${error}`;
      return send(
        200,
        page(
          'Not paid',
          `<p class="bad">${escape(text)}</p><p><a href="/">Back to the shop</a></p>`,
        ),
      );
    }
    const exchanged = await fetch(`${this.options.tagpayUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.basic },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: url.searchParams.get('code') ?? '',
        redirect_uri: this.redirectUri,
        code_verifier: pending.verifier,
      }).toString(),
    });
    const token = (await exchanged.json()) as {
      payment?: ShopOrder['payment'] & { failure_reason: string | null };
      error?: string;
      error_description?: string;
    };
    if (!exchanged.ok || !token.payment) {
      this.orders.push({
        payRequest: pending.payRequest,
        payment: null,
        error: token.error ?? 'error',
      });
      return send(
        502,
        page(
          'Not paid',
          `<p class="bad">${escape(token.error_description ?? 'The code was refused.')}</p>`,
        ),
      );
    }
    const p = token.payment;
    this.orders.push({
      payRequest: pending.payRequest,
      payment: { id: p.id, status: p.status, amount: p.amount, currency: p.currency },
      error: null,
    });
    const total = `$${(p.amount / 100).toFixed(2)}`;
    if (p.status === 'paid') {
      return send(
        200,
        page(
          'Thank you',
          `<p class="ok" role="status">Paid ${total} with tagpay.</p><p>Payment <code>${escape(p.id)}</code> · your ${PRODUCT.name} is on its way.</p>`,
        ),
      );
    }
    const reason =
      p.status === 'failed'
        ? (p.failure_reason ?? 'declined').replace(/_/g, ' ')
        : 'still processing';
    return send(
      200,
      page(
        'Not paid',
        `<p class="bad" role="status">Payment ${escape(p.status)}: ${escape(reason)}.</p><p><a href="/">Try again</a></p>`,
      ),
    );
  }
}
