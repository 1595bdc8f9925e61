import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { TagpayError } from '../../core/errors.ts';
import {
  AMOUNT_MINOR_MAX,
  BUY_LINK_TTL_MS,
  CART_ITEMS_MAX,
  QUANTITY_PER_POST_MAX,
} from '../../core/limits.ts';
import { buyLinkPath, checkBuyLink } from '../../core/signing.ts';
import type { AppContext } from '../../app-context.ts';
import { submitCommand } from '../../engine/commands.ts';
import { cartItemView, paymentView } from '../../engine/flows/checkout.ts';
import { paymentFromRow } from '../../engine/flows/checkout-store.ts';
import { handleKey } from '../../engine/state.ts';
import { offerView } from '../../engine/views.ts';
import { accountOf } from '../accounts.ts';
import {
  answerCommand,
  bearer,
  guard,
  idempotency,
  principalOf,
  requireMerchant,
  requirePrincipal,
} from '../auth.ts';
import { sessionOf } from '../session.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { OfferSchema } from '../schemas.ts';

/** Where a web payment's money comes from (see PayFrom in the engine). */
const PayFromSchema = z.enum(['card', 'wallet']).default('card').openapi({
  description:
    'card (default): the card on file pays it all. wallet: the wallet pays first and the card whatever it does not cover.',
});

export const PaymentSchema = z
  .object({
    id: z.string(),
    object: z.literal('payment'),
    kind: z.enum(['buy_now', 'cart', 'cart_post', 'oauth']),
    status: z.enum([
      'awaiting_confirmation',
      'awaiting_step_up',
      'charging',
      'paid',
      'refunding',
      'refunded',
      'failed',
      'expired',
      'canceled',
    ]),
    amount: z.number().int(),
    currency: z.string(),
    shopper_id: z.string(),
    order_ids: z.array(z.string()),
    merchant_id: z.string().nullable(),
    pay_request_id: z.string().nullable(),
    failure_reason: z.string().nullable(),
    pay_from: z.enum(['card', 'wallet']),
    wallet_amount: z
      .number()
      .int()
      .openapi({ description: 'What the wallet paid (or holds while the card is charged)' }),
    card_amount: z.number().int().openapi({ description: 'What the card is charged: the rest' }),
    amount_refunded: z.number().int(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Payment');

const CartItemSchema = z
  .object({
    id: z.string(),
    object: z.literal('cart_item'),
    offer_id: z.string(),
    title: z.string().nullable(),
    variant: z.string().nullable(),
    quantity: z.number().int(),
    unit_price: z.object({ amount: z.number().int(), currency: z.string() }).nullable(),
    available: z.number().int(),
    added_at: z.string(),
  })
  .openapi('CartItem');

const CartSchema = z
  .object({ object: z.literal('cart'), items: z.array(CartItemSchema) })
  .openapi('Cart');

const BuyLinkParams = z.object({
  exp: z.string().max(12).openapi({ description: 'Expiry of the link, unix seconds' }),
  sig: z.string().max(64).openapi({ description: 'HMAC-SHA256 of the offer id and expiry' }),
});

/**
 * The shopper a request acts for: a local network token (the proof of the handle), or a web session
 * signed in with a handle (on any network; the session's sign-in was the proof).
 */
export async function requireShopper(
  app: AppContext,
  c: Context,
): Promise<{ network: string; account: string }> {
  const token = bearer(c);
  if (token !== null) {
    const handle = await app.local.authenticate(token);
    if (handle === null)
      throw new TagpayError('UNAUTHENTICATED', 'This token is not valid (unknown or revoked).');
    return { network: 'local', account: handle };
  }
  const session = await sessionOf(app, c);
  if (session?.network == null || session.handle === null)
    throw new TagpayError('UNAUTHENTICATED', 'Sign in with your handle first.');
  const account =
    session.network === 'local'
      ? session.handle
      : await accountOf(app, session.network, session.handle);
  return { network: session.network, account };
}

/**
 * Checks a buy-now link: its signature (LINK_INVALID when altered in any way) and its expiry
 * (LINK_EXPIRED), against the operator's signing key.
 */
export function checkLink(app: AppContext, offerId: string, exp: string, sig: string): number {
  const checked = checkBuyLink(app.signingKey, offerId, exp, sig);
  if (!checked.ok)
    throw new TagpayError('LINK_INVALID', 'This buy-now link is not valid: it was changed or cut.');
  if (checked.expiresAtMs <= app.clock.now())
    throw new TagpayError(
      'LINK_EXPIRED',
      'This buy-now link has expired; ask the seller for a new one.',
    );
  return checked.expiresAtMs;
}

/** Buy-now links, the one-tap checkout, the cart and payments (DESIGN flows 4 and 5). */
export function checkoutRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/offers/{id}/buy_link',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Buy now'],
      security,
      summary: 'A signed buy-now (ticket) link to an offer, for a button on any page',
      request: {
        params: z.object({ id: z.string().max(64) }),
        query: z.object({
          expires_in_s: z.coerce
            .number()
            .int()
            .min(60)
            .max(BUY_LINK_TTL_MS / 1000)
            .optional(),
        }),
      },
      responses: {
        200: {
          description: 'The link',
          ...json(z.object({ url: z.string(), expires_at: z.string() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const offer = app.engine.view.offers.get(c.req.valid('param').id);
      if (offer === undefined || offer.merchantId !== merchantId)
        throw new TagpayError('NOT_FOUND', 'No such offer.', 'id');
      const ttl = (c.req.valid('query').expires_in_s ?? BUY_LINK_TTL_MS / 1000) * 1000;
      let expiresAt = app.clock.now() + ttl;
      if (offer.endsAt !== null) expiresAt = Math.min(expiresAt, offer.endsAt);
      return send(c, {
        url: app.config.publicUrl + buyLinkPath(app.signingKey, offer.id, expiresAt),
        expires_at: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString(),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/buy_links/{offer_id}',
      tags: ['Buy now'],
      summary: "Checks a buy-now link's signature and expiry; answers the offer it names",
      request: { params: z.object({ offer_id: z.string().max(64) }), query: BuyLinkParams },
      responses: {
        200: {
          description: 'The offer',
          ...json(z.object({ offer: OfferSchema, expires_at: z.string() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { offer_id } = c.req.valid('param');
      const { exp, sig } = c.req.valid('query');
      const expiresAt = checkLink(app, offer_id, exp, sig);
      const offer = app.engine.view.offers.get(offer_id);
      if (offer === undefined) throw new TagpayError('OFFER_NOT_ON_SALE', 'This offer has ended.');
      return send(c, { offer: offerView(offer), expires_at: new Date(expiresAt).toISOString() });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/checkout/buy_now',
      tags: ['Buy now'],
      security,
      summary: 'One tap: buy an offer through its signed link, charged to the linked card',
      description:
        'Reserves the units and charges the card on file in one step (the tap is the confirmation). The answer is the payment, `charging`; poll GET /v1/payments/{id} for `paid` or `failed`.',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              offer_id: z.string().max(64),
              exp: BuyLinkParams.shape.exp,
              sig: BuyLinkParams.shape.sig,
              variant: z.string().max(12).nullable().optional(),
              quantity: z.number().int().min(1).max(QUANTITY_PER_POST_MAX).default(1),
              pay_from: PayFromSchema,
            }),
          ),
        },
      },
      responses: {
        201: { description: 'The payment, charging', ...json(PaymentSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const shopper = await requireShopper(app, c);
      const body = c.req.valid('json');
      const expiresAt = checkLink(app, body.offer_id, body.exp, body.sig);
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(
        app.log,
        app.engine,
        `shopper:${handleKey(shopper.network, shopper.account)}`,
        key,
        requestHash,
        {
          op: 'checkout.buy_now',
          network: shopper.network,
          account: shopper.account,
          item: { offerId: body.offer_id, variant: body.variant ?? null, quantity: body.quantity },
          linkExpiresAt: expiresAt,
          payFrom: body.pay_from,
        },
      );
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/cart',
      tags: ['Cart'],
      security,
      summary: "The signed-in shopper's cart (filled by replying #cart to offer posts)",
      responses: { 200: { description: 'The cart', ...json(CartSchema) }, ...errorResponses },
    }),
    async (c) => {
      const shopper = await requireShopper(app, c);
      const items =
        app.engine.view.checkout.carts.get(handleKey(shopper.network, shopper.account)) ?? [];
      return send(c, {
        object: 'cart',
        items: items.map((i) => cartItemView(i, app.engine.view.offers.get(i.offerId))),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/cart/checkout',
      tags: ['Cart'],
      security,
      summary: 'Check out the cart (or some of its items) in one payment',
      description:
        'Every item is reserved or none is (all or nothing); one card charge pays them all, and each item becomes an order of its own. The answer is the payment, `charging`.',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: false,
          ...json(
            z.object({
              item_ids: z.array(z.string().max(64)).min(1).max(CART_ITEMS_MAX).optional(),
              pay_from: PayFromSchema,
            }),
          ),
        },
      },
      responses: {
        201: { description: 'The payment, charging', ...json(PaymentSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const shopper = await requireShopper(app, c);
      const raw = (await c.req.json().catch(() => ({}))) as { item_ids?: unknown };
      const parsed = z
        .object({
          item_ids: z.array(z.string().max(64)).min(1).max(CART_ITEMS_MAX).optional(),
          pay_from: PayFromSchema,
        })
        .safeParse(raw ?? {});
      if (!parsed.success) {
        const param = parsed.error.issues[0]?.path[0] === 'pay_from' ? 'pay_from' : 'item_ids';
        throw new TagpayError(
          'INVALID_REQUEST',
          param === 'pay_from'
            ? 'pay_from: "card" or "wallet"'
            : 'item_ids: a list of cart item ids',
          param,
        );
      }
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(
        app.log,
        app.engine,
        `shopper:${handleKey(shopper.network, shopper.account)}`,
        key,
        requestHash,
        {
          op: 'cart.checkout',
          network: shopper.network,
          account: shopper.account,
          itemIds: parsed.data.item_ids ?? null,
          payFrom: parsed.data.pay_from,
        },
      );
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/cart/items/{id}/remove',
      tags: ['Cart'],
      security,
      summary: 'Take an item out of the cart',
      request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
      responses: { 200: { description: 'The cart', ...json(CartSchema) }, ...errorResponses },
    }),
    async (c) => {
      const shopper = await requireShopper(app, c);
      const { key, requestHash } = await idempotency(app, c);
      const result = await submitCommand(
        app.log,
        app.engine,
        `shopper:${handleKey(shopper.network, shopper.account)}`,
        key,
        requestHash,
        {
          op: 'cart.remove',
          network: shopper.network,
          account: shopper.account,
          itemId: c.req.valid('param').id,
        },
      );
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/payments/{id}/refund',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Pay with tagpay'],
      security,
      summary: 'Refund a pay-with-tagpay payment in full or in part (merchant or admin key)',
      description:
        "Without `amount`, refunds whatever is left. The card's part is refunded first, to the card, up to what the card paid; the rest goes back to the shopper's wallet (a payment paid from the wallet). The payment stays `paid` (with `amount_refunded`) until refunded in full; the shop gets a `payment.refunded` webhook. Buy-now and cart payments are refunded order by order (POST /v1/orders/{id}/refund).",
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: {
          required: false,
          ...json(
            z.object({
              amount: z.number().int().optional().openapi({ description: 'Minor units' }),
            }),
          ),
        },
      },
      responses: {
        200: { description: 'The payment, refunding or refunded', ...json(PaymentSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const body = (await c.req.json().catch(() => ({}))) as { amount?: unknown };
      const amount = body?.amount;
      if (
        amount !== undefined &&
        amount !== null &&
        !(
          Number.isSafeInteger(amount) &&
          (amount as number) > 0 &&
          BigInt(amount as number) <= AMOUNT_MINOR_MAX
        )
      )
        throw new TagpayError(
          'INVALID_AMOUNT',
          'amount: a positive whole number of minor units, e.g. 500 for $5.00',
          'amount',
        );
      return answerCommand(app, c, p.kind === 'admin' ? 'admin' : p.merchantId, {
        op: 'payment.refund',
        paymentId: c.req.valid('param').id,
        merchantId: p.kind === 'admin' ? null : p.merchantId,
        amountMinor: amount === undefined || amount === null ? null : String(amount),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/payments/{id}',
      tags: ['Payments'],
      security,
      summary: 'One payment (its shopper, or the admin key)',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The payment', ...json(PaymentSchema) }, ...errorResponses },
    }),
    async (c) => {
      const principal = await principalOf(app, c);
      const shopper = principal?.kind === 'admin' ? null : await requireShopper(app, c);
      const { rows } = await app.db.query('SELECT * FROM payments WHERE id = $1', [
        c.req.valid('param').id,
      ]);
      const payment = rows[0] ? paymentFromRow(rows[0]) : null;
      if (
        payment === null ||
        (shopper !== null &&
          (payment.network !== shopper.network || payment.account !== shopper.account))
      )
        throw new TagpayError('NOT_FOUND', 'No such payment.', 'id');
      return send(c, paymentView(payment));
    },
  );
}
