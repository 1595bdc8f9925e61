import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { requireVerifiedEmailForSession } from './web-data.ts';
import type { AppContext } from '../../app-context.ts';
import { handleKey } from '../../engine/state.ts';
import { shopperView } from '../../engine/views.ts';
import { accountOf } from '../accounts.ts';
import { callerOf, guard, answerCommand, requireAdminOrOwner } from '../auth.ts';
import { readProof, type Ownership } from '../ownership.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { AddShopperHandleBody, CreateShopperBody, ShopperSchema } from '../schemas.ts';

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
 * proven by the caller: the operator's admin key, a proof of ownership from onboarding
 * (src/http/routes/onboarding.ts), or the handle's own local network token.
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
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary: 'Link (or re-link) a handle to a card token, e-mail and shipping address',
      description:
        'Authorized by the admin key, by a proof of ownership of the same handle (`own_…`, from ' +
        '`/v1/onboarding/bluesky`, `/v1/onboarding/mastodon/callback` or `/v1/onboarding/local`), or ' +
        'by the local network token of the same handle.',
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
      const owner = await requireAdminOrOwner(app, c);
      await requireVerifiedEmailForSession(app, c, owner, body.email);
      const card = await app.processor.describe(body.card_token);
      if (card === null)
        throw new TagpayError(
          'UNKNOWN_CARD_TOKEN',
          'No card with this token; tokenize the card first.',
          'card_token',
        );
      const account =
        owner === null
          ? await accountOf(app, body.network, body.handle)
          : provenAccount(owner, body.network, body.handle);
      return answerCommand(app, c, callerOf(owner), {
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
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/shoppers/{id}/handles',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary: 'Add a handle on another network (or another account) to a shopper',
      description:
        "One person, several networks: posts from the new handle are this shopper's (same card, " +
        'address, e-mail and ledger account). Authorized by the admin key, or by a proof of ' +
        "ownership (or local token) of one of the shopper's handles; the new handle needs its own " +
        'proof in `proof` unless the admin key is used. A confirmation code still works only on the ' +
        'network and handle it was sent to. A handle linked to another shopper is `409 HANDLE_LINKED`.',
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: { required: true, ...json(AddShopperHandleBody) },
      },
      responses: {
        200: { description: 'The shopper with its handles', ...json(ShopperSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const owner = await requireAdminOrOwner(app, c);
      if (owner !== null) {
        const shopper = app.engine.view.shoppers.get(handleKey(owner.network, owner.account));
        // Another shopper's id is reported as missing, never as forbidden: ids do not leak.
        if (shopper === undefined || shopper.id !== id)
          throw new TagpayError('NOT_FOUND', `No shopper ${id} of yours.`, 'id');
        if (body.proof === undefined)
          throw new TagpayError(
            'OWNERSHIP_NOT_PROVEN',
            'Prove the new handle first (onboarding) and send its proof in `proof`.',
            'proof',
          );
      }
      const account =
        body.proof !== undefined
          ? provenAccount(await readProof(app, body.proof), body.network, body.handle)
          : await accountOf(app, body.network, body.handle);
      return answerCommand(app, c, callerOf(owner), {
        op: 'shopper.add_handle',
        shopperId: id,
        network: body.network,
        account,
        handle: body.handle,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/shoppers/{network}/{handle}',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary: "A linked shopper (admin key, or the handle's own proof or token)",
      request: { params: z.object({ network: z.string().max(32), handle: z.string().max(320) }) },
      responses: { 200: { description: 'The shopper', ...json(ShopperSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { network, handle } = c.req.valid('param');
      const owner = await requireAdminOrOwner(app, c);
      const bare = handle.toLowerCase();
      if (owner !== null && (owner.network !== network || owner.handle.toLowerCase() !== bare))
        throw new TagpayError('FORBIDDEN', 'Only your own profile.');
      const account = owner === null ? await accountOf(app, network, bare) : owner.account;
      const shopper = app.engine.view.shoppers.get(handleKey(network, account));
      if (!shopper) throw new TagpayError('NOT_FOUND', 'No shopper with this handle.', 'handle');
      const view = shopperView(shopper);
      // The step-up threshold lives with the fraud controls' guard, beside the profile.
      const guarded = app.engine.view.safety.guards.get(
        handleKey(shopper.network, shopper.account),
      );
      const stepUp = guarded?.stepUpAboveMinor ?? null;
      return send(c, {
        ...view,
        limits: { ...view.limits, step_up_above: stepUp === null ? null : Number(stepUp) },
      });
    },
  );
}

/** The account a proof vouches for, when it is for this network and handle; FORBIDDEN otherwise. */
function provenAccount(owner: Ownership, network: string, handle: string): string {
  const named = handle.toLowerCase();
  if (
    owner.network !== network ||
    (owner.handle.toLowerCase() !== named && owner.account.toLowerCase() !== named)
  ) {
    throw new TagpayError(
      'FORBIDDEN',
      `This proof is for ${owner.handle} on ${owner.network}; it proves ownership of that handle only.`,
      'handle',
    );
  }
  return owner.account;
}
