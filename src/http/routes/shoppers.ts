import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import type { AppContext } from '../../app-context.ts';
import { submitCommand } from '../../engine/commands.ts';
import { handleKey } from '../../engine/state.ts';
import { shopperView } from '../../engine/views.ts';
import { accountOf } from '../accounts.ts';
import { guard, idempotency, requireAdminOrLocal } from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, send } from '../route.ts';
import { CreateShopperBody, ShopperSchema } from '../schemas.ts';

const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

const CardBody = z
  .object({
    number: z.string().max(32),
    exp_month: z.number().int().min(1).max(12),
    exp_year: z.number().int().min(0).max(2100),
    cvc: z.string().max(4),
  })
  .openapi('CardInput');

/**
 * Shoppers link a handle to a card token, an e-mail and an address. Ownership of the handle is
 * proven by the caller: the operator's admin key, or the handle's own local network token.
 */
export function shopperRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/sandbox/tokens',
      tags: ['Sandbox processor'],
      summary: 'Tokenize a test card; the number and CVC are kept nowhere',
      request: { body: { required: true, ...json(CardBody) } },
      responses: {
        201: {
          description: 'The token',
          ...json(
            z.object({
              id: z.string(),
              brand: z.string(),
              last4: z.string(),
              exp_month: z.number(),
              exp_year: z.number(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const card = await app.processor.tokenize(c.req.valid('json'));
      return send(
        c,
        {
          id: card.id,
          brand: card.brand,
          last4: card.last4,
          exp_month: card.expMonth,
          exp_year: card.expYear,
        },
        201,
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shoppers',
      middleware: [guard(app, 'admin-or-local')] as const,
      tags: ['Shoppers'],
      security,
      summary: 'Link (or re-link) a handle to a card token, e-mail and shipping address',
      description:
        'Authorized by the admin key, or by the local network token of the same handle (the proof of ownership).',
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(CreateShopperBody) },
      },
      responses: {
        201: { description: 'Linked', ...json(ShopperSchema) },
        200: { description: 'Re-linked', ...json(ShopperSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const owner = await requireAdminOrLocal(app, c);
      if (owner !== null && (body.network !== 'local' || owner !== body.handle)) {
        throw new TagpayError(
          'FORBIDDEN',
          'A token proves ownership of its own handle only.',
          'handle',
        );
      }
      const caller = owner === null ? 'admin' : `local:${owner}`;
      const card = await app.processor.describe(body.card_token);
      if (card === null)
        throw new TagpayError(
          'UNKNOWN_CARD_TOKEN',
          'No card with this token; tokenize the card first.',
          'card_token',
        );
      const account = await accountOf(app, body.network, body.handle);
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(app.log, app.engine, caller, key, requestHash, {
        op: 'shopper.link',
        network: body.network,
        account,
        handle: body.handle,
        email: body.email,
        shippingAddress: body.shipping_address,
        cardToken: body.card_token,
        cardBrand: card.brand,
        cardLast4: card.last4,
        purchaseLimitMinor: body.limits?.per_purchase?.toString() ?? null,
        dailyLimitMinor: body.limits?.per_day?.toString() ?? null,
        limitCurrency: body.limits?.currency ?? null,
        cardFingerprint: card.fingerprint ?? null,
        stepUpAboveMinor: body.limits?.step_up_above?.toString() ?? null,
      });
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shoppers/{network}/{handle}',
      middleware: [guard(app, 'admin-or-local')] as const,
      tags: ['Shoppers'],
      security,
      summary: "A linked shopper (admin key, or the handle's own token)",
      request: { params: z.object({ network: z.string().max(32), handle: z.string().max(64) }) },
      responses: { 200: { description: 'The shopper', ...json(ShopperSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { network, handle } = c.req.valid('param');
      const owner = await requireAdminOrLocal(app, c);
      if (owner !== null && (network !== 'local' || owner !== handle.toLowerCase()))
        throw new TagpayError('FORBIDDEN', 'Only your own profile.');
      const shopper = app.engine.view.shoppers.get(
        handleKey(network, await accountOf(app, network, handle.toLowerCase())),
      );
      if (!shopper) throw new TagpayError('NOT_FOUND', 'No shopper with this handle.', 'handle');
      return send(c, shopperView(shopper));
    },
  );
}
