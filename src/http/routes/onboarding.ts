import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../../core/errors.ts';
import { OAUTH_STATE_TTL_MS } from '../../core/limits.ts';
import type { AppContext } from '../../app-context.ts';
import type { BlueskyClient } from '../../networks/bluesky/client.ts';
import { proveBlueskyHandle } from '../../networks/bluesky/onboarding.ts';
import {
  accountFromCode,
  authorizeUrl,
  registerApp,
  serverOrigin,
  type MastodonApp,
} from '../../networks/mastodon/onboarding.ts';
import { webhookTargetProblem } from '../../outbox/ssrf.ts';
import { guard, requireLocalAccount } from '../auth.ts';
import { issueProof, sign, verify } from '../ownership.ts';
import { errorResponses, security, send, json } from '../route.ts';
import { NetworkHandleSchema } from '../schemas.ts';

const ProofSchema = z
  .object({
    proof: z.string().openapi({
      description:
        'Send as `Authorization: Bearer <proof>` to POST /v1/shoppers (or as `proof` to POST /v1/shoppers/{id}/handles).',
    }),
    expires_at: z.string(),
    network: z.string(),
    account: z.string().openapi({
      description: 'The account posts come from: a DID on Bluesky, user@server on Mastodon.',
    }),
    handle: z.string(),
  })
  .openapi('OwnershipProof');

const OAUTH_STATE_PREFIX = 'st_';
const CALLBACK_PATH = '/v1/onboarding/mastodon/callback';

/**
 * Onboarding: a shopper proves they control a handle through their own account on its network, and
 * gets a short-lived proof of ownership (src/http/ownership.ts) that links the handle without the
 * admin key. Bluesky: handle and app password, checked by a session on the shopper's own PDS.
 * Mastodon: OAuth on the shopper's own server. Local: the local network token.
 */
export function onboardingRoutes(api: OpenAPIHono, app: AppContext): void {
  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/onboarding/local',
      middleware: [guard(app, 'local')] as const,
      tags: ['Onboarding'],
      security,
      summary: 'A proof of ownership of the local handle whose token is sent',
      responses: { 200: { description: 'The proof', ...json(ProofSchema) }, ...errorResponses },
    }),
    async (c) => {
      const handle = await requireLocalAccount(app, c);
      return send(c, await issueProof(app, { network: 'local', account: handle, handle }));
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/onboarding/bluesky',
      tags: ['Onboarding'],
      summary: 'Prove a Bluesky handle with an app password (used once, never stored)',
      description:
        "tagpay resolves the handle to its DID and the DID to the shopper's own PDS, checks the DID " +
        'document names the handle back, opens a session there (com.atproto.server.createSession) ' +
        'with the handle and the app password, checks the session is for that DID, and deletes the ' +
        'session. A refused login is `401 OWNERSHIP_NOT_PROVEN`; an unknown handle `400 INVALID_HANDLE`; ' +
        'an unreachable PDS `502 NETWORK_UNAVAILABLE`. Use an app password (Settings → App passwords), ' +
        'never the account password.',
      request: {
        body: {
          required: true,
          ...json(
            z
              .object({
                handle: NetworkHandleSchema,
                app_password: z.string().min(1).max(256),
              })
              .openapi('BlueskyOnboarding'),
          ),
        },
      },
      responses: {
        200: { description: 'The proof', ...json(ProofSchema) },
        ...errorResponses,
        502: { description: 'The PDS could not be reached (NETWORK_UNAVAILABLE)' },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const client = app.networks.get('bluesky') as BlueskyClient | undefined;
      if (client === undefined)
        throw new TagpayError(
          'NETWORK_NOT_CONNECTED',
          'This tagpay is not connected to bluesky.',
          'network',
        );
      const ownPds =
        app.config.bluesky === null ? null : new URL(app.config.bluesky.service).origin;
      const proof = await proveBlueskyHandle(client, body.handle, body.app_password, (pds) =>
        new URL(pds).origin === ownPds
          ? Promise.resolve(null)
          : webhookTargetProblem(pds, app.config.webhookAllowPrivate),
      );
      if (!proof.ok) {
        app.logger.info(
          { handle: body.handle, reason: proof.reason, detail: proof.detail },
          'bluesky onboarding refused',
        );
        switch (proof.reason) {
          case 'unknown_handle':
            throw new TagpayError(
              'INVALID_HANDLE',
              `No Bluesky account has the handle ${body.handle}.`,
              'handle',
            );
          case 'pds_unreachable':
            throw new TagpayError(
              'NETWORK_UNAVAILABLE',
              `The PDS of ${body.handle} could not be reached; try again.`,
            );
          case 'wrong_password':
            throw new TagpayError(
              'OWNERSHIP_NOT_PROVEN',
              `The PDS of ${body.handle} refused this app password.`,
              'app_password',
            );
          default:
            throw new TagpayError(
              'OWNERSHIP_NOT_PROVEN',
              `Could not prove ${body.handle}: ${proof.detail}.`,
              'handle',
            );
        }
      }
      return send(
        c,
        await issueProof(app, { network: 'bluesky', account: proof.did, handle: proof.handle }),
      );
    },
  );

  api.openapi(
    createRoute({
      method: 'post',
      path: '/v1/onboarding/mastodon',
      tags: ['Onboarding'],
      summary: "Start proving a Mastodon handle: the URL of the shopper's server's approval page",
      description:
        'Registers tagpay on the server once (POST /api/v1/apps, kept per server), and answers the ' +
        '/oauth/authorize URL to send the shopper to (scope `read:accounts`). After approval the server ' +
        `redirects to ${CALLBACK_PATH}, which answers the proof, or redirects to \`return_to\` with ` +
        '`#proof=…&network=mastodon&handle=…` in the fragment. `return_to` must be a page of this tagpay.',
      request: {
        body: {
          required: true,
          ...json(
            z
              .object({
                server: z.string().min(1).max(255).openapi({ example: 'mastodon.social' }),
                return_to: z.string().max(2000).optional(),
              })
              .openapi('MastodonOnboarding'),
          ),
        },
      },
      responses: {
        200: {
          description: 'Where to send the shopper',
          ...json(
            z.object({ authorize_url: z.string(), server: z.string(), expires_at: z.string() }),
          ),
        },
        ...errorResponses,
        502: { description: 'The server could not be reached (NETWORK_UNAVAILABLE)' },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      if (!app.networks.has('mastodon'))
        throw new TagpayError(
          'NETWORK_NOT_CONNECTED',
          'This tagpay is not connected to mastodon.',
          'network',
        );
      const server = serverOrigin(body.server);
      if (server === null)
        throw new TagpayError(
          'INVALID_REQUEST',
          'server is a host name like mastodon.social.',
          'server',
        );
      const returnTo = body.return_to ?? null;
      if (returnTo !== null && !isOwnPage(app, returnTo))
        throw new TagpayError(
          'INVALID_REQUEST',
          `return_to must be a page under ${app.config.publicUrl}.`,
          'return_to',
        );
      await allowServer(app, server);
      const oauthApp = await appFor(app, server);
      const { token, expiresAt } = await sign(
        app,
        'mastodon-oauth',
        OAUTH_STATE_PREFIX,
        { s: server, r: returnTo },
        OAUTH_STATE_TTL_MS,
      );
      return send(c, {
        authorize_url: authorizeUrl(server, oauthApp, token),
        server,
        expires_at: new Date(expiresAt).toISOString(),
      });
    },
  );

  api.openapi(
    createRoute({
      method: 'get',
      path: CALLBACK_PATH,
      tags: ['Onboarding'],
      summary: "Mastodon's OAuth redirect: exchanges the code and answers the proof",
      description:
        'Called by the browser coming back from /oauth/authorize. Exchanges the code (POST /oauth/token), ' +
        'reads the approving account (verify_credentials), revokes the token, and answers the proof ' +
        '(or redirects to `return_to` with it in the fragment). A refusal on the server, a bad or ' +
        'expired `state` or a refused code is `401 OWNERSHIP_NOT_PROVEN`.',
      request: {
        query: z.object({
          code: z.string().max(2000).optional(),
          state: z.string().max(4096).optional(),
          error: z.string().max(200).optional(),
        }),
      },
      responses: {
        200: { description: 'The proof', ...json(ProofSchema) },
        303: { description: 'To `return_to`, the proof in the fragment' },
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const state =
        q.state === undefined
          ? null
          : await verify(app, 'mastodon-oauth', OAUTH_STATE_PREFIX, q.state);
      if (q.error !== undefined || q.code === undefined) {
        const message = `The server did not approve tagpay (${q.error ?? 'no code'}).`;
        // A page that started the approval (return_to, checked when the state was signed) shows it.
        if (state !== null && typeof state.r === 'string')
          return c.redirect(`${state.r}#${new URLSearchParams({ error: message })}`, 303) as never;
        throw new TagpayError('OWNERSHIP_NOT_PROVEN', message, 'code');
      }
      if (state === null || typeof state.s !== 'string')
        throw new TagpayError(
          'OWNERSHIP_NOT_PROVEN',
          'This approval is expired or was not started here; start again.',
          'state',
        );
      const server = state.s;
      const oauthApp = await appFor(app, server);
      const result = await accountFromCode(server, oauthApp, q.code).catch((error: unknown) => {
        throw new TagpayError(
          'NETWORK_UNAVAILABLE',
          `${server} could not be reached: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
      if (!result.ok)
        throw new TagpayError(
          'OWNERSHIP_NOT_PROVEN',
          `${server} did not confirm the account (${result.detail}).`,
          'code',
        );
      const proof = await issueProof(app, {
        network: 'mastodon',
        account: result.account,
        handle: result.account,
      });
      if (typeof state.r === 'string') {
        const fragment = new URLSearchParams({
          proof: proof.proof,
          network: 'mastodon',
          handle: proof.handle,
        });
        return c.redirect(`${state.r}#${fragment.toString()}`, 303) as never;
      }
      return send(c, proof);
    },
  );
}

/** A page of this tagpay (no open redirect: a proof is handed only to our own pages). */
function isOwnPage(app: AppContext, url: string): boolean {
  try {
    return new URL(url).origin === new URL(app.config.publicUrl).origin;
  } catch {
    return false;
  }
}

/** tagpay's own server is trusted; another is called only at a public address (see outbox/ssrf.ts). */
async function allowServer(app: AppContext, server: string): Promise<void> {
  const own = app.config.mastodon === null ? null : new URL(app.config.mastodon.url).origin;
  if (server === own) return;
  const problem = await webhookTargetProblem(server, app.config.webhookAllowPrivate);
  if (problem !== null)
    throw new TagpayError(
      'INVALID_REQUEST',
      `tagpay does not call ${server}: ${problem}.`,
      'server',
    );
}

/** tagpay's OAuth app on `server`: the one registered before for this redirect URI, or a new one. */
async function appFor(app: AppContext, server: string): Promise<MastodonApp> {
  const redirectUri = `${app.config.publicUrl}${CALLBACK_PATH}`;
  const { rows } = await app.db.query<{
    client_id: string;
    client_secret: string;
    redirect_uri: string;
  }>('SELECT client_id, client_secret, redirect_uri FROM mastodon_apps WHERE server = $1', [
    server,
  ]);
  const known = rows[0];
  if (known !== undefined && known.redirect_uri === redirectUri)
    return { clientId: known.client_id, clientSecret: known.client_secret, redirectUri };
  let registered: MastodonApp;
  try {
    registered = await registerApp(server, redirectUri, app.config.publicUrl);
  } catch (error) {
    throw new TagpayError(
      'NETWORK_UNAVAILABLE',
      `Could not register tagpay on ${server}: ${error instanceof Error ? error.message : String(error)}`,
      'server',
    );
  }
  await app.db.query(
    `INSERT INTO mastodon_apps (server, redirect_uri, client_id, client_secret, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (server) DO UPDATE SET redirect_uri = excluded.redirect_uri, client_id = excluded.client_id,
       client_secret = excluded.client_secret, created_at = excluded.created_at`,
    [server, redirectUri, registered.clientId, registered.clientSecret, app.clock.now()],
  );
  return registered;
}
