import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { accounts } from '../../core/ledger.ts';
import { DASHBOARD_ROWS_MAX, DEMO_MAILBOX_ROWS_MAX } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import { handleKey } from '../../engine/state.ts';
import { guard, requireAdminOrOwner } from '../auth.ts';
import type { Ownership } from '../ownership.ts';
import { errorResponses, json, security, send } from '../route.ts';

const Amount = z.number().int().openapi({ description: 'Minor units; negative when money left' });

const HistoryEntrySchema = z
  .object({
    id: z.string(),
    kind: z.enum([
      'payment_sent',
      'payment_received',
      'refund',
      'credit',
      'top_up',
      'withdrawal',
      'gift_card_redeemed',
    ]),
    at: z.string(),
    title: z.string(),
    amount: Amount,
    currency: z.string(),
    status: z.string(),
  })
  .openapi('WalletHistoryEntry');

const ClaimSchema = z.object({
  id: z.string(),
  network: z.string(),
  handle: z.string().openapi({ description: 'The other side: who it was sent to, or who sent it' }),
  amount: z.number().int(),
  currency: z.string(),
  memo: z.string(),
  expires_at: z.string(),
});

const WalletPageSchema = z
  .object({
    network: z.string(),
    handle: z.string(),
    linked: z.boolean(),
    frozen_at: z.string().nullable().openapi({
      description: 'When the account was frozen (by the shopper or the operator); null when open',
    }),
    balances: z.array(z.object({ currency: z.string(), amount: z.number().int() })),
    history: z.array(HistoryEntrySchema),
    claims: z.object({ sent: z.array(ClaimSchema), to_claim: z.array(ClaimSchema) }),
    gift_cards: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        value: z.number().int(),
        currency: z.string(),
        redeemed: z.boolean(),
        created_at: z.string(),
      }),
    ),
  })
  .openapi('WalletPage');

const iso = (v: unknown) => new Date(Number(v)).toISOString();
const at = (e: { at: string }) => Date.parse(e.at);

/** The demo mailbox is there only in demo mode with the local mailbox (no SMTP server). */
export function demoMailboxOn(app: AppContext): boolean {
  return app.config.demo && app.config.smtpUrl === null;
}

/** Notes an address a handle asked to verify: the demo mailbox shows that handle its mail. */
export async function noteVerificationRequest(
  app: AppContext,
  owner: Ownership,
  email: string,
): Promise<void> {
  await app.db.query(
    'INSERT INTO email_verification_requests (network, account, email, requested_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [owner.network, owner.account, email, app.clock.now()],
  );
}

/**
 * The wallet page's data for the signed-in handle (a web session, a proof or a local token): its
 * balances, money history beyond orders (payments sent and received, refunds, statement credits,
 * top-ups and withdrawals, gift cards redeemed), claims pending both ways and gift cards bought;
 * and, in demo mode only, the e-mail the handle was sent.
 */
export function webWalletRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/wallet',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Wallets'],
      security,
      summary:
        "The caller's wallet: balances, money history, pending claims both ways and gift cards bought",
      description: `Each list holds the newest ${DASHBOARD_ROWS_MAX} at most. Orders are in GET /v1/me/orders.`,
      responses: {
        200: { description: 'The wallet', ...json(WalletPageSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null)
        throw new TagpayError(
          'FORBIDDEN',
          'The admin reads a wallet with GET /v1/wallets/{handle}.',
        );
      const shopper = app.engine.view.shoppers.get(handleKey(owner.network, owner.account));
      const q = <T>(sql: string, params: unknown[]) =>
        app.db.query<T & Record<string, unknown>>(sql, params).then((r) => r.rows);
      // A handle that has not linked can still have money waiting for it to claim.
      const toClaim = await q<Record<string, unknown>>(
        `SELECT id, payer_network, payer_handle, amount_minor, currency, memo, expires_at FROM handle_payments
          WHERE recipient_network = $1 AND recipient_handle = ANY($2::text[]) AND status = 'pending_claim'
          ORDER BY created_at DESC LIMIT $3`,
        [owner.network, [owner.handle, owner.account], DASHBOARD_ROWS_MAX],
      );
      const claim = (r: Record<string, unknown>, side: 'payer' | 'recipient') => ({
        id: String(r.id),
        network: String(r[`${side}_network`]),
        handle: String(r[`${side}_handle`]),
        amount: Number(r.amount_minor),
        currency: String(r.currency),
        memo: String(r.memo ?? ''),
        expires_at: iso(r.expires_at),
      });
      const base = {
        network: owner.network,
        handle: owner.handle,
        claims: {
          sent: [] as ReturnType<typeof claim>[],
          to_claim: toClaim.map((r) => claim(r, 'payer')),
        },
      };
      if (!shopper)
        return send(c, {
          ...base,
          linked: false,
          frozen_at: null,
          balances: [],
          history: [],
          gift_cards: [],
        });
      const frozenAt =
        app.engine.view.safety.guards.get(handleKey(owner.network, owner.account))?.frozenAt ??
        null;

      const [balances, payments, refunds, credits, ops, giftCards] = await Promise.all([
        q<{ currency: string; balance: string }>(
          'SELECT currency, balance::text AS balance FROM balances WHERE account = $1 ORDER BY currency',
          [accounts.wallet(shopper.id)],
        ),
        q<Record<string, unknown>>(
          `SELECT * FROM handle_payments WHERE payer_id = $1 OR recipient_id = $1
            ORDER BY created_at DESC LIMIT $2`,
          [shopper.id, DASHBOARD_ROWS_MAX],
        ),
        q<Record<string, unknown>>(
          `SELECT id, offer_id, variant, quantity, refunded_minor, currency, status, updated_at FROM orders
            WHERE shopper_id = $1 AND refunded_minor > 0 ORDER BY updated_at DESC LIMIT $2`,
          [shopper.id, DASHBOARD_ROWS_MAX],
        ),
        q<Record<string, unknown>>(
          `SELECT c.id, o.title, c.credit_minor, c.currency, c.status, c.created_at
             FROM card_credits c JOIN card_offers o ON o.id = c.card_offer_id
            WHERE c.shopper_id = $1 ORDER BY c.created_at DESC LIMIT $2`,
          [shopper.id, DASHBOARD_ROWS_MAX],
        ),
        q<Record<string, unknown>>(
          'SELECT * FROM wallet_ops WHERE shopper_id = $1 ORDER BY created_at DESC LIMIT $2',
          [shopper.id, DASHBOARD_ROWS_MAX],
        ),
        q<Record<string, unknown>>(
          `SELECT id, offer_id, buyer_id, value_minor, currency, redeemed_by, redeemed_at, created_at
             FROM gift_cards WHERE buyer_id = $1 OR redeemed_by = $1 ORDER BY created_at DESC LIMIT $2`,
          [shopper.id, DASHBOARD_ROWS_MAX],
        ),
      ]);
      const offerTitle = (id: unknown) => app.engine.view.offers.get(String(id))?.title ?? 'Order';
      const who = (network: unknown, handle: unknown) =>
        network === 'local' ? `@${String(handle)}` : `${String(handle)} (${String(network)})`;
      const history: z.infer<typeof HistoryEntrySchema>[] = [];
      for (const p of payments) {
        const sent = p.payer_id === shopper.id;
        const memo = p.memo ? ` · ${String(p.memo)}` : '';
        history.push({
          id: String(p.id),
          kind: sent ? 'payment_sent' : 'payment_received',
          at: iso(p.created_at),
          title: sent
            ? `To ${who(p.recipient_network, p.recipient_handle)}${memo}`
            : `From ${who(p.payer_network, p.payer_handle)}${memo}`,
          amount: (sent ? -1 : 1) * Number(p.amount_minor),
          currency: String(p.currency),
          status: String(p.status),
        });
      }
      for (const r of refunds) {
        history.push({
          id: `${String(r.id)}:refund`,
          kind: 'refund',
          at: iso(r.updated_at),
          title: `Refund: ${offerTitle(r.offer_id)}${r.variant ? ` (${String(r.variant)})` : ''}`,
          amount: Number(r.refunded_minor),
          currency: String(r.currency),
          status: String(r.status) === 'refunding' ? 'refunding' : 'completed',
        });
      }
      for (const cr of credits) {
        history.push({
          id: String(cr.id),
          kind: 'credit',
          at: iso(cr.created_at),
          title: `Statement credit: ${String(cr.title)}`,
          amount: Number(cr.credit_minor),
          currency: String(cr.currency),
          status: String(cr.status),
        });
      }
      for (const op of ops) {
        const topUp = op.kind === 'top_up';
        history.push({
          id: String(op.id),
          kind: topUp ? 'top_up' : 'withdrawal',
          at: iso(op.created_at),
          title: topUp ? 'Top-up from your card' : 'Withdrawal to your card',
          amount: (topUp ? 1 : -1) * Number(op.amount_minor),
          currency: String(op.currency),
          status: String(op.status),
        });
      }
      for (const g of giftCards) {
        if (g.redeemed_by !== shopper.id) continue;
        history.push({
          id: `${String(g.id)}:redeemed`,
          kind: 'gift_card_redeemed',
          at: iso(g.redeemed_at),
          title: `Gift card redeemed: ${offerTitle(g.offer_id)}`,
          amount: Number(g.value_minor),
          currency: String(g.currency),
          status: 'completed',
        });
      }
      history.sort((a, b) => at(b) - at(a) || (a.id < b.id ? 1 : -1));
      return send(c, {
        ...base,
        linked: true,
        frozen_at: frozenAt === null ? null : iso(frozenAt),
        balances: balances.map((b) => ({ currency: b.currency, amount: Number(b.balance) })),
        history: history.slice(0, DASHBOARD_ROWS_MAX),
        claims: {
          sent: payments
            .filter((p) => p.payer_id === shopper.id && p.status === 'pending_claim')
            .map((p) => claim(p, 'recipient')),
          to_claim: base.claims.to_claim,
        },
        gift_cards: giftCards
          .filter((g) => g.buyer_id === shopper.id)
          .map((g) => ({
            id: String(g.id),
            title: offerTitle(g.offer_id),
            value: Number(g.value_minor),
            currency: String(g.currency),
            redeemed: g.redeemed_by !== null,
            created_at: iso(g.created_at),
          })),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/demo/mailbox',
      middleware: [guard(app, 'admin-or-owner')] as const,
      tags: ['Mailbox'],
      security,
      summary:
        'Demo mode only, with no SMTP server: the e-mail sent to the signed-in handle (its linked address and the ones it asked to verify)',
      description:
        'Answers 404 NOT_FOUND when demo mode is off or an SMTP server is configured: real mail is never shown here.',
      responses: {
        200: {
          description: 'Messages, newest first',
          ...json(
            z.object({
              object: z.literal('list'),
              data: z.array(
                z.object({
                  id: z.string(),
                  to: z.string(),
                  subject: z.string(),
                  text: z.string(),
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
      if (!demoMailboxOn(app))
        throw new TagpayError('NOT_FOUND', 'The demo mailbox is only there in demo mode.');
      const owner = await requireAdminOrOwner(app, c);
      if (owner === null)
        throw new TagpayError('FORBIDDEN', 'The admin reads every e-mail with GET /v1/mailbox.');
      const shopper = app.engine.view.shoppers.get(handleKey(owner.network, owner.account));
      const asked = await app.db.query<{ email: string }>(
        'SELECT email FROM email_verification_requests WHERE network = $1 AND account = $2',
        [owner.network, owner.account],
      );
      const addresses = [
        ...new Set([
          ...asked.rows.map((r) => r.email),
          ...(shopper ? [shopper.email.toLowerCase()] : []),
        ]),
      ];
      const { rows } = await app.db.query<{
        id: unknown;
        to_addr: string;
        subject: string;
        body: string;
        created_at: unknown;
      }>('SELECT * FROM mailbox WHERE lower(to_addr) = ANY($1::text[]) ORDER BY id DESC LIMIT $2', [
        addresses,
        DEMO_MAILBOX_ROWS_MAX,
      ]);
      return send(c, {
        object: 'list',
        data: rows.map((r) => ({
          id: String(r.id),
          to: r.to_addr,
          subject: r.subject,
          text: r.body,
          created_at: iso(r.created_at),
        })),
      });
    },
  );
}
