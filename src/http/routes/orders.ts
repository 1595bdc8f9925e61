import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { AMOUNT_MINOR_MAX } from '../../core/limits.ts';
import { normalizeHandle } from '../../core/post-grammar.ts';
import type { AppContext } from '../../app-context.ts';
import { orderFromRow } from '../../engine/load.ts';
import { orderView } from '../../engine/views.ts';
import { answerCommand, requireAdmin, requirePrincipal, guard } from '../auth.ts';
import { cursorPage, errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { listOf, MailboxList, OrderSchema, PageQuery } from '../schemas.ts';

/** Orders (a merchant sees its own), the ledger's balances and the local mailbox (admin). */
export function orderRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/orders',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Orders'],
      security,
      summary: 'Orders, newest first',
      request: {
        query: PageQuery.extend({
          handle: z.string().max(64).optional(),
          network: z.string().max(32).optional(),
          offer_id: z.string().max(64).optional(),
          status: OrderSchema.shape.status.optional(),
        }),
      },
      responses: {
        200: { description: 'Orders', ...json(listOf(OrderSchema, 'OrderList')) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const q = c.req.valid('query');
      // Orders are kept by network account (a DID on Bluesky): a linked handle finds its account's.
      const handle = q.handle === undefined ? undefined : normalizeHandle(q.handle);
      const linked =
        handle === undefined
          ? []
          : (
              await app.db.query<{ account: string }>(
                'SELECT account FROM shoppers WHERE handle = $1 AND ($2::text IS NULL OR network = $2)',
                [handle, q.network ?? null],
              )
            ).rows;
      return send(
        c,
        await cursorPage(
          app.db,
          'orders',
          p.kind === 'merchant' ? p.merchantId : null,
          q,
          (arg) => [
            ...(handle === undefined
              ? []
              : [`handle = ANY(${arg([handle, ...linked.map((r) => r.account)])}::text[])`]),
            ...(q.network === undefined ? [] : [`network = ${arg(q.network)}`]),
            ...(q.offer_id === undefined ? [] : [`offer_id = ${arg(q.offer_id)}`]),
            ...(q.status === undefined ? [] : [`status = ${arg(q.status)}`]),
          ],
          (r) => orderView(orderFromRow(r)),
        ),
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/orders/{id}',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Orders'],
      security,
      summary: 'One order',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The order', ...json(OrderSchema) }, ...errorResponses },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const { rows } = await app.db.query('SELECT * FROM orders WHERE id = $1', [
        c.req.valid('param').id,
      ]);
      const order = rows[0] ? orderFromRow(rows[0]) : null;
      // Another merchant's order is "not found": ids never confirm what another tenant has.
      if (order === null || (p.kind === 'merchant' && order.merchantId !== p.merchantId)) {
        throw new TagpayError('NOT_FOUND', 'No such order.', 'id');
      }
      return send(c, orderView(order));
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{id}/refund',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Orders'],
      security,
      summary:
        'Refund a paid order in full or in part (merchant or admin key); optionally put units back on sale',
      description:
        'Without `amount`, refunds whatever is left of the order. A partial refund gives back its share of the platform fee; the order stays `paid` (with `amount_refunded`) until it is refunded in full. `restock_quantity` (default: the whole order) is how many units go back on sale when `restock` is true.',
      request: {
        params: z.object({ id: z.string().max(64) }),
        headers: IdempotencyHeaders,
        body: {
          required: false,
          ...json(
            z.object({
              restock: z.boolean().default(false),
              amount: z.number().int().optional().openapi({ description: 'Minor units' }),
              restock_quantity: z.number().int().optional(),
            }),
          ),
        },
      },
      responses: {
        200: { description: 'The order, now refunding', ...json(OrderSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const body = (await c.req.json().catch(() => ({}))) as {
        restock?: unknown;
        amount?: unknown;
        restock_quantity?: unknown;
      };
      if (body.restock !== undefined && typeof body.restock !== 'boolean') {
        throw new TagpayError('INVALID_REQUEST', 'restock: expected a boolean', 'restock');
      }
      const amount = refundAmount(body.amount);
      if (
        body.restock_quantity !== undefined &&
        !(Number.isSafeInteger(body.restock_quantity) && (body.restock_quantity as number) >= 0)
      ) {
        throw new TagpayError(
          'INVALID_REQUEST',
          'restock_quantity: expected a whole number of units',
          'restock_quantity',
        );
      }
      return answerCommand(app, c, p.kind === 'admin' ? 'admin' : p.merchantId, {
        op: 'order.refund',
        merchantId: p.kind === 'admin' ? null : p.merchantId,
        orderId: c.req.valid('param').id,
        restock: body.restock === true,
        ...(amount !== null && { amountMinor: amount.toString() }),
        ...(body.restock_quantity !== undefined && {
          restockQuantity: body.restock_quantity as number,
        }),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/ledger/balances',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Ledger'],
      security,
      summary: 'Every account balance (admin key)',
      request: { query: z.object({ account: z.string().max(128).optional() }) },
      responses: {
        200: {
          description: 'Balances in minor units; per currency they sum to zero',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(
                z.object({ account: z.string(), currency: z.string(), balance: z.number().int() }),
              ),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      await requireAdmin(app, c);
      const account = c.req.valid('query').account;
      const { rows } = await app.db.query<{ account: string; currency: string; balance: string }>(
        `SELECT account, currency, balance::text AS balance FROM balances ${account ? 'WHERE account = $1' : ''} ORDER BY account, currency`,
        account ? [account] : [],
      );
      return send(c, {
        object: 'list',
        data: rows.map((r) => ({
          account: r.account,
          currency: r.currency,
          balance: Number(r.balance),
        })),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/mailbox',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Mailbox'],
      security,
      summary: 'E-mails kept locally when no SMTP server is configured (admin key)',
      request: {
        query: z.object({ to: z.string().max(254).optional(), limit: PageQuery.shape.limit }),
      },
      responses: {
        200: {
          description: 'Messages, newest first',
          ...json(MailboxList),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      await requireAdmin(app, c);
      const q = c.req.valid('query');
      const { rows } = await app.db.query<{
        id: unknown;
        to_addr: string;
        subject: string;
        body: string;
        created_at: unknown;
      }>(
        `SELECT * FROM mailbox ${q.to ? 'WHERE to_addr = $2' : ''} ORDER BY id DESC LIMIT $1`,
        q.to ? [q.limit, q.to] : [q.limit],
      );
      return send(c, {
        object: 'list',
        data: rows.map((r) => ({
          id: String(r.id),
          to: r.to_addr,
          subject: r.subject,
          text: r.body,
          created_at: new Date(Number(r.created_at)).toISOString(),
        })),
      });
    },
  );
}

/** A refund's `amount`: absent (the rest of the order) or positive minor units within the bound. */
function refundAmount(value: unknown): bigint | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !/^[0-9]{1,19}$/.test(text) || BigInt(text) <= 0n)
    throw new TagpayError(
      'INVALID_AMOUNT',
      'amount: a positive whole number of minor units, e.g. 500 for $5.00',
      'amount',
    );
  if (BigInt(text) > AMOUNT_MINOR_MAX)
    throw new TagpayError('INVALID_AMOUNT', `amount: at most ${AMOUNT_MINOR_MAX}`, 'amount');
  return BigInt(text);
}
