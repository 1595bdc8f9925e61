import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { newSecret, sha256 } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import { API_KEYS_PER_MERCHANT_MAX, WEBHOOK_SECRET_OVERLAP_MS_MAX } from '../../core/limits.ts';
import { formatMoney } from '../../core/money.ts';
import { settingSecret, type AppContext } from '../../app-context.ts';
import { submitCommand } from '../../engine/commands.ts';
import type { SafetyCommand } from '../../engine/events.ts';
import { readLinkToken } from '../../engine/flows/safety.ts';
import { handleKey } from '../../engine/state.ts';
import { accountOf } from '../accounts.ts';
import {
  guard,
  answerCommand,
  idempotency,
  requireAdminOrOwner,
  requireMerchant,
} from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { PageLimit } from '../schemas.ts';

const Obj = z.object({}).passthrough();

const secretOf = new WeakMap<AppContext, Promise<string>>();

/** The secret that signs e-mailed links (made at the first start, in the settings table). */
function linkSecret(app: AppContext): Promise<string> {
  let found = secretOf.get(app);
  if (found === undefined) {
    found = settingSecret(app.db, 'link_secret', app.random);
    secretOf.set(app, found);
  }
  return found;
}

/** Sends a fraud-control command under a key that makes the same link, followed twice, one command. */
async function command(
  app: AppContext,
  principal: string,
  key: string,
  cmd: SafetyCommand,
): Promise<{ status: number; body: unknown }> {
  return submitCommand(app.log, app.engine, principal, key, sha256(JSON.stringify(cmd)), cmd);
}

async function approveStepUp(app: AppContext, token: string) {
  const subject = readLinkToken(await linkSecret(app), 'step-up', token);
  if (subject === null)
    throw new TagpayError('INVALID_LINK', 'This approval link is not valid.', 'token');
  return command(app, 'link', `step-up:${subject}`, { op: 'step_up.approve', subjectId: subject });
}

async function freezeByLink(app: AppContext, token: string, attempt: string) {
  const shopperId = readLinkToken(await linkSecret(app), 'not-me', token);
  if (shopperId === null)
    throw new TagpayError('INVALID_LINK', 'This "not me" link is not valid.', 'token');
  const { rows } = await app.db.query<{ network: string; account: string }>(
    'SELECT network, account FROM shoppers WHERE id = $1',
    [shopperId],
  );
  if (!rows[0]) throw new TagpayError('INVALID_LINK', 'This "not me" link is not valid.', 'token');
  return command(app, 'link', `not-me:${shopperId}:${attempt}`, {
    op: 'shopper.freeze',
    network: rows[0].network,
    account: rows[0].account,
    by: 'shopper',
  });
}

const escape = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  );

function page(c: Context, title: string, body: string, status = 200) {
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · tagpay</title><link rel="stylesheet" href="/assets/style.css"></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`,
    status as 200,
  );
}

function form(action: string, token: string, button: string): string {
  return `<form method="post" action="${action}"><input type="hidden" name="t" value="${escape(token)}"><button type="submit">${escape(button)}</button></form>`;
}

async function formToken(c: Context): Promise<string> {
  const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
  const t = body.t;
  return typeof t === 'string' ? t.slice(0, 200) : '';
}

/**
 * The fraud controls' edge: the step-up and "not me" pages and their API, the operator's freeze,
 * unfreeze, merchant verification and audit log, and a merchant's API keys, webhook secret and
 * webhook deliveries.
 */
export function securityRoutes(api: OpenAPIHono, app: AppContext): void {
  // ---- Pages reached from e-mails. A GET only shows; the change is a POST (mail scanners follow GETs).
  api.get('/step-up', async (c) => {
    const token = (c.req.query('t') ?? '').slice(0, 200);
    const subject = readLinkToken(await linkSecret(app), 'step-up', token);
    if (subject === null)
      return page(c, 'Link not valid', '<p>This approval link is not valid.</p>', 400);
    const order = app.engine.view.activeOrders.get(subject);
    const payment = app.engine.view.money.payments.get(subject);
    if (payment !== undefined && payment.status === 'awaiting_step_up') {
      const amount = formatMoney({ minor: payment.amountMinor, currency: payment.currency });
      return page(
        c,
        'Approve this payment?',
        `<p>@${escape(payment.payerHandle)} asked to send <strong>${escape(amount)}</strong> to @${escape(payment.recipientHandle)}${payment.memo === '' ? '' : ` for ${escape(payment.memo)}`}.</p>${form('/step-up', token, 'Approve and send')}<p>Not you? Use the "not me" link in the same e-mail to freeze your account.</p>`,
      );
    }
    if (order === undefined || order.status !== 'awaiting_step_up') {
      return page(
        c,
        'Nothing to approve',
        '<p>This is no longer waiting for approval (approved, canceled or expired).</p>',
      );
    }
    const offer = app.engine.view.offers.get(order.offerId);
    const merchant = app.engine.view.merchants.get(order.merchantId);
    const total = formatMoney({ minor: order.amountMinor, currency: order.currency });
    return page(
      c,
      'Approve this purchase?',
      `<p>@${escape(order.handle)} asked to buy <strong>${escape(offer?.title ?? order.offerId)}</strong> for <strong>${escape(total)}</strong> from ${escape(merchant?.name ?? '')}${merchant?.verified ? '' : ' (unverified merchant)'}.</p>${form('/step-up', token, 'Approve and pay')}<p>Not you? Use the "not me" link in the same e-mail to freeze your account.</p>`,
    );
  });
  api.post('/step-up', async (c) => {
    const result = await approveStepUp(app, await formToken(c)).catch((e: unknown) => e);
    if (
      result instanceof TagpayError ||
      result instanceof Error ||
      (result as { status: number }).status !== 200
    )
      return page(
        c,
        'Not approved',
        '<p>This is no longer waiting for approval (approved, canceled or expired).</p>',
        409,
      );
    const what = ((result as { body: { subject?: string } }).body.subject ?? '').startsWith('hpm_')
      ? 'Your payment is being sent; the confirmation follows by e-mail.'
      : 'Your purchase is being paid; the receipt follows by e-mail.';
    return page(c, 'Approved', `<p>Thank you. ${what}</p>`);
  });
  api.get('/not-me', async (c) => {
    const token = (c.req.query('t') ?? '').slice(0, 200);
    if (readLinkToken(await linkSecret(app), 'not-me', token) === null)
      return page(c, 'Link not valid', '<p>This link is not valid.</p>', 400);
    return page(
      c,
      'Freeze your account?',
      `<p>Freezing cancels every pending purchase and stops new ones until the operator of this tagpay unfreezes the account.</p>${form('/not-me', token, 'Freeze my account')}`,
    );
  });
  api.post('/not-me', async (c) => {
    const token = await formToken(c);
    // Each press is its own request: after an unfreeze, the same link freezes again.
    const result = await freezeByLink(app, token, newSecret('nm', app.random)).catch(
      (e: unknown) => e,
    );
    if (result instanceof Error || (result as { status: number }).status !== 200)
      return page(c, 'Not frozen', '<p>This link is not valid.</p>', 400);
    return page(
      c,
      'Account frozen',
      '<p>Your account is frozen; pending purchases are canceled.</p>',
    );
  });

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/step-up',
      tags: ['Safety'],
      summary:
        'Approve a purchase or a payment by post that waits for a step-up (the token of the e-mailed link)',
      request: { body: { required: true, ...json(z.object({ token: z.string().max(200) })) } },
      responses: { 200: { description: 'Approved', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const result = await approveStepUp(app, c.req.valid('json').token);
      return send(c, result.body, result.status);
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/not-me',
      tags: ['Safety'],
      summary: 'Freeze the account of a "not me" link: pending checkouts end, no new purchases',
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(z.object({ token: z.string().max(200) })) },
      },
      responses: { 200: { description: 'Frozen', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const { key } = await idempotency(app, c);
      const result = await freezeByLink(app, c.req.valid('json').token, key);
      return send(c, result.body, result.status);
    },
  );

  // ---- The shopper, signed in: the "freeze my account" control of the wallet page, the same freeze
  // as the "not me" link. Only the operator unfreezes.
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/me/freeze',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Safety'],
      security,
      summary:
        "Freeze the caller's own account (a web session, a proof, or a local token): pending checkouts end, no new purchases",
      request: { headers: IdempotencyHeaders },
      responses: { 200: { description: 'The shopper status', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null)
        throw new TagpayError(
          'FORBIDDEN',
          'The operator freezes a shopper with POST /v1/shoppers/{network}/{handle}/freeze.',
        );
      if (!app.engine.view.shoppers.has(handleKey(owner.network, owner.account)))
        throw new TagpayError('NOT_FOUND', 'This handle is not linked to tagpay.', 'handle');
      return answerCommand(app, c, `me:${owner.network}:${owner.account}`, {
        op: 'shopper.freeze',
        network: owner.network,
        account: owner.account,
        by: 'shopper',
      });
    },
  );

  // ---- The operator.
  for (const action of ['freeze', 'unfreeze'] as const) {
    api.openapi(
      createRoute({
        method: 'post',
        path: `/v1/shoppers/{network}/{handle}/${action}`,
        middleware: [guard(app, 'admin')] as const,
        tags: ['Safety'],
        security,
        summary:
          action === 'freeze'
            ? 'Freeze a shopper (admin key): pending checkouts end, no new purchases'
            : 'Unfreeze a shopper (admin key)',
        request: {
          params: z.object({ network: z.string().max(32), handle: z.string().max(64) }),
          headers: IdempotencyHeaders,
        },
        responses: { 200: { description: 'The shopper status', ...json(Obj) }, ...errorResponses },
      }),
      async (c) => {
        const { network, handle } = c.req.valid('param');
        const account = await accountOf(app, network, handle.toLowerCase());
        if (!app.engine.view.shoppers.has(handleKey(network, account)))
          throw new TagpayError('NOT_FOUND', 'No shopper with this handle.', 'handle');
        return answerCommand(
          app,
          c,
          'admin',
          action === 'freeze'
            ? { op: 'shopper.freeze', network, account, by: 'operator' }
            : { op: 'shopper.unfreeze', network, account },
        );
      },
    );
  }

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/merchants/{id}/verify',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Safety'],
      security,
      summary: 'Mark a merchant verified or not (admin key); offers of unverified merchants say so',
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: { required: true, ...json(z.object({ verified: z.boolean() })) },
      },
      responses: { 200: { description: 'The merchant', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      return answerCommand(app, c, 'admin', {
        op: 'merchant.set_verified',
        merchantId: c.req.valid('param').id,
        verified: c.req.valid('json').verified,
      });
    },
  );

  const AuditEntry = z
    .object({
      id: z.string(),
      object: z.literal('audit_entry'),
      at: z.string(),
      action: z.string(),
      actor: z.string(),
      subject: z.string(),
      detail: Obj,
    })
    .openapi('AuditEntry');
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/audit',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Safety'],
      security,
      summary: 'The audit log, newest first (admin key): links, freezes, step-ups, keys, secrets…',
      request: {
        query: z.object({
          limit: PageLimit,
          starting_after: z
            .string()
            .regex(/^aud_[0-9]{1,18}$/)
            .optional(),
          action: z.string().max(64).optional(),
          subject: z.string().max(200).optional(),
        }),
      },
      responses: {
        200: {
          description: 'Entries',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(AuditEntry),
              has_more: z.boolean(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const params: unknown[] = [q.limit + 1];
      const where: string[] = [];
      if (q.starting_after) where.push(`id < $${params.push(q.starting_after.slice(4))}::bigint`);
      if (q.action) where.push(`action = $${params.push(q.action)}`);
      if (q.subject) where.push(`subject = $${params.push(q.subject)}`);
      const { rows } = await app.db.query<Record<string, unknown>>(
        `SELECT id::text AS id, at, action, actor, subject, detail FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT $1`,
        params,
      );
      return send(c, {
        object: 'list',
        data: rows.slice(0, q.limit).map((r) => ({
          id: `aud_${r.id as string}`,
          object: 'audit_entry',
          at: new Date(Number(r.at)).toISOString(),
          action: r.action,
          actor: r.actor,
          subject: r.subject,
          detail: JSON.parse(r.detail as string),
        })),
        has_more: rows.length > q.limit,
      });
    },
  );

  // ---- A merchant's API keys.
  const ApiKey = z
    .object({
      id: z.string(),
      object: z.literal('api_key'),
      name: z.string().nullable(),
      scopes: z.array(z.enum(['read', 'write'])),
      created_at: z.string(),
      last_used_at: z.string().nullable(),
      revoked_at: z.string().nullable(),
    })
    .openapi('ApiKey');
  const iso = (v: unknown) =>
    v === null || v === undefined ? null : new Date(Number(v)).toISOString();
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/api-keys',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['API keys'],
      security,
      summary: "The merchant's API keys, newest first (never the keys themselves)",
      responses: {
        200: {
          description: 'Keys',
          ...json(
            z.object({ object: z.literal('list'), data: z.array(ApiKey), has_more: z.boolean() }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const { rows } = await app.db.query<Record<string, unknown>>(
        'SELECT id, name, scopes, created_at, last_used_at, revoked_at FROM api_keys WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC',
        [merchantId],
      );
      return send(c, {
        object: 'list',
        data: rows.map((r) => ({
          id: r.id,
          object: 'api_key',
          name: r.name ?? null,
          scopes: String(r.scopes).split(','),
          created_at: iso(r.created_at),
          last_used_at: iso(r.last_used_at),
          revoked_at: iso(r.revoked_at),
        })),
        has_more: false,
      });
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['API keys'],
      security,
      summary: 'Create an API key with scopes; the key is shown once',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              name: z.string().max(100).optional(),
              scopes: z
                .array(z.enum(['read', 'write']))
                .min(1)
                .max(2)
                .refine((s) => new Set(s).size === s.length, 'scopes repeat'),
            }),
          ),
        },
      },
      responses: {
        201: {
          description: 'Created',
          ...json(ApiKey.extend({ key: z.string().nullable() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      const { rows } = await app.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM api_keys WHERE merchant_id = $1 AND revoked_at IS NULL',
        [merchantId],
      );
      if (rows[0]!.n >= API_KEYS_PER_MERCHANT_MAX)
        throw new TagpayError(
          'TOO_MANY_KEYS',
          `A merchant holds at most ${API_KEYS_PER_MERCHANT_MAX} keys; revoke one first.`,
        );
      const { key, requestHash } = await idempotency(app, c);
      const apiKey = newSecret('sk', app.random);
      const result = await submitCommand(app.log, app.engine, merchantId, key, requestHash, {
        op: 'api_key.create',
        merchantId,
        keyHash: sha256(apiKey),
        scopes: [...body.scopes].sort(),
        name: body.name ?? null,
      });
      if (result.status !== 201) return send(c, result.body, result.status);
      return send(c, { ...(result.body as object), key: result.replayed ? null : apiKey }, 201);
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys/{id}/revoke',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['API keys'],
      security,
      summary: 'Revoke an API key of the merchant (it stops working at once)',
      request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
      responses: { 200: { description: 'Revoked', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const id = c.req.valid('param').id;
      const { rows } = await app.db.query(
        'SELECT 1 FROM api_keys WHERE id = $1 AND merchant_id = $2',
        [id, merchantId],
      );
      if (rows.length === 0) throw new TagpayError('NOT_FOUND', `No API key ${id}.`, 'id');
      return answerCommand(app, c, merchantId, {
        op: 'api_key.revoke',
        merchantId,
        keyId: id,
      });
    },
  );

  // ---- The webhook secret: rotation with two secrets for a while, then the old one retired.
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-secret/rotate',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Webhooks'],
      security,
      summary:
        'Make a new webhook secret (shown once); the previous one signs too until it is retired or expires',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              previous_expires_in_s: z
                .number()
                .int()
                .min(0)
                .max(WEBHOOK_SECRET_OVERLAP_MS_MAX / 1000)
                .optional(),
            }),
          ),
        },
      },
      responses: { 200: { description: 'The new secret', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      const { key, requestHash } = await idempotency(app, c);
      const secret = newSecret('whsec', app.random);
      const result = await submitCommand(app.log, app.engine, merchantId, key, requestHash, {
        op: 'merchant.rotate_webhook_secret',
        merchantId,
        secret,
        previousForMs: (body.previous_expires_in_s ?? WEBHOOK_SECRET_OVERLAP_MS_MAX / 1000) * 1000,
      });
      if (result.status !== 200) return send(c, result.body, result.status);
      return send(c, {
        ...(result.body as object),
        webhook_secret: result.replayed ? null : secret,
      });
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-secret/retire-previous',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Webhooks'],
      security,
      summary: 'Stop signing with the previous webhook secret',
      request: { headers: IdempotencyHeaders },
      responses: { 200: { description: 'Done', ...json(Obj) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      return answerCommand(app, c, merchantId, {
        op: 'merchant.retire_webhook_secret',
        merchantId,
      });
    },
  );

  // ---- Webhook deliveries: the list (dead letters among them) and "send again".
  const STATUS = { pending: 0, delivered: 1, dead: 2 } as const;
  const NAMES = ['pending', 'delivered', 'dead'] as const;
  const Delivery = z
    .object({
      id: z.string(),
      object: z.literal('webhook_delivery'),
      status: z.enum(NAMES),
      event_id: z.string(),
      event_type: z.string(),
      url: z.string(),
      attempts: z.number(),
      last_error: z.string().nullable(),
      next_attempt_at: z.string().nullable(),
      delivered_at: z.string().nullable(),
    })
    .openapi('WebhookDelivery');
  const deliveryView = (r: Record<string, unknown>) => {
    const body = JSON.parse(r.body as string) as {
      url: string;
      event: { id: string; type: string };
    };
    const status = NAMES[Number(r.status)]!;
    return {
      id: `whd_${r.id as string}`,
      object: 'webhook_delivery',
      status,
      event_id: body.event.id,
      event_type: body.event.type,
      url: body.url,
      attempts: Number(r.attempts),
      last_error: (r.last_error as string | null) ?? null,
      next_attempt_at: status === 'pending' ? iso(r.next_at) : null,
      delivered_at: iso(r.delivered_at),
    };
  };
  const DeliveryId = z.string().regex(/^whd_[0-9]{1,18}$/);
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhook-deliveries',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Webhooks'],
      security,
      summary:
        "The merchant's webhook deliveries, newest first; status=dead is the dead-letter list",
      request: {
        query: z.object({
          status: z.enum(NAMES).optional(),
          limit: PageLimit,
          starting_after: DeliveryId.optional(),
        }),
      },
      responses: {
        200: {
          description: 'Deliveries',
          ...json(
            z.object({ object: z.literal('list'), data: z.array(Delivery), has_more: z.boolean() }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const q = c.req.valid('query');
      const params: unknown[] = [q.limit + 1, merchantId];
      const where = [`kind = 'webhook'`, `(body::jsonb ->> 'merchant_id') = $2`];
      if (q.status !== undefined) where.push(`status = $${params.push(STATUS[q.status])}`);
      if (q.starting_after !== undefined)
        where.push(`id < $${params.push(q.starting_after.slice(4))}::bigint`);
      const { rows } = await app.db.query<Record<string, unknown>>(
        `SELECT id::text AS id, body, status, attempts, next_at, last_error, delivered_at FROM outbox
         WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $1`,
        params,
      );
      return send(c, {
        object: 'list',
        data: rows.slice(0, q.limit).map(deliveryView),
        has_more: rows.length > q.limit,
      });
    },
  );
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-deliveries/{id}/retry',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Webhooks'],
      security,
      summary: 'Send a dead webhook again (its retries start over)',
      request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
      responses: { 200: { description: 'Queued again', ...json(Delivery) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const id = c.req.valid('param').id;
      const owned = `kind = 'webhook' AND (body::jsonb ->> 'merchant_id') = $2 AND id = $1::bigint`;
      if (!DeliveryId.safeParse(id).success)
        throw new TagpayError('NOT_FOUND', `No webhook delivery ${id}.`, 'id');
      const now = app.clock.now();
      // Only a dead delivery starts over; asking again while it is queued changes nothing.
      const { rows } = await app.db.query<Record<string, unknown>>(
        `UPDATE outbox SET status = 0, attempts = 0, next_at = $3 WHERE ${owned} AND status = 2
         RETURNING id::text AS id, body, status, attempts, next_at, last_error, delivered_at`,
        [id.slice(4), merchantId, now],
      );
      if (rows[0]) {
        await app.db.query(
          'INSERT INTO audit_log (at, action, actor, subject, detail) VALUES ($1, $2, $3, $4, $5)',
          [now, 'webhook.retried', merchantId, id, '{}'],
        );
        return send(c, deliveryView(rows[0]));
      }
      const { rows: found } = await app.db.query<Record<string, unknown>>(
        `SELECT id::text AS id, body, status, attempts, next_at, last_error, delivered_at FROM outbox WHERE ${owned}`,
        [id.slice(4), merchantId],
      );
      if (!found[0]) throw new TagpayError('NOT_FOUND', `No webhook delivery ${id}.`, 'id');
      if (Number(found[0].status) === STATUS.pending) return send(c, deliveryView(found[0]));
      throw new TagpayError(
        'DELIVERY_NOT_RETRYABLE',
        `Webhook delivery ${id} was delivered; only a dead one is sent again.`,
        'id',
      );
    },
  );
}
