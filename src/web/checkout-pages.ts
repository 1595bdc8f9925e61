import type { OpenAPIHono } from '@hono/zod-openapi';
import { TagpayError } from '../core/errors.ts';
import type { AppContext } from '../app-context.ts';
import { checkLink } from '../http/routes/checkout.ts';

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A page that says what went wrong, in plain words, with no script (works before the app loads). */
export function errorPage(title: string, message: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · tagpay</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><main class="error-page" role="alert"><h1>${escape(title)}</h1><p>${escape(message)}</p>
<p><a href="/">Back to tagpay</a></p></main></body></html>`;
}

/**
 * The server side of the checkout pages: a buy-now link is checked before any page is served, so an
 * altered or expired link gets a clear error page with its status (403, 410) and nothing else.
 */
export function checkoutPages(api: OpenAPIHono, app: AppContext, page: () => string): void {
  api.get('/buy/:offerId', (c) => {
    try {
      checkLink(app, c.req.param('offerId'), c.req.query('exp') ?? '', c.req.query('sig') ?? '');
    } catch (error) {
      if (!(error instanceof TagpayError)) throw error;
      const title =
        error.code === 'LINK_EXPIRED' ? 'This link has expired' : 'This link is not valid';
      return c.html(errorPage(title, error.message), error.status as 403);
    }
    return c.html(page());
  });
}
