import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { sha256 } from '../../core/codes.ts';
import { TagpayError } from '../../core/errors.ts';
import { WEB_SECRET_CHARS_MAX } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import { readProof } from '../ownership.ts';
import { checkOrigin, endSession, sessionOf, startSession, CSRF_HEADER } from '../session.ts';
import { errorResponses, send, json } from '../route.ts';
import { HandleSchema } from '../schemas.ts';
import { demoMailboxOn } from './web-wallet.ts';

const SessionSchema = z
  .object({
    signed_in: z.boolean(),
    network: z.string().nullable(),
    handle: z.string().nullable(),
    merchant: z.object({ id: z.string(), handle: z.string(), name: z.string() }).nullable(),
    csrf_token: z
      .string()
      .nullable()
      .openapi({
        description: `Send it in the ${CSRF_HEADER} header on every state-changing request of this session.`,
      }),
    expires_at: z.string().nullable(),
    demo: z.boolean(),
    demo_mailbox: z.boolean().openapi({
      description:
        'Demo mode with no SMTP server: GET /v1/demo/mailbox shows the signed-in handle its e-mail',
    }),
  })
  .openapi('WebSession');

const Secret = z.string().min(1).max(WEB_SECRET_CHARS_MAX);

/**
 * Web sessions for the pages: sign in by proving a handle (or a merchant key) once, then the browser
 * carries an httpOnly cookie and sends a CSRF token with every change. The same /v1 routes serve the
 * pages and the API; the cookie stands in for the bearer token.
 */
export function sessionRoutes(api: OpenAPIHono, app: AppContext): void {
  const describe = async (c: Parameters<typeof sessionOf>[1]) => {
    const s = await sessionOf(app, c);
    const merchant = s?.merchantId ? app.engine.view.merchants.get(s.merchantId) : undefined;
    return {
      signed_in: s !== null,
      network: s?.network ?? null,
      handle: s?.handle ?? null,
      merchant: merchant ? { id: merchant.id, handle: merchant.handle, name: merchant.name } : null,
      csrf_token: s?.csrf ?? null,
      expires_at: s ? new Date(s.expiresAt).toISOString() : null,
      demo: app.config.demo,
      demo_mailbox: demoMailboxOn(app),
    };
  };

  api.openapi(
    createRoute({
      method: 'get',
      path: '/v1/session',
      tags: ['Web sessions'],
      summary: "The browser's web session (from its cookie) and its CSRF token",
      responses: { 200: { description: 'The session', ...json(SessionSchema) } },
    }),
    async (c) => {
      c.header('cache-control', 'no-store');
      return send(c, await describe(c));
    },
  );

  const signIn = (path: string, summary: string, body: z.ZodType, prove: ProveFn) =>
    api.openapi(
      createRoute({
        method: 'post',
        path,
        tags: ['Web sessions'],
        summary,
        request: { body: { required: true, ...json(body) } },
        responses: {
          200: {
            description: 'Signed in: the session cookie is set',
            ...json(SessionSchema),
          },
          ...errorResponses,
        },
      }),
      async (c) => {
        checkOrigin(c);
        const who = await prove((c.req as any).valid('json'));
        const started = await startSession(app, c, who);
        c.header('cache-control', 'no-store');
        return send(c, describeFresh(app, who, started));
      },
    );

  signIn(
    '/v1/session/local',
    'Sign in with a local network account (its handle and token)',
    z.object({ handle: HandleSchema, token: Secret }),
    async (body: { handle: string; token: string }) => {
      const owner = await app.local.authenticate(body.token);
      if (owner !== body.handle)
        throw new TagpayError(
          'UNAUTHENTICATED',
          'That handle and token do not match a local network account.',
          'token',
        );
      return { network: 'local', account: owner, handle: owner, merchantId: null };
    },
  );

  signIn(
    '/v1/session/proof',
    'Sign in with a proof of ownership (from /v1/onboarding/bluesky, the Mastodon OAuth callback, or /v1/onboarding/local)',
    z.object({ proof: z.string().min(1).max(4096) }),
    async (body: { proof: string }) => {
      const owner = await readProof(app, body.proof);
      return {
        network: owner.network,
        account: owner.account,
        handle: owner.handle,
        merchantId: null,
      };
    },
  );

  signIn(
    '/v1/session/merchant',
    'Sign in to the merchant dashboard with a merchant API key',
    z.object({ api_key: Secret }),
    async (body: { api_key: string }) => {
      const { rows } = await app.db.query<{ merchant_id: string }>(
        'SELECT merchant_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL',
        [sha256(body.api_key)],
      );
      if (!rows[0])
        throw new TagpayError(
          'UNAUTHENTICATED',
          'This API key is not valid (unknown or revoked).',
          'api_key',
        );
      return { network: null, account: null, handle: null, merchantId: rows[0].merchant_id };
    },
  );

  signIn(
    '/v1/session/demo',
    'Demo mode only: sign in as a demo shopper, or as a demo merchant by its local handle',
    z.object({ handle: HandleSchema }),
    async (body: { handle: string }) => {
      if (!app.config.demo) throw new TagpayError('NOT_FOUND', 'Demo mode is off.');
      const merchant = [...app.engine.view.merchants.values()].find(
        (m) => m.network === 'local' && m.handle === body.handle,
      );
      if (merchant) return { network: null, account: null, handle: null, merchantId: merchant.id };
      if (!(await app.local.isDemo(body.handle)))
        throw new TagpayError('FORBIDDEN', `@${body.handle} is not a demo account.`, 'handle');
      return { network: 'local', account: body.handle, handle: body.handle, merchantId: null };
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/session/end',
      tags: ['Web sessions'],
      summary: "Sign out: the browser's session is revoked and its cookie cleared",
      responses: { 200: { description: 'Signed out', ...json(SessionSchema) }, ...errorResponses },
    }),
    async (c) => {
      // A stale or foreign session still signs out; a live one needs its CSRF token.
      await sessionOf(app, c);
      checkOrigin(c);
      await endSession(app, c);
      return send(c, {
        signed_in: false,
        network: null,
        handle: null,
        merchant: null,
        csrf_token: null,
        expires_at: null,
        demo: app.config.demo,
        demo_mailbox: demoMailboxOn(app),
      });
    },
  );
}

type Who = {
  network: string | null;
  account: string | null;
  handle: string | null;
  merchantId: string | null;
};
type ProveFn = (body: any) => Promise<Who>;

/** The session just started, described without reading the cookie back (the request has none yet). */
function describeFresh(app: AppContext, who: Who, started: { csrf: string; expiresAt: number }) {
  const merchant = who.merchantId ? app.engine.view.merchants.get(who.merchantId) : undefined;
  return {
    signed_in: true,
    network: who.network,
    handle: who.handle,
    merchant: merchant ? { id: merchant.id, handle: merchant.handle, name: merchant.name } : null,
    csrf_token: started.csrf,
    expires_at: new Date(started.expiresAt).toISOString(),
    demo: app.config.demo,
    demo_mailbox: demoMailboxOn(app),
  };
}
