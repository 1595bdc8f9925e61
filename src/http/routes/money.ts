import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppContext } from '../../app-context.ts';
import { hashCode } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import { hashGiftCode, normalizeGiftCode } from '../../core/gift-codes.ts';
import {
  CONFIRM_WINDOW_MS_DEFAULT,
  OFFER_QUANTITY_MAX,
  OFFER_TITLE_CHARS_MAX,
} from '../../core/limits.ts';
import { MEMO_CHARS_MAX } from '../../core/amount.ts';
import { accounts } from '../../core/ledger.ts';
import { OFFER_HASHTAG_RE } from '../../core/post-grammar.ts';
import { submitCommand } from '../../engine/commands.ts';
import { DM_NETWORKS, giftCardView, paymentView } from '../../engine/flows/money.ts';
import { paymentFromRow } from '../../engine/flows/money-load.ts';
import { handleKey, type Shopper } from '../../engine/state.ts';
import { accountOf } from '../accounts.ts';
import {
  guard,
  answerCommand,
  idempotency,
  requireAdminOrOwner,
  requireMerchant,
} from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { Currency, MinorAmount, MoneySchema } from '../schemas.ts';

const NetworkName = z.string().max(32).default('local');
const AnyHandle = z.string().min(1).max(128);

const WalletSchema = z
  .object({
    handle: z.string(),
    network: z.string(),
    shopper_id: z.string(),
    balances: z.array(
      z.object({
        currency: z.string(),
        amount: z.number().int().openapi({ description: 'Minor units' }),
      }),
    ),
  })
  .openapi('Wallet');

const WalletOpSchema = z
  .object({
    id: z.string(),
    object: z.enum(['top_up', 'withdrawal']),
    status: z.enum(['pending', 'succeeded', 'failed']),
    amount: z.number().int(),
    currency: z.string(),
    failure_reason: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('WalletOperation');

const PaymentSchema = z
  .object({
    id: z.string(),
    object: z.literal('handle_payment'),
    kind: z.enum(['pay', 'request']),
    status: z.string(),
    payer: z.object({ network: z.string(), handle: z.string() }),
    recipient: z.object({ network: z.string(), handle: z.string() }),
    amount: z.number().int(),
    currency: z.string(),
    memo: z.string(),
    from_wallet: z.number().int(),
    from_card: z.number().int(),
    failure_reason: z.string().nullable(),
    expires_at: z.string(),
    created_at: z.string(),
  })
  .openapi('HandlePayment');

const GiftCardSchema = z
  .object({
    id: z.string(),
    object: z.literal('gift_card'),
    value: z.number().int(),
    balance: z.number().int(),
    currency: z.string(),
    status: z.enum(['active', 'redeemed']),
    redeemed_at: z.string().nullable(),
  })
  .openapi('GiftCard');

const GiftCode = z.string().min(1).max(64).openapi({ example: 'GC-ABCD-EFGH-IJKL-MN23' });

/**
 * The linked shopper behind a network and handle, for a caller who may act for it: the admin key,
 * or the handle's own local network token.
 */
async function shopperFor(
  app: AppContext,
  c: Context,
  network: string,
  handle: string,
  missing: 'NOT_FOUND' | 'NOT_LINKED',
): Promise<Shopper> {
  const owner = await requireAdminOrOwner(app, c);
  const wanted = handle.replace(/^@/, '').toLowerCase();
  if (
    owner !== null &&
    (owner.network !== network || (owner.handle !== wanted && owner.account !== wanted))
  )
    throw new TagpayError('FORBIDDEN', 'A token acts for its own handle only.', 'handle');
  if (!app.networks.has(network))
    throw new TagpayError(
      'UNKNOWN_NETWORK',
      `tagpay is not connected to a network named ${network}.`,
      'network',
    );
  const shopper = app.engine.view.shoppers.get(
    handleKey(network, await accountOf(app, network, wanted)),
  );
  if (shopper === undefined)
    throw new TagpayError(missing, `@${wanted} on ${network} has not linked tagpay.`, 'handle');
  return shopper;
}

/** Money to a handle, wallets and gift cards (issue 7). */
export function moneyRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/wallets/{handle}',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Wallets'],
      security,
      summary:
        "A shopper's wallet: balances per currency in minor units (admin key, or the handle's token)",
      request: {
        params: z.object({ handle: AnyHandle }),
        query: z.object({ network: NetworkName }),
      },
      responses: { 200: { description: 'The wallet', ...json(WalletSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { handle } = c.req.valid('param');
      const shopper = await shopperFor(app, c, c.req.valid('query').network, handle, 'NOT_FOUND');
      const { rows } = await app.db.query<{ currency: string; balance: string }>(
        'SELECT currency, balance::text AS balance FROM balances WHERE account = $1 ORDER BY currency',
        [accounts.wallet(shopper.id)],
      );
      return send(c, {
        handle: shopper.handle,
        network: shopper.network,
        shopper_id: shopper.id,
        balances: rows.map((r) => ({ currency: r.currency, amount: Number(r.balance) })),
      });
    },
  );

  for (const [path, op, summary] of [
    [
      'top-ups',
      'wallet.top_up',
      'Top up a wallet from the linked card (answers at once; the charge follows)',
    ],
    [
      'withdrawals',
      'wallet.withdraw',
      'Withdraw from a wallet to the linked card (the money is held until the card is credited)',
    ],
  ] as const) {
    api.openapi(
      createRoute({
        method: 'post',
        path: `/v1/wallets/{handle}/${path}`,
        middleware: [guard(app, 'admin-or-owner')] as const,
        tags: ['Wallets'],
        security,
        summary,
        request: {
          params: z.object({ handle: AnyHandle }),
          headers: IdempotencyHeaders,
          body: {
            required: true,
            ...json(z.object({ network: NetworkName, amount: MinorAmount, currency: Currency })),
          },
        },
        responses: { 202: { description: 'Accepted', ...json(WalletOpSchema) }, ...errorResponses },
      }),
      async (c) => {
        const body = c.req.valid('json');
        const shopper = await shopperFor(
          app,
          c,
          body.network,
          c.req.valid('param').handle,
          'NOT_LINKED',
        );
        return answerCommand(app, c, `shopper:${shopper.id}`, {
          op,
          shopperId: shopper.id,
          amountMinor: body.amount.toString(),
          currency: body.currency,
        });
      },
    );
  }

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/handle-payments',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Handle payments'],
      security,
      summary:
        'Send money to a handle (kind pay) or ask a handle for money (kind request), as a post would',
      description:
        "The amount is written as in a post: `$10`, `10 USD`, `€10`, `10,50 €`, `EUR 10`, or a bare number in the sender's default currency. Above the confirmation threshold, and for a first payment to a recipient, the answer is `awaiting_confirmation` and the code goes to the payer privately; confirm with POST /v1/handle-payments/{id}/confirm.",
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              network: NetworkName,
              kind: z.enum(['pay', 'request']).default('pay'),
              from: AnyHandle.openapi({
                description: 'The caller: the payer of a pay, the asker of a request',
              }),
              to: AnyHandle,
              amount: z.string().min(1).max(40).openapi({ example: '$10' }),
              memo: z.string().max(MEMO_CHARS_MAX).default(''),
            }),
          ),
        },
      },
      responses: { 201: { description: 'The payment', ...json(PaymentSchema) }, ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const shopper = await shopperFor(app, c, body.network, body.from, 'NOT_LINKED');
      const to = body.to.replace(/^@/, '').toLowerCase();
      if (/[\s#]/.test(to)) throw new TagpayError('INVALID_HANDLE', 'That is not a handle.', 'to');
      return answerCommand(app, c, `shopper:${shopper.id}`, {
        op: 'payment.create',
        kind: body.kind,
        network: body.network,
        shopperId: shopper.id,
        counterparty: to,
        amount: body.amount.replace(/[#@]/g, ' '),
        memo: body.memo.replace(/[#@]/g, ' '),
      });
    },
  );

  const paymentRow = async (id: string) => {
    const { rows } = await app.db.query('SELECT * FROM handle_payments WHERE id = $1', [id]);
    if (!rows[0]) throw new TagpayError('NOT_FOUND', `No payment ${id}.`, 'id');
    return paymentFromRow(rows[0]);
  };

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/handle-payments/{id}/confirm',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Handle payments'],
      security,
      summary: 'Confirm a payment (or pay a request) with the code sent to the payer',
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: { required: true, ...json(z.object({ code: z.string().min(1).max(32) })) },
      },
      responses: { 200: { description: 'The payment', ...json(PaymentSchema) }, ...errorResponses },
    }),
    async (c) => {
      const p = await paymentRow(c.req.valid('param').id);
      await shopperFor(app, c, p.payerNetwork, p.payerHandle, 'NOT_LINKED').catch(
        (error: unknown) => {
          // Someone else's payment is reported as missing: ids never confirm what others have.
          if (error instanceof TagpayError && error.code === 'FORBIDDEN')
            throw new TagpayError('NOT_FOUND', `No payment ${p.id}.`, 'id');
          throw error;
        },
      );
      const { key, requestHash } = await idempotency(app, c);
      // A payment no longer awaiting its code is told at the edge, unless this is a replay. One
      // that expired says so as the engine would have (the clock's tick may have come first).
      if (
        p.status !== 'awaiting_confirmation' &&
        (await app.log.findByKey(`api:shopper:${p.payerId}:${key}`)) === null
      ) {
        if (p.status === 'expired')
          throw new TagpayError(
            'CODE_EXPIRED',
            'The confirmation code has expired; nothing was sent.',
            'code',
          );
        throw new TagpayError('PAYMENT_NOT_PENDING', `Payment ${p.id} is ${p.status}.`, 'id');
      }
      const result = await submitCommand(
        app.log,
        app.engine,
        `shopper:${p.payerId}`,
        key,
        requestHash,
        {
          op: 'payment.confirm',
          paymentId: p.id,
          shopperId: p.payerId,
          codeHash: hashCode(c.req.valid('json').code.replace(/^#/, '').toLowerCase()),
        },
      );
      return send(c, result.body, result.status);
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/handle-payments/{id}',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Handle payments'],
      security,
      summary: 'One payment (admin key, or the token of its payer or recipient)',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The payment', ...json(PaymentSchema) }, ...errorResponses },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      const p = await paymentRow(c.req.valid('param').id);
      const mine =
        owner !== null &&
        ((p.payerNetwork === owner.network && p.payerHandle === owner.handle) ||
          (p.recipientNetwork === owner.network && p.recipientHandle === owner.handle));
      if (owner !== null && !mine) throw new TagpayError('NOT_FOUND', `No payment ${p.id}.`, 'id');
      return send(c, paymentView(p));
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/claims/{id}',
      tags: ['Handle payments'],
      summary:
        'Where a claim link stands: pending (link the handle to claim it), claimed, or expired (410)',
      description:
        "Public, as the link is. It names the sender (the claim's mention does too). The amount is shown only to the claim's recipient: to whoever holds the id when the link went by direct message, otherwise to a caller signed in as the recipient handle (a web session or proof of ownership) or the admin key; otherwise `amount` and `currency` are null, as the public mention never shows an amount.",
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: {
        200: {
          description: 'The claim',
          ...json(
            z.object({
              id: z.string(),
              object: z.literal('claim'),
              status: z.enum(['pending', 'claimed']),
              network: z.string(),
              handle: z.string(),
              from: z.object({ network: z.string(), handle: z.string() }),
              amount: z.number().int().nullable().openapi({ description: 'Minor units' }),
              currency: z.string().nullable(),
              expires_at: z.string(),
            }),
          ),
        },
        410: { description: 'The claim period ended and the money went back (CLAIM_EXPIRED)' },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await paymentRow(c.req.valid('param').id);
      const wasClaim = ['pending_claim', 'returned', 'completed'].includes(p.status);
      if (!wasClaim) throw new TagpayError('NOT_FOUND', `No claim ${p.id}.`, 'id');
      if (p.status === 'returned')
        throw new TagpayError(
          'CLAIM_EXPIRED',
          'This claim expired: the money went back to its sender.',
          'id',
        );
      // The caller's credentials are optional here: without any, the claim is shown as the link is.
      const owner = await requireAdminOrOwner(app, c).then(
        (o) => o,
        () => undefined,
      );
      const recipient =
        owner === null ||
        DM_NETWORKS.has(p.recipientNetwork) ||
        (owner !== undefined &&
          owner.network === p.recipientNetwork &&
          (owner.handle === p.recipientHandle || owner.account === p.recipientHandle));
      return send(c, {
        id: p.id,
        object: 'claim',
        status: p.status === 'pending_claim' ? 'pending' : 'claimed',
        network: p.recipientNetwork,
        handle: p.recipientHandle,
        from: { network: p.payerNetwork, handle: p.payerHandle },
        amount: recipient ? Number(p.amountMinor) : null,
        currency: recipient ? p.currency : null,
        expires_at: new Date(p.expiresAt).toISOString(),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/gift-card-offers',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Gift cards'],
      security,
      summary:
        'Create an offer that sells a gift card of one value for a lower price (the merchant funds the difference)',
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z
              .object({
                title: z.string().trim().min(1).max(OFFER_TITLE_CHARS_MAX),
                price: MoneySchema,
                value: MinorAmount.openapi({
                  description: "One card's value, in the price's currency",
                }),
                quantity: z.number().int().min(1).max(OFFER_QUANTITY_MAX),
                hashtag: z
                  .string()
                  .transform((h) => h.replace(/^#/, ''))
                  .pipe(
                    z
                      .string()
                      .regex(
                        OFFER_HASHTAG_RE,
                        'a hashtag is 3 to 64 ASCII letters, digits or _, starting with a letter',
                      ),
                  ),
                publish: z.boolean().default(true),
              })
              .refine((o) => o.value >= o.price.amount, {
                message: 'a gift card is worth at least its price',
                path: ['value'],
              }),
          ),
        },
      },
      responses: {
        201: { description: 'Created (an offer with kind gift_card)' },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      return answerCommand(app, c, merchantId, {
        op: 'giftcard.offer_create',
        valueMinor: body.value.toString(),
        offer: {
          op: 'offer.create',
          merchantId,
          title: body.title,
          priceMinor: body.price.amount.toString(),
          currency: body.price.currency,
          quantity: body.quantity,
          hashtag: body.hashtag,
          variants: [],
          perBuyerMax: null,
          windowMs: CONFIRM_WINDOW_MS_DEFAULT,
          startsAt: null,
          endsAt: null,
          publish: body.publish,
        },
      });
    },
  );

  const codeHashOf = (code: string) => {
    const canonical = normalizeGiftCode(code);
    if (canonical === null)
      throw new TagpayError(
        'GIFT_CARD_NOT_FOUND',
        'That is not a gift card code (GC- and 16 letters and digits).',
        'code',
      );
    return hashGiftCode(canonical);
  };

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/gift-cards/redeem',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Gift cards'],
      security,
      summary: "Redeem a gift card into a shopper's wallet; each code works once",
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              code: GiftCode,
              network: z.string().max(32).optional().openapi({
                description: "The wallet's network; default: the caller's own, else local",
              }),
              handle: AnyHandle.optional().openapi({
                description:
                  "Whose wallet the card goes into; default: the caller's own handle (required with the admin key)",
              }),
            }),
          ),
        },
      },
      responses: {
        200: { description: 'The card, now redeemed', ...json(GiftCardSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const owner = await requireAdminOrOwner(app, c);
      const network = body.network ?? owner?.network ?? 'local';
      const handle = body.handle ?? owner?.handle;
      if (handle === undefined)
        throw new TagpayError(
          'INVALID_REQUEST',
          'handle: whose wallet the card goes into.',
          'handle',
        );
      const shopper = await shopperFor(app, c, network, handle, 'NOT_LINKED');
      const codeHash = codeHashOf(body.code);
      return answerCommand(app, c, `shopper:${shopper.id}`, {
        op: 'giftcard.redeem',
        shopperId: shopper.id,
        codeHash,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/gift-cards/check',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Gift cards'],
      security,
      summary: "A gift card's balance, by its code (POST, so the code stays out of URLs and logs)",
      request: { body: { required: true, ...json(z.object({ code: GiftCode })) } },
      responses: { 200: { description: 'The card', ...json(GiftCardSchema) }, ...errorResponses },
    }),
    async (c) => {
      await requireAdminOrOwner(app, c);
      const card = app.engine.view.money.giftCards.get(codeHashOf(c.req.valid('json').code));
      if (card === undefined)
        throw new TagpayError('GIFT_CARD_NOT_FOUND', 'No gift card has this code.', 'code');
      return send(c, giftCardView(card));
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shoppers/{network}/{handle}/settings',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary:
        'Privacy (public: replies on the network; private: e-mail or direct message) and default currency',
      request: {
        params: z.object({ network: z.string().max(32), handle: AnyHandle }),
        headers: IdempotencyHeaders,
        body: {
          required: true,
          ...json(
            z.object({
              visibility: z.enum(['public', 'private']).optional(),
              default_currency: Currency.optional(),
            }),
          ),
        },
      },
      responses: {
        200: {
          description: 'The settings',
          ...json(
            z.object({
              object: z.literal('settings'),
              visibility: z.enum(['public', 'private']),
              default_currency: z.string(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { network, handle } = c.req.valid('param');
      const body = c.req.valid('json');
      const shopper = await shopperFor(app, c, network, handle, 'NOT_LINKED');
      return answerCommand(app, c, `shopper:${shopper.id}`, {
        op: 'shopper.settings',
        shopperId: shopper.id,
        visibility: body.visibility ?? null,
        defaultCurrency: body.default_currency ?? null,
      });
    },
  );
}
