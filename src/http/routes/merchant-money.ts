import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppContext } from '../../app-context.ts';
import { TagpayError } from '../../core/errors.ts';
import {
  CARD_OFFER_ENROLMENTS_MAX,
  OFFER_TITLE_CHARS_MAX,
  PROCESSOR_WEBHOOK_TOLERANCE_MS,
} from '../../core/limits.ts';
import { OFFER_HASHTAG_RE } from '../../core/post-grammar.ts';
import { cardOfferView } from '../../engine/flows/card-offers.ts';
import { cardOfferFromRow, payoutFromRow } from '../../engine/flows/card-payout-store.ts';
import { payoutView } from '../../engine/flows/payouts.ts';
import { verifyLedger } from '../../engine/ledger-store.ts';
import { readTransaction, signatureValid, transactionKey } from '../../processors/transactions.ts';
import { guard, answerCommand, requireAdmin, requireMerchant, requirePrincipal } from '../auth.ts';
import { errorResponses, IdempotencyHeaders, security, send, json } from '../route.ts';
import { Currency, MoneySchema } from '../schemas.ts';

const csv = (description: string) => ({
  description,
  content: { 'text/csv': { schema: z.string() } },
});
const Timestamp = z.iso
  .datetime({ offset: true })
  .transform((s) => Date.parse(s))
  .openapi({ type: 'string', example: '2026-12-31T23:59:59Z' });

const CardOfferSchema = z
  .object({
    id: z.string(),
    object: z.literal('card_offer'),
    merchant_id: z.string(),
    title: z.string(),
    hashtag: z.string(),
    credit: z.object({ amount: z.number().int(), currency: z.string() }),
    min_spend: z.object({ amount: z.number().int(), currency: z.string() }),
    max_enrolments: z.number().int(),
    enrolled: z.number().int(),
    status: z.enum(['live', 'ended']),
    starts_at: z.string(),
    ends_at: z.string(),
    created_at: z.string(),
  })
  .openapi('CardOffer');

const CreateCardOfferBody = z
  .object({
    title: z.string().trim().min(1).max(OFFER_TITLE_CHARS_MAX),
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
    credit: MoneySchema,
    min_spend: MoneySchema,
    starts_at: Timestamp.optional(),
    ends_at: Timestamp,
    max_enrolments: z.number().int().min(1).max(CARD_OFFER_ENROLMENTS_MAX),
  })
  .refine((o) => o.credit.currency === o.min_spend.currency, {
    message: 'credit and min_spend are in one currency',
    path: ['min_spend', 'currency'],
  })
  .refine((o) => o.min_spend.amount >= o.credit.amount, {
    message: 'the minimum spend is at least the credit',
    path: ['min_spend', 'amount'],
  })
  .openapi('CreateCardOffer', {
    example: {
      title: '$10 off $50 at Acme',
      hashtag: 'AcmeSave10',
      credit: { amount: 1000, currency: 'USD' },
      min_spend: { amount: 5000, currency: 'USD' },
      ends_at: '2026-12-31T23:59:59Z',
      max_enrolments: 1000,
    },
  });

const TransactionBody = z
  .object({
    transaction_id: z.string(),
    type: z.enum(['purchase', 'refund']),
    card_token: z.string(),
    merchant_id: z.string(),
    amount: z.union([z.number().int(), z.string()]),
    currency: z.string(),
    occurred_at: z.string(),
    original_transaction_id: z.string().nullable().optional(),
  })
  .openapi('CardTransaction');

const PayoutSchema = z
  .object({
    id: z.string(),
    object: z.literal('payout'),
    run_id: z.string(),
    merchant_id: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    status: z.enum(['pending', 'paid', 'failed']),
    bank_ref: z.string().nullable(),
    failure_reason: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('Payout');

const PayoutRunSchema = z
  .object({
    id: z.string(),
    object: z.literal('payout_run'),
    created_at: z.string(),
    payouts: z.array(PayoutSchema),
  })
  .openapi('PayoutRun');

/** Quotes a CSV field when it must be (RFC 4180). */
function cell(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
const csvOf = (header: string[], rows: unknown[][]) =>
  [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';

function sendCsv(c: Context, filename: string, body: string): never {
  return c.body(body, 200, {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="${filename}"`,
  }) as never;
}

/** Card-linked offers, the processor's transaction webhook, payouts, reports and ledger verification. */
export function merchantMoneyRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/card-offers',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Card-linked offers'],
      security,
      summary:
        'Create a card-linked offer ("$10 back on $50 or more"); shoppers add it to their card by posting its hashtag',
      request: {
        headers: IdempotencyHeaders,
        body: { required: true, ...json(CreateCardOfferBody) },
      },
      responses: { 201: { description: 'Created', ...json(CardOfferSchema) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      const body = c.req.valid('json');
      return answerCommand(app, c, merchantId, {
        op: 'card_offer.create',
        merchantId,
        title: body.title,
        hashtag: body.hashtag,
        creditMinor: body.credit.amount.toString(),
        minSpendMinor: body.min_spend.amount.toString(),
        currency: body.credit.currency,
        startsAt: body.starts_at ?? null,
        endsAt: body.ends_at,
        maxEnrolments: body.max_enrolments,
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/card-offers',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Card-linked offers'],
      security,
      summary: 'Card-linked offers, newest first (a merchant sees its own)',
      responses: {
        200: {
          description: 'Card-linked offers',
          ...json(z.object({ object: z.literal('list'), data: z.array(CardOfferSchema) })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const { rows } = await app.db.query(
        `SELECT * FROM card_offers ${p.kind === 'merchant' ? 'WHERE merchant_id = $1' : ''} ORDER BY created_at DESC, id DESC`,
        p.kind === 'merchant' ? [p.merchantId] : [],
      );
      return send(c, { object: 'list', data: rows.map((r) => cardOfferView(cardOfferFromRow(r))) });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/card-offers/{id}/end',
      middleware: [guard(app, 'merchant')] as const,
      tags: ['Card-linked offers'],
      security,
      summary:
        'End a card-linked offer: no new enrolments; cards already enrolled keep it until ends_at',
      request: { params: z.object({ id: z.string().max(64) }), headers: IdempotencyHeaders },
      responses: { 200: { description: 'Ended', ...json(CardOfferSchema) }, ...errorResponses },
    }),
    async (c) => {
      const merchantId = await requireMerchant(app, c);
      return answerCommand(app, c, merchantId, {
        op: 'card_offer.end',
        merchantId,
        cardOfferId: c.req.valid('param').id,
      });
    },
  );

  // The processor's webhook: no API key, a signature instead, checked before the body is read.
  const signed = async (c: Context, next: () => Promise<void>) => {
    const secret = app.config.processorWebhookSecret;
    if (secret === null)
      throw new TagpayError('NOT_FOUND', 'No processor webhook is configured on this tagpay.');
    const body = await c.req.text();
    if (
      !signatureValid(
        secret,
        c.req.header('processor-signature'),
        body,
        app.clock.now(),
        PROCESSOR_WEBHOOK_TOLERANCE_MS,
      )
    ) {
      throw new TagpayError(
        'WEBHOOK_SIGNATURE_INVALID',
        'Processor-Signature is missing, malformed, stale or does not match the body.',
      );
    }
    await next();
  };
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/processor/transactions',
      middleware: [signed] as const,
      tags: ['Card-linked offers'],
      summary:
        'The card processor\'s transaction webhook (signed: Processor-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>)',
      description:
        'One card transaction. A purchase on a card enrolled in a card-linked offer of that merchant, meeting its terms, earns the statement credit; a refund of it below the minimum spend reverses the credit. The transaction id is the idempotency key: a repeat (or the same transaction in a settlement file) is acknowledged and ignored.',
      request: {
        headers: z.object({ 'processor-signature': z.string().optional() }),
        body: { required: true, ...json(TransactionBody) },
      },
      responses: {
        200: {
          description: 'Received',
          ...json(z.object({ received: z.literal(true), duplicate: z.boolean() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const read = readTransaction(c.req.valid('json'));
      if (!read.ok) {
        const code =
          read.field === 'amount'
            ? 'INVALID_AMOUNT'
            : read.field === 'currency'
              ? 'UNKNOWN_CURRENCY'
              : 'INVALID_REQUEST';
        throw new TagpayError(code, `${read.field} ${read.message}`, read.field);
      }
      const [seq] = await app.log.append([
        { key: transactionKey(read.event.txnId), body: read.event },
      ]);
      return send(c, { received: true, duplicate: seq === null });
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/payout-runs',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Payouts'],
      security,
      summary:
        "Pay out merchants' payable balances to their banks (admin key): every merchant, or one",
      request: {
        headers: IdempotencyHeaders,
        body: {
          required: false,
          ...json(
            z.object({
              merchant_id: z.string().max(64).optional(),
              currency: Currency.optional(),
            }),
          ),
        },
      },
      responses: {
        201: { description: 'The run and its payouts', ...json(PayoutRunSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      await requireAdmin(app, c);
      const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
      const parsed = z
        .object({ merchant_id: z.string().max(64).optional(), currency: Currency.optional() })
        .safeParse(body ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const param = issue.path.join('.');
        throw new TagpayError(
          param === 'currency' ? 'UNKNOWN_CURRENCY' : 'INVALID_REQUEST',
          `${param}: ${issue.message}`,
          param,
        );
      }
      if (
        parsed.data.merchant_id !== undefined &&
        !app.engine.view.merchants.has(parsed.data.merchant_id)
      )
        throw new TagpayError(
          'NOT_FOUND',
          `No merchant ${parsed.data.merchant_id}.`,
          'merchant_id',
        );
      return answerCommand(app, c, 'admin', {
        op: 'payout.run',
        merchantId: parsed.data.merchant_id ?? null,
        currency: parsed.data.currency ?? null,
      });
    },
  );

  const runPayouts = async (runId: string) => {
    const run = await app.db.query('SELECT * FROM payout_runs WHERE id = $1', [runId]);
    if (run.rows.length === 0) throw new TagpayError('NOT_FOUND', `No payout run ${runId}.`, 'id');
    const { rows } = await app.db.query(
      'SELECT * FROM payouts WHERE run_id = $1 ORDER BY merchant_id, currency',
      [runId],
    );
    return { run: run.rows[0]!, payouts: rows.map(payoutFromRow) };
  };

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/payout-runs/{id}',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Payouts'],
      security,
      summary: 'A payout run and the state of its payouts (admin key)',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: { description: 'The run', ...json(PayoutRunSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { run, payouts } = await runPayouts(c.req.valid('param').id);
      return send(c, {
        id: run.id,
        object: 'payout_run',
        created_at: new Date(Number(run.created_at)).toISOString(),
        payouts: payouts.map(payoutView),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/payout-runs/{id}/report',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Payouts'],
      security,
      summary: 'A payout run as CSV: one line per payout (admin key)',
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: {
        200: csv(
          'payout_id,merchant_id,merchant_name,amount,currency,status,bank_ref,failure_reason,created_at',
        ),
        ...errorResponses,
      },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const { payouts } = await runPayouts(id);
      const rows = payouts.map((p) => [
        p.id,
        p.merchantId,
        app.engine.view.merchants.get(p.merchantId)?.name ?? '',
        p.amountMinor.toString(),
        p.currency,
        p.status,
        p.bankRef,
        p.failure,
        new Date(p.createdAt).toISOString(),
      ]);
      return sendCsv(
        c,
        `payouts-${id}.csv`,
        csvOf(
          [
            'payout_id',
            'merchant_id',
            'merchant_name',
            'amount',
            'currency',
            'status',
            'bank_ref',
            'failure_reason',
            'created_at',
          ],
          rows,
        ),
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/payouts',
      middleware: [guard(app, 'principal')] as const,
      tags: ['Payouts'],
      security,
      summary: 'Payouts, newest first (a merchant sees its own)',
      responses: {
        200: {
          description: 'Payouts',
          ...json(z.object({ object: z.literal('list'), data: z.array(PayoutSchema) })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const p = await requirePrincipal(app, c);
      const { rows } = await app.db.query(
        `SELECT * FROM payouts ${p.kind === 'merchant' ? 'WHERE merchant_id = $1' : ''} ORDER BY created_at DESC, id DESC LIMIT 100`,
        p.kind === 'merchant' ? [p.merchantId] : [],
      );
      return send(c, { object: 'list', data: rows.map((r) => payoutView(payoutFromRow(r))) });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/reports/fees',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Reports'],
      security,
      summary:
        'Platform-fee revenue per day and currency: fees earned, fees given back by refunds, net (admin key)',
      request: {
        query: z.object({
          from: Timestamp.optional(),
          to: Timestamp.optional(),
          format: z.enum(['json', 'csv']).default('json'),
        }),
      },
      responses: {
        200: {
          description: 'The report (CSV with format=csv)',
          content: {
            'application/json': {
              schema: z.object({
                object: z.literal('list'),
                data: z.array(
                  z.object({
                    day: z.string(),
                    currency: z.string(),
                    earned: z.number().int(),
                    refunded: z.number().int(),
                    net: z.number().int(),
                  }),
                ),
              }),
            },
            'text/csv': { schema: z.string() },
          },
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // Every posting into or out of the fee account, by the day of its transfer (UTC).
      const { rows } = await app.db.query<{
        day: string;
        currency: string;
        earned: string;
        refunded: string;
      }>(
        `SELECT to_char(to_timestamp(t.at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, p.currency,
           coalesce(sum(p.minor) FILTER (WHERE p.credit = $1), 0)::text AS earned,
           coalesce(sum(p.minor) FILTER (WHERE p.debit = $1), 0)::text AS refunded
         FROM postings p JOIN transfers t ON t.id = p.transfer_id
         WHERE (p.credit = $1 OR p.debit = $1) AND t.at >= $2 AND t.at < $3
         GROUP BY 1, 2 ORDER BY 1, 2`,
        ['fees:platform', q.from ?? 0, q.to ?? Number.MAX_SAFE_INTEGER],
      );
      const data = rows.map((r) => ({
        day: r.day,
        currency: r.currency,
        earned: Number(r.earned),
        refunded: Number(r.refunded),
        net: Number(BigInt(r.earned) - BigInt(r.refunded)),
      }));
      if (q.format === 'csv')
        return sendCsv(
          c,
          'platform-fees.csv',
          csvOf(
            ['day', 'currency', 'earned', 'refunded', 'net'],
            data.map((d) => [d.day, d.currency, d.earned, d.refunded, d.net]),
          ),
        );
      return send(c, { object: 'list', data });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/ledger/verify',
      middleware: [guard(app, 'admin')] as const,
      tags: ['Ledger'],
      security,
      summary:
        'Recompute the hash chain and every balance from the transfers (admin key); as `tagpay ledger verify`',
      responses: {
        200: {
          description: 'ok true, or the first bad transfer (or balance) and why',
          ...json(
            z.object({
              ok: z.boolean(),
              transfers: z.number().int().optional(),
              head: z.string().optional(),
              transfer_id: z.string().nullable().optional(),
              reason: z.string().optional(),
            }),
          ),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const r = await verifyLedger(app.db);
      return send(
        c,
        r.ok
          ? { ok: true, transfers: r.transfers, head: r.head }
          : { ok: false, transfer_id: r.transferId, reason: r.reason },
      );
    },
  );
}
