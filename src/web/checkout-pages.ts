import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { secureHeaders } from 'hono/secure-headers';
import { TagpayError } from '../core/errors.ts';
import type { AppContext } from '../app-context.ts';
import { checkLink } from '../http/routes/checkout.ts';
import { AuthorizeQuery, checkAuthorization } from '../http/routes/oauth.ts';
import { PAGE_CSP, WEB_DIST_DIR } from './routes.ts';

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const ERROR_CSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1b1b1f;background:#f7f7f9}
main{max-width:34rem;margin:4rem auto;padding:1.5rem;background:#fff;border:1px solid #ddd;border-radius:12px}
h1{font-size:1.4rem;margin-top:0}a{color:#0b5cff}`;

/** A page that says what went wrong, in plain words, with no script (it works before any app loads). */
export function errorPage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · tagpay</title><link rel="stylesheet" href="/assets/error-page.css"></head>
<body><main role="alert"><h1>${escape(title)}</h1><p>${escape(message)}</p>
<p><a href="/">Back to tagpay</a></p></main></body></html>`;
}

/**
 * The server side of the checkout pages. A buy-now link and an OAuth authorization request are
 * checked before the app is served: an altered or expired link gets an error page with its status
 * (403, 410); an authorization request from an unknown client or to an unregistered redirect URI gets
 * an error page and is never redirected (RFC 6749 §4.1.2.1); other bad requests go back to the shop.
 */
export function checkoutPages(api: OpenAPIHono, app: AppContext): void {
  const indexFile = join(WEB_DIST_DIR, 'index.html');
  const index = () => (existsSync(indexFile) ? readFileSync(indexFile, 'utf8') : null);
  const headers = secureHeaders({ contentSecurityPolicy: PAGE_CSP, referrerPolicy: 'same-origin' });
  api.get('/assets/error-page.css', (c) =>
    c.body(ERROR_CSS, 200, { 'content-type': 'text/css', 'cache-control': 'public, max-age=3600' }),
  );

  api.get('/buy/:offerId', headers, (c) => {
    c.header('cache-control', 'no-store');
    try {
      checkLink(app, c.req.param('offerId'), c.req.query('exp') ?? '', c.req.query('sig') ?? '');
    } catch (error) {
      if (!(error instanceof TagpayError)) throw error;
      const title =
        error.code === 'LINK_EXPIRED' ? 'This link has expired' : 'This link is not valid';
      return c.html(errorPage(title, error.message), error.status as 403);
    }
    const html = index();
    return html === null
      ? c.text('The web app is not built: run `npm run build:web`.', 503)
      : c.html(html);
  });

  api.get('/oauth/authorize', headers, (c) => {
    c.header('cache-control', 'no-store');
    const query = AuthorizeQuery.safeParse(c.req.query());
    if (!query.success)
      return c.html(
        errorPage('This payment request does not work', 'A parameter is too long.'),
        400,
      );
    const checked = checkAuthorization(app, query.data);
    if (!checked.ok && checked.redirect !== null) return c.redirect(checked.redirect, 302);
    if (!checked.ok)
      return c.html(errorPage('This payment request does not work', checked.description), 400);
    const html = index();
    return html === null
      ? c.text('The web app is not built: run `npm run build:web`.', 503)
      : c.html(html);
  });
}
