import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { DASHBOARD_DAYS_MAX, DASHBOARD_ROWS_MAX, EMAIL_VERIFY_TTL_MS } from '../../core/limits.ts';
import { emails } from '../../core/replies.ts';
import type { AppContext } from '../../app-context.ts';
import { orderFromRow } from '../../engine/load.ts';
import { handleKey } from '../../engine/state.ts';
import { orderView } from '../../engine/views.ts';
import type { Context } from 'hono';
import { bearer, guard, requireAdminOrOwner, requireMerchant } from '../auth.ts';
import type { Ownership } from '../ownership.ts';
import { sign, verify } from '../ownership.ts';
import { errorResponses, security, send, json } from '../route.ts';
import { OrderSchema } from '../schemas.ts';
import { noteVerificationRequest } from './web-wallet.ts';

const VERIFY_PREFIX = 'ev_';

const FunnelSchema = z
  .object({
    offer_id: z.string(),
    hashtag_posts: z.number().int(),
    checkouts: z.number().int(),
    confirmed: z.number().int(),
    paid: z.number().int(),
    refunded: z.number().int(),
    currency: z.string(),
    revenue: z.array(
      z.object({ day: z.string(), paid: z.number().int(), refunded: z.number().int() }),
    ),
  })
  .openapi('OfferFunnel');

const FulfilmentSchema = z
  .object({
    order_id: z.string(),
    carrier: z.string().nullable(),
    tracking: z.string().nullable(),
    fulfilled_at: z.string(),
  })
  .openapi('Fulfilment');

type FulfilmentRow = {
  order_id: string;
  carrier: string | null;
  tracking: string | null;
  fulfilled_at: unknown;
};
const fulfilmentView = (r: FulfilmentRow) => ({
  order_id: r.order_id,
  carrier: r.carrier,
  tracking: r.tracking,
  fulfilled_at: new Date(Number(r.fulfilled_at)).toISOString(),
});

/**
 * What the web pages read beyond the core API: a shopper's own orders, an offer's funnel and
 * revenue, its waitlist, fulfilment of orders, and e-mail verification by link.
 */
export function webDataRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/orders',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary: "The caller's own orders, newest first (a web session, a proof, or a local token)",
      responses: {
        200: {
          description: 'Orders',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(
                OrderSchema.extend({
                  offer_title: z.string().nullable(),
                  fulfilment: FulfilmentSchema.nullable(),
                }),
              ),
              has_more: z.boolean(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null)
        throw new TagpayError('FORBIDDEN', 'The admin lists orders with GET /v1/orders.');
      const { rows } = await app.db.query<Record<string, unknown>>(
        'SELECT * FROM orders WHERE network = $1 AND handle = ANY($2::text[]) ORDER BY created_at DESC, id DESC LIMIT $3',
        [owner.network, [owner.handle, owner.account], DASHBOARD_ROWS_MAX + 1],
      );
      const data = await ordersWithFulfilment(app, rows.slice(0, DASHBOARD_ROWS_MAX));
      return send(c, { object: 'list', data, has_more: rows.length > DASHBOARD_ROWS_MAX });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/card-offers',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Card-linked offers'],
      security,
      summary: "The caller's enrolled card-linked offers and the statement credits they earned",
      responses: {
        200: {
          description: 'Enrolments and credits',
          ...json(
            z.object({
              enrolments: z.array(
                z.object({
                  id: z.string(),
                  card_offer_id: z.string(),
                  title: z.string(),
                  hashtag: z.string(),
                  credit: z.number().int(),
                  min_spend: z.number().int(),
                  currency: z.string(),
                  ends_at: z.string(),
                  status: z.string(),
                  enrolled_at: z.string(),
                }),
              ),
              credits: z.array(
                z.object({
                  id: z.string(),
                  card_offer_id: z.string(),
                  title: z.string(),
                  credit: z.number().int(),
                  currency: z.string(),
                  status: z.string(),
                  created_at: z.string(),
                }),
              ),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null) throw new TagpayError('FORBIDDEN', 'Only the handle itself.');
      const shopper = app.engine.view.shoppers.get(handleKey(owner.network, owner.account));
      if (!shopper) return send(c, { enrolments: [], credits: [] });
      const enrolments = await app.db.query<Record<string, unknown>>(
        `SELECT e.id, e.card_offer_id, o.title, o.hashtag, o.credit_minor, o.min_spend_minor, o.currency,
                o.ends_at, e.status, e.enrolled_at
           FROM card_enrolments e JOIN card_offers o ON o.id = e.card_offer_id
          WHERE e.shopper_id = $1 ORDER BY e.enrolled_at DESC LIMIT $2`,
        [shopper.id, DASHBOARD_ROWS_MAX],
      );
      const credits = await app.db.query<Record<string, unknown>>(
        `SELECT c.id, c.card_offer_id, o.title, c.credit_minor, o.currency, c.status, c.created_at
           FROM card_credits c JOIN card_offers o ON o.id = c.card_offer_id
          WHERE c.shopper_id = $1 ORDER BY c.created_at DESC LIMIT $2`,
        [shopper.id, DASHBOARD_ROWS_MAX],
      );
      const iso = (v: unknown) => new Date(Number(v)).toISOString();
      return send(c, {
        enrolments: enrolments.rows.map((r) => ({
          id: r.id,
          card_offer_id: r.card_offer_id,
          title: r.title,
          hashtag: r.hashtag,
          credit: Number(r.credit_minor),
          min_spend: Number(r.min_spend_minor),
          currency: r.currency,
          ends_at: iso(r.ends_at),
          status: r.status,
          enrolled_at: iso(r.enrolled_at),
        })),
        credits: credits.rows.map((r) => ({
          id: r.id,
          card_offer_id: r.card_offer_id,
          title: r.title,
          credit: Number(r.credit_minor),
          currency: r.currency,
          status: r.status,
          created_at: iso(r.created_at),
        })),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/offers/{id}/funnel',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Offers'],
      security,
      summary:
        "An offer's funnel (hashtag posts → checkouts → confirmed → paid → refunded) and daily revenue",
      description:
        "hashtag_posts counts every post the engine read as a purchase of the offer, from a handle other than the merchant's " +
        '(checkouts, waitlist joins and posts refused: sold out, a limit, a cap, not linked); checkouts also ' +
        'count buy-now and cart checkouts, which have no post; ' +
        'confirmed counts checkouts whose code was posted (charging, paid, failed on the card, refunded). ' +
        `Revenue is per UTC day of the checkout, the last ${DASHBOARD_DAYS_MAX} days with sales.`,
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The funnel', ...json(FunnelSchema) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const id = c.req.valid('param').id;
      const offer = app.engine.view.offers.get(id);
      if (!offer || offer.merchantId !== merchantId)
        throw new TagpayError('NOT_FOUND', 'No such offer.', 'id');
      const { rows } = await app.db.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM orders WHERE offer_id = $1 GROUP BY status',
        [id],
      );
      const count = (...statuses: string[]) =>
        rows.filter((r) => statuses.includes(r.status)).reduce((a, r) => a + Number(r.n), 0);
      const checkouts = count(...rows.map((r) => r.status));
      const revenue = await app.db.query<{ day: string; paid: string; refunded: string }>(
        `SELECT to_char(to_timestamp(created_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                sum(CASE WHEN status IN ('paid', 'refunding', 'refunded') THEN amount_minor ELSE 0 END)::text AS paid,
                sum(CASE WHEN status IN ('refunding', 'refunded') THEN amount_minor ELSE 0 END)::text AS refunded
           FROM orders WHERE offer_id = $1 AND status IN ('paid', 'refunding', 'refunded')
          GROUP BY 1 ORDER BY 1 DESC LIMIT $2`,
        [id, DASHBOARD_DAYS_MAX],
      );
      return send(c, {
        offer_id: id,
        hashtag_posts: offer.hashtagPosts,
        checkouts,
        confirmed: count('charging', 'paid', 'failed', 'refunding', 'refunded'),
        paid: count('paid', 'refunding', 'refunded'),
        refunded: count('refunding', 'refunded'),
        currency: offer.currency,
        revenue: revenue.rows
          .reverse()
          .map((r) => ({ day: r.day, paid: Number(r.paid), refunded: Number(r.refunded) })),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/offers/{id}/waitlist',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Offers'],
      security,
      summary: "An offer's waitlist, first in first out",
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: {
        200: {
          description: 'The waitlist',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(
                z.object({
                  id: z.string(),
                  network: z.string(),
                  handle: z.string(),
                  variant: z.string().nullable(),
                  quantity: z.number().int(),
                  status: z.string(),
                  joined_at: z.string(),
                }),
              ),
              has_more: z.boolean(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const id = c.req.valid('param').id;
      const offer = app.engine.view.offers.get(id);
      if (!offer || offer.merchantId !== merchantId)
        throw new TagpayError('NOT_FOUND', 'No such offer.', 'id');
      const { rows } = await app.db.query<{
        id: string;
        network: string;
        handle: string;
        variant: string | null;
        quantity: number;
        status: string;
        joined_at: unknown;
      }>(
        'SELECT id, network, handle, variant, quantity, status, joined_at FROM waitlist WHERE offer_id = $1 ORDER BY seq LIMIT $2',
        [id, DASHBOARD_ROWS_MAX + 1],
      );
      return send(c, {
        object: 'list',
        data: rows.slice(0, DASHBOARD_ROWS_MAX).map((r) => ({
          ...r,
          quantity: Number(r.quantity),
          joined_at: new Date(Number(r.joined_at)).toISOString(),
        })),
        has_more: rows.length > DASHBOARD_ROWS_MAX,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{id}/fulfilment',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Orders'],
      security,
      summary:
        'Record that a paid order shipped (carrier and tracking number optional); once per order',
      request: {
        params: z.object({ id: z.string().max(64) }),
        body: {
          required: true,
          ...json(
            z.object({
              carrier: z.string().trim().max(100).optional(),
              tracking: z.string().trim().max(100).optional(),
            }),
          ),
        },
      },
      responses: {
        200: { description: 'Recorded (or already recorded)', ...json(FulfilmentSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const id = c.req.valid('param').id;
      const body = c.req.valid('json');
      const { rows } = await app.db.query<{ status: string; merchant_id: string }>(
        'SELECT status, merchant_id FROM orders WHERE id = $1',
        [id],
      );
      if (!rows[0] || rows[0].merchant_id !== merchantId)
        throw new TagpayError('NOT_FOUND', 'No such order.', 'id');
      if (rows[0].status !== 'paid')
        throw new TagpayError(
          'ORDER_NOT_FULFILLABLE',
          `Only a paid order ships; this one is ${rows[0].status}.`,
          'id',
        );
      await app.db.query(
        'INSERT INTO order_fulfilments (order_id, merchant_id, carrier, tracking, fulfilled_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING',
        [id, merchantId, body.carrier || null, body.tracking || null, app.clock.now()],
      );
      const saved = await app.db.query<FulfilmentRow>(
        'SELECT * FROM order_fulfilments WHERE order_id = $1',
        [id],
      );
      return send(c, fulfilmentView(saved.rows[0]!));
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/fulfilments',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Orders'],
      security,
      summary: "The merchant's recorded fulfilments, newest first",
      responses: {
        200: {
          description: 'Fulfilments',
          ...json(z.object({ object: z.literal('list'), data: z.array(FulfilmentSchema) })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const { rows } = await app.db.query<FulfilmentRow>(
        'SELECT * FROM order_fulfilments WHERE merchant_id = $1 ORDER BY fulfilled_at DESC LIMIT $2',
        [merchantId, DASHBOARD_ROWS_MAX],
      );
      return send(c, { object: 'list', data: rows.map(fulfilmentView) });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/email/verifications',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary:
        'E-mail a verification link for an address of the caller (a web session, a proof or a local token)',
      request: { body: { required: true, ...json(z.object({ email: z.email().max(254) })) } },
      responses: {
        202: { description: 'Sent', ...json(z.object({ email: z.string(), sent: z.boolean() })) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null)
        throw new TagpayError('FORBIDDEN', 'Only the handle itself verifies its e-mail.');
      const email = c.req.valid('json').email.toLowerCase();
      await noteVerificationRequest(app, owner, email);
      const { token } = await sign(
        app,
        'email-verify',
        VERIFY_PREFIX,
        { n: owner.network, a: owner.account, e: email },
        EMAIL_VERIFY_TTL_MS,
      );
      const link = `${app.config.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;
      const message = emails.verifyEmail(
        owner.network === 'local' ? `@${owner.handle}` : `${owner.handle} (${owner.network})`,
        link,
        EMAIL_VERIFY_TTL_MS / 3_600_000,
      );
      // An outbox row like every e-mail: delivered at least once, once per key.
      await app.db.query('INSERT INTO outbox (key, kind, body) VALUES ($1, $2, $3)', [
        `emailverify:${token.slice(-24)}`,
        'email',
        JSON.stringify({ to: email, ...message }),
      ]);
      return send(c, { email, sent: true }, 202);
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/email/verify',
      tags: ['Shoppers'],
      summary: 'Open an e-mail verification link: the address is verified for that handle',
      request: { body: { required: true, ...json(z.object({ token: z.string().max(4096) })) } },
      responses: {
        200: {
          description: 'Verified',
          ...json(z.object({ email: z.string(), network: z.string(), verified: z.boolean() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const data = await verify(app, 'email-verify', VERIFY_PREFIX, c.req.valid('json').token);
      if (
        data === null ||
        typeof data.n !== 'string' ||
        typeof data.a !== 'string' ||
        typeof data.e !== 'string'
      )
        throw new TagpayError(
          'VERIFICATION_LINK_INVALID',
          'This link is expired or was not sent by this tagpay; ask for a new one.',
          'token',
        );
      await app.db.query(
        'INSERT INTO verified_emails (network, account, email, verified_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [data.n, data.a, data.e, app.clock.now()],
      );
      return send(c, { email: data.e, network: data.n, verified: true });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/email/verifications',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Shoppers'],
      security,
      summary: "The caller's verified e-mail addresses",
      responses: {
        200: {
          description: 'Verified addresses',
          ...json(
            z.object({ data: z.array(z.object({ email: z.string(), verified_at: z.string() })) }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null) throw new TagpayError('FORBIDDEN', 'Only the handle itself.');
      const { rows } = await app.db.query<{ email: string; verified_at: unknown }>(
        'SELECT email, verified_at FROM verified_emails WHERE network = $1 AND account = $2 ORDER BY verified_at',
        [owner.network, owner.account],
      );
      return send(c, {
        data: rows.map((r) => ({
          email: r.email,
          verified_at: new Date(Number(r.verified_at)).toISOString(),
        })),
      });
    },
  );
}

async function ordersWithFulfilment(app: AppContext, rows: Record<string, unknown>[]) {
  const ids = rows.map((r) => String(r.id));
  const fulfilled = await app.db.query<FulfilmentRow>(
    'SELECT * FROM order_fulfilments WHERE order_id = ANY($1::text[])',
    [ids],
  );
  const byId = new Map(fulfilled.rows.map((r) => [r.order_id, fulfilmentView(r)]));
  return rows.map((r) => ({
    ...orderView(orderFromRow(r)),
    offer_title: app.engine.view.offers.get(String(r.offer_id))?.title ?? null,
    fulfilment: byId.get(String(r.id)) ?? null,
  }));
}

/**
 * A handle linked from the web pages (a session, no bearer token) must have opened the verification
 * link for its e-mail first; the API with a proof or the admin key is unchanged.
 */
export async function requireVerifiedEmailForSession(
  app: AppContext,
  c: Context,
  owner: Ownership | null,
  email: string,
): Promise<void> {
  if (owner === null || bearer(c) !== null) return;
  const { rows } = await app.db.query(
    'SELECT 1 FROM verified_emails WHERE network = $1 AND account = $2 AND email = $3',
    [owner.network, owner.account, email.toLowerCase()],
  );
  if (rows.length === 0)
    throw new TagpayError(
      'EMAIL_NOT_VERIFIED',
      'Open the link we e-mailed to this address first (or ask for a new one).',
      'email',
    );
}
