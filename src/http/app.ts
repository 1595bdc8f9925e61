import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { errorBody } from '../core/errors.ts';
import { REQUEST_BODY_BYTES_MAX } from '../core/limits.ts';
import type { AppContext } from '../app-context.ts';
import { webRoutes } from '../web/routes.ts';
import { checkoutPages } from '../web/checkout-pages.ts';
import { errorHandler, validationHook } from './errors.ts';
import { rateLimit } from './rate-limit.ts';
import { checkoutRoutes } from './routes/checkout.ts';
import { localRoutes } from './routes/local.ts';
import { localStreamRoutes } from './routes/local-stream.ts';
import { merchantRoutes } from './routes/merchants.ts';
import { moneyRoutes } from './routes/money.ts';
import { oauthRoutes } from './routes/oauth.ts';
import { orderRoutes } from './routes/orders.ts';
import { securityRoutes } from './routes/security.ts';
import { sessionRoutes } from './routes/sessions.ts';
import { webDataRoutes } from './routes/web-data.ts';
import { webWalletRoutes } from './routes/web-wallet.ts';
import { offerEditRoutes } from './routes/offer-edit.ts';
import { merchantMoneyRoutes } from './routes/merchant-money.ts';
import { shopperRoutes } from './routes/shoppers.ts';
import { onboardingRoutes } from './routes/onboarding.ts';

const here = dirname(fileURLToPath(import.meta.url));
const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The HTTP app: the JSON API under /v1, its OpenAPI document and docs page, and the web pages. */
export function createHttpApp(app: AppContext): OpenAPIHono {
  const api = new OpenAPIHono({ defaultHook: validationHook });
  api.onError(errorHandler(app.logger));
  api.notFound((c) =>
    c.json(errorBody('NOT_FOUND', `No route ${c.req.method} ${c.req.path}.`), 404),
  );

  api.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    // Bodies are never logged: they can hold card numbers, tokens and addresses.
    app.logger.debug(
      {
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  });
  api.use(
    '*',
    secureHeaders({
      // The web pages set a stricter policy of their own (src/web/routes.ts PAGE_CSP); keep it.
      overwrite: false,
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
    }),
  );
  api.use('/v1/*', rateLimit(app.config.rateLimitPerS, app.clock));
  api.use('/demo/*', rateLimit(app.config.rateLimitPerS, app.clock));
  api.use('/step-up', rateLimit(app.config.rateLimitPerS, app.clock));
  api.use('/not-me', rateLimit(app.config.rateLimitPerS, app.clock));
  api.use('/oauth/*', rateLimit(app.config.rateLimitPerS, app.clock));
  api.use('/oauth/*', bodyLimit({ maxSize: REQUEST_BODY_BYTES_MAX }));
  api.use(
    '/v1/*',
    bodyLimit({
      maxSize: REQUEST_BODY_BYTES_MAX,
      onError: (c) =>
        c.json(
          errorBody(
            'BODY_TOO_LARGE',
            `A request body has at most ${REQUEST_BODY_BYTES_MAX} bytes.`,
          ),
          413,
        ),
    }),
  );
  api.use('/v1/*', async (c, next) => {
    if (c.req.method === 'POST') {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      const length = c.req.header('content-length');
      if (
        type !== 'application/json' &&
        !(type === '' && (length === '0' || length === undefined))
      ) {
        return c.json(
          errorBody('UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json.'),
          415,
        );
      }
    }
    await next();
  });

  api.get('/healthz', (c) => {
    const networks = app.connectors.map((connector) => connector.health());
    return c.json({
      ok: true,
      networks: ['local', ...networks.map((n) => n.network)],
      connectors: networks,
    });
  });
  api.get('/metrics', async (c) =>
    c.body(await app.metrics.registry.metrics(), 200, {
      'content-type': app.metrics.registry.contentType,
    }),
  );

  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description:
      'The admin key, a merchant API key (sk_…), or a local network token (lt_…), depending on the route.',
  });
  localRoutes(api, app);
  merchantRoutes(api, app);
  shopperRoutes(api, app);
  onboardingRoutes(api, app);
  orderRoutes(api, app);
  securityRoutes(api, app);
  moneyRoutes(api, app);
  merchantMoneyRoutes(api, app);
  checkoutRoutes(api, app);
  oauthRoutes(api, app);
  sessionRoutes(api, app);
  localStreamRoutes(api, app);
  webDataRoutes(api, app);
  webWalletRoutes(api, app);
  offerEditRoutes(api, app);

  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'tagpay API',
      version: '1',
      description:
        'Buy and pay by social post. JSON over HTTPS, Stripe\'s conventions: amounts in minor units, Idempotency-Key on POST, cursor pagination (limit, starting_after), errors as {"error": {"code", "message"}}.',
    },
  });
  const docsHtml = readFileSync(join(here, '../web/docs.html'), 'utf8');
  api.get('/docs', (c) => c.html(docsHtml));
  for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js']) {
    const body = readFileSync(join(swaggerDir, file));
    const type = file.endsWith('.css') ? 'text/css' : 'text/javascript';
    api.get(`/docs/${file}`, (c) =>
      c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=3600' }),
    );
  }
  // Checked on the server before the app is served (signed links, OAuth requests).
  checkoutPages(api, app);
  webRoutes(api, app);
  return api;
}
