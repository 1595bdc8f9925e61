import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { newSecret, sha256 } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import { CONFIRM_WINDOW_MS_DEFAULT } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import { submitCommand } from '../../engine/commands.ts';
import { offerFromRow } from '../../engine/load.ts';
import { merchantView, offerView } from '../../engine/views.ts';
import {
  answerCommand,
  idempotency,
  requireAdmin,
  requireMerchant,
  requirePrincipal,
  guard,
} from '../auth.ts';
import { accountOf } from '../accounts.ts';
import { webhookTargetProblem } from '../../outbox/ssrf.ts';
import { cursorPage, errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import {
  CreateMerchantBody,
  CreateOfferBody,
  listOf,
  OfferSchema,
  PageQuery,
  NetworkSchema,
  NetworkHandleSchema,
} from '../schemas.ts';

const MerchantCreated = z
  .object({
    id: z.string(),
    object: z.literal('merchant'),
    network: z.string(),
    handle: z.string(),
    name: z.string(),
    webhook_url: z.string().nullable(),
    fee_bps: z.number().nullable(),
    verified: z
      .boolean()
      .openapi({ description: 'Set by the operator; offers of unverified merchants say so.' }),
    created_at: z.string(),
    api_key: z
      .string()
      .nullable()
      .openapi({ description: 'Shown once; null when this answer is a replay.' }),
    webhook_secret: z
      .string()
      .nullable()
      .openapi({ description: 'Signs the webhooks; shown once.' }),
  })
  .openapi('MerchantCreated');

/** Merchants (created by the operator) and their offers (created with the merchant's key). */
export function merchantRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/merchants',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Merchants'],
      security,
      summary: 'Create a merchant (admin key)',
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(CreateMerchantBody) },
      },
      responses: {
        201: { description: 'Created, with its API key shown once', ...json(MerchantCreated) },
        ...errorResponses,
      },
    }),
    async (c) => {
      await requireAdmin(app, c);
      const body = c.req.valid('json');
      // The merchant's handle must exist on its network (and the network be connected).
      await accountOf(app, body.network, body.handle);
      if (body.webhook_url !== undefined) {
        const refused = await webhookTargetProblem(
          body.webhook_url,
          app.config.webhookAllowPrivate,
        );
        if (refused !== null) {
          throw new TagpayError(
            'WEBHOOK_URL_NOT_ALLOWED',
            `tagpay does not call ${refused}.`,
            'webhook_url',
          );
        }
      }
      const { key, requestHash } = await idempotency(app, c);
      // The secrets are made here, at the edge: the log and the tables only ever see the key's hash.
      const apiKey = newSecret('sk', app.random);
      const webhookSecret = newSecret('whsec', app.random);
      const result = await submitCommand(app.log, app.engine, 'admin', key, requestHash, {
        op: 'merchant.create',
        network: body.network,
        handle: body.handle,
        name: body.name,
        webhookUrl: body.webhook_url ?? null,
        webhookSecret,
        keyHash: sha256(apiKey),
        feeBps: body.fee_bps ?? null,
      });
      if (result.status !== 201) return send(c, result.body, result.status);
      return send(
        c,
        {
          ...(result.body as object),
          api_key: result.replayed ? null : apiKey,
          webhook_secret: result.replayed ? null : webhookSecret,
        },
        201,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/merchants/{id}/handles',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Merchants'],
      security,
      summary: 'Add a handle on another network (admin key): offers are then published there too',
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(z.object({ network: NetworkSchema, handle: NetworkHandleSchema })),
        },
      },
      responses: {
        200: { description: 'The merchant', ...json(z.object({ id: z.string() }).passthrough()) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await accountOf(app, body.network, body.handle);
      return answerCommand(app, c, 'admin', {
        op: 'merchant.add_handle',
        merchantId: c.req.valid('param').id,
        network: body.network,
        handle: body.handle,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/merchants/{id}/keys',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Merchants'],
      security,
      summary: 'Issue a new API key (admin key); every other key of the merchant is revoked',
      description:
        'For a lost or leaked key. The new key is shown once; a replayed request answers api_key null.',
      request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
      responses: {
        200: {
          description: 'The merchant and its new key',
          ...json(MerchantCreated.omit({ webhook_secret: true })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { key, requestHash } = await idempotency(app, c);
      const apiKey = newSecret('sk', app.random);
      const result = await submitCommand(app.log, app.engine, 'admin', key, requestHash, {
        op: 'merchant.rotate_key',
        merchantId: c.req.valid('param').id,
        keyHash: sha256(apiKey),
      });
      if (result.status !== 200) return send(c, result.body, result.status);
      return send(c, { ...(result.body as object), api_key: result.replayed ? null : apiKey });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/merchants/me',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Merchants'],
      security,
      summary: 'The merchant of the API key',
      responses: {
        200: {
          description: 'The merchant',
          ...json(MerchantCreated.omit({ api_key: true, webhook_secret: true })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const m = app.engine.view.merchants.get(merchantId);
      if (!m) throw new TagpayError('NOT_FOUND', 'No such merchant.');
      return send(c, merchantView(m));
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/offers',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Offers'],
      security,
      summary: "Create an offer; by default it is published at once from the merchant's handle",
      request: { headers: IdempotencyHeaders, body: { required: true, ...json(CreateOfferBody) } },
      responses: { 201: { description: 'Created', ...json(OfferSchema) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      return answerCommand(app, c, merchantId, {
        op: 'offer.create',
        merchantId,
        title: body.title,
        priceMinor: body.price.amount.toString(),
        currency: body.price.currency,
        quantity: body.quantity,
        hashtag: body.hashtag,
        variants: body.variants,
        perBuyerMax: body.per_buyer_max,
        windowMs:
          body.confirm_window_s === undefined
            ? CONFIRM_WINDOW_MS_DEFAULT
            : body.confirm_window_s * 1000,
        startsAt: body.starts_at ?? null,
        endsAt: body.ends_at ?? null,
        publish: body.publish,
      });
    },
  );

  for (const [action, status] of [
    ['pause', 'paused'],
    ['resume', 'live'],
    ['end', 'ended'],
  ] as const) {
    api.openapi(
      createRoute({
        method: 'post',
        path: `/v1/offers/{id}/${action}`,
        middleware: [guard(app, 'merchant')] as const,
        tags: ['Offers'],
        security,
        summary: `${action[0]!.toUpperCase()}${action.slice(1)} an offer`,
        request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
        responses: { 200: { description: 'The offer', ...json(OfferSchema) }, ...errorResponses },
      }),
      async (c) => {
        const merchantId = await requireMerchant(app, c);
        return answerCommand(app, c, merchantId, {
          op: 'offer.set_status',
          merchantId,
          offerId: c.req.valid('param').id,
          status,
        });
      },
    );
  }

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/offers',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Offers'],
      security,
      summary: 'Offers, newest first (a merchant sees its own)',
      request: { query: PageQuery },
      responses: {
        200: { description: 'Offers', ...json(listOf(OfferSchema, 'OfferList')) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const q = c.req.valid('query');
      return send(
        c,
        await cursorPage(
          app.db,
          'offers',
          p.kind === 'merchant' ? p.merchantId : null,
          q,
          () => [],
          (r) => offerView(offerFromRow(r)),
        ),
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/offers/{id}',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Offers'],
      security,
      summary: 'One offer',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The offer', ...json(OfferSchema) }, ...errorResponses },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const { rows } = await app.db.query('SELECT * FROM offers WHERE id = $1', [
        c.req.valid('param').id,
      ]);
      const offer = rows[0] ? offerFromRow(rows[0]) : null;
      if (offer === null || (p.kind === 'merchant' && offer.merchantId !== p.merchantId)) {
        throw new TagpayError('NOT_FOUND', 'No such offer.', 'id');
      }
      return send(c, offerView(offer));
    },
  );
}
