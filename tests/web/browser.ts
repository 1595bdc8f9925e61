import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createHttpApp } from '../../src/http/app.ts';
import { WEB_DIST_DIR } from '../../src/web/routes.ts';
import { openHarness, type Harness } from '../support/harness.ts';

/** Debian's Chromium (`.ci/run` installs it); playwright-core drives it, no browser download. */
export const CHROMIUM = process.env.TAGPAY_CHROMIUM ?? '/usr/bin/chromium';
/** Where the browser tests write their screenshots (git-ignored; the README's are in docs/). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/web/', import.meta.url));

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 860 };

/** Builds the web app when dist/web is missing (running one test file without `npm test`). */
export async function ensureWebBuilt(): Promise<void> {
  if (existsSync(join(WEB_DIST_DIR, 'index.html'))) return;
  const { build } = await import('vite');
  await build({
    configFile: fileURLToPath(new URL('../../src/web/app/vite.config.ts', import.meta.url)),
  });
}

export interface WebWorld {
  h: Harness;
  base: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** A fresh browser context (its own cookies: another person) with one page. */
  newPerson(viewport?: { width: number; height: number }): Promise<Page>;
  shot(page: Page, name: string): Promise<string>;
  /** Uncaught errors and console errors of every page (a CSP violation shows up here). */
  pageErrors: string[];
  close(): Promise<void>;
}

/**
 * tagpay on a real port (so Chromium can reach it) over a test harness, and a headless Chromium. The
 * base URL is `localhost`, a secure context, so the Secure session cookie works over plain HTTP.
 */
export async function openWebWorld(
  storage: 'pglite' | 'postgres' = 'pglite',
  opts: { env?: Record<string, string> } = {},
): Promise<WebWorld> {
  await ensureWebBuilt();
  let fetchApp: (req: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: (req) => fetchApp(req), hostname: '127.0.0.1', port: 0 }, () =>
      resolve(s),
    );
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://localhost:${port}`;
  const h = await openHarness(storage, { env: { TAGPAY_PUBLIC_URL: base, ...opts.env } });
  const http = createHttpApp(h.app);
  fetchApp = (req) => http.fetch(req);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const newPerson = async (viewport = DESKTOP) => {
    const context = await browser.newContext({ viewport, baseURL: base, locale: 'en-US' });
    context.setDefaultTimeout(15_000);
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      // An HTTP error the page expected (a wrong password) is not a page error; a CSP violation is.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
        pageErrors.push(m.text());
    });
    return page;
  };
  const page = await newPerson();
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    h,
    base,
    browser,
    context: contexts[0]!,
    page,
    newPerson,
    pageErrors,
    async shot(p, name) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await p.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close();
      // Open event streams would hold the server open: drop every connection, then close.
      const closing = new Promise<void>((r) => server.close(() => r()));
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closing;
      await h.close();
    },
  };
}
