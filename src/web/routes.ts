import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { z } from 'zod';
import { TagpayError } from '../core/errors.ts';
import { normalizeHandle } from '../core/post-grammar.ts';
import type { AppContext } from '../app-context.ts';
import { offerView } from '../engine/views.ts';
import { PAGE_PATHS } from './pages.ts';

const here = dirname(fileURLToPath(import.meta.url));
/** Where `npm run build:web` (Vite) writes the app; `npm start` and `npm test` build it first. */
export const WEB_DIST_DIR = join(here, '../../dist/web');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.map': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The content security policy of the pages: scripts, styles, images and connections from this origin
 * only, no inline scripts or styles, no plugins, no framing, forms post only here.
 */
export const PAGE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

/**
 * The web app (React, built by Vite into dist/web) served by this process: index.html for every page
 * path, the hashed bundles under /app/ (cached for good: their names change with their content).
 */
export function webRoutes(api: OpenAPIHono, app: AppContext): void {
  const docsInit = readFileSync(join(here, 'assets', 'docs-init.js'));
  api.get('/assets/docs-init.js', (c) =>
    c.body(docsInit, 200, { 'content-type': 'text/javascript', 'cache-control': 'no-cache' }),
  );

  const indexFile = join(WEB_DIST_DIR, 'index.html');
  const built = existsSync(indexFile);
  if (!built) app.logger.warn('dist/web is missing: run `npm run build:web` to serve the pages');
  const index = built ? readFileSync(indexFile, 'utf8') : null;
  const bundles = new Map<string, Buffer>();
  if (built && existsSync(join(WEB_DIST_DIR, 'app'))) {
    for (const file of readdirSync(join(WEB_DIST_DIR, 'app')))
      bundles.set(file, readFileSync(join(WEB_DIST_DIR, 'app', file)));
  }
  api.get('/app/:file', (c) => {
    const file = c.req.param('file');
    const body = bundles.get(file);
    if (!body) throw new TagpayError('NOT_FOUND', `No file /app/${file}.`);
    const type = TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
    return c.body(new Uint8Array(body), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=31536000, immutable',
    });
  });

  const pageHeaders = secureHeaders({
    contentSecurityPolicy: PAGE_CSP,
    referrerPolicy: 'same-origin',
  });
  api.get('*', pageHeaders, async (c, next) => {
    if (!PAGE_PATHS.some((re) => re.test(c.req.path))) return next();
    c.header('cache-control', 'no-cache');
    if (index === null)
      return c.text('The web app is not built: run `npm run build:web`, then restart.', 503);
    return c.html(index);
  });

  // Demo mode: what the demo offers (the timeline's side panel). Off unless TAGPAY_DEMO is on.
  api.get('/demo/info', async (c) => {
    if (!app.config.demo) return c.json({ demo: false, accounts: [], offers: [] });
    const offers = [...app.engine.view.offers.values()]
      .filter((o) => o.status === 'live')
      .map(offerView);
    return c.json({
      demo: true,
      accounts: await app.local.accounts(true),
      offers,
      bot: app.config.botHandle,
    });
  });
  api.post('/demo/signin', async (c) => {
    if (!app.config.demo) throw new TagpayError('NOT_FOUND', 'Demo mode is off.');
    const json = await c.req.json().catch(() => undefined);
    if (json === undefined)
      throw new TagpayError('INVALID_JSON', 'The request body is not valid JSON.');
    const body = z.object({ handle: z.string().max(64) }).safeParse(json);
    if (!body.success)
      throw new TagpayError('INVALID_REQUEST', 'Send {"handle": "..."}.', 'handle');
    const handle = normalizeHandle(body.data.handle);
    const token = await app.local.demoSignIn(handle);
    if (token === null)
      throw new TagpayError('FORBIDDEN', `@${handle} is not a demo account.`, 'handle');
    return c.json({ handle, token });
  });
}
