import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { TagpayError } from '../core/errors.ts';
import { normalizeHandle } from '../core/post-grammar.ts';
import type { AppContext } from '../app-context.ts';
import { offerView } from '../engine/views.ts';

const here = dirname(fileURLToPath(import.meta.url));
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The first pages: the local timeline (post as a demo user, watch tagpay answer) and sign-up.
 * Plain HTML and scripts served from memory, talking to the same JSON API as everyone else.
 * The full web interface is its own work (issue 4).
 */
export function webRoutes(api: OpenAPIHono, app: AppContext): void {
  const page = (name: string) => readFileSync(join(here, name), 'utf8');
  const index = page('index.html');
  const signup = page('signup.html');
  api.get('/', (c) => c.html(index));
  api.get('/signup', (c) => c.html(signup));
  for (const file of ['app.js', 'signup.js', 'style.css', 'docs-init.js', 'common.js']) {
    const body = readFileSync(join(here, 'assets', file));
    const type = TYPES[file.slice(file.lastIndexOf('.'))]!;
    api.get(`/assets/${file}`, (c) =>
      c.body(body, 200, { 'content-type': type, 'cache-control': 'no-cache' }),
    );
  }

  // Demo mode: anyone may act as the demo accounts. Off unless TAGPAY_DEMO is on (the embedded default).
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
