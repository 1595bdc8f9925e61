import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { OFFER_QUANTITY_MAX, OFFER_TITLE_CHARS_MAX } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import { guard, answerCommand, requireMerchant } from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, json } from '../route.ts';
import { OfferSchema } from '../schemas.ts';

/** Editing an offer (Stripe's update: a POST to the object). Decided by the engine (flows/offer-edit.ts). */
export function offerEditRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/offers/{id}',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Offers'],
      security,
      summary: "Edit an offer's title, quantity or per-buyer cap (price and hashtag stay)",
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z
              .object({
                title: z.string().trim().min(1).max(OFFER_TITLE_CHARS_MAX).optional(),
                quantity: z.number().int().min(1).max(OFFER_QUANTITY_MAX).optional(),
                per_buyer_max: z
                  .number()
                  .int()
                  .min(1)
                  .max(OFFER_QUANTITY_MAX)
                  .nullable()
                  .optional(),
              })
              .openapi('UpdateOffer'),
          ),
        },
      },
      responses: { 200: { description: 'The offer', ...json(OfferSchema) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      return answerCommand(app, c, merchantId, {
        op: 'offer.update',
        merchantId,
        offerId: c.req.valid('param').id,
        title: body.title ?? null,
        quantity: body.quantity ?? null,
        ...(body.per_buyer_max !== undefined && { perBuyerMax: body.per_buyer_max }),
      });
    },
  );
}
