import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AppContext, createLogger } from '../../src/app-context.ts';
import { loadConfig } from '../../src/config/env.ts';
import { createHttpApp } from '../../src/http/app.ts';
import { ADMIN_KEY, ManualClock, POSTGRES_URL, seededRandom, type Harness } from './harness.ts';
import { codeIn, orders, post, repliesTo, type Account, type World } from './world.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Buys the world's offer as `who` (post, code, confirm) and answers the paid order. */
export async function buy(h: Harness, w: World, who: Account, text = '#BuyAcmeTee M') {
  const buyPost = await post(h, who, text);
  await post(h, who, codeIn((await repliesTo(h, buyPost))[0]));
  const order = (await orders(h, who.handle)).find((o) => o.status === 'paid');
  assert.ok(order, `no paid order for ${who.handle}`);
  void w;
  return { order, buyPost };
}

/** Runs the `tagpay` command as a user would, on the harness's database. */
export function tagpay(
  args: string[],
  db: { storage: 'pglite'; dataDir: string } | { storage: 'postgres'; schema: string },
): { status: number; stdout: string; stderr: string } {
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    TAGPAY_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
  };
  delete env.DATABASE_URL;
  if (db.storage === 'pglite') env.TAGPAY_DATA_DIR = db.dataDir;
  else
    env.DATABASE_URL = `${POSTGRES_URL}${POSTGRES_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${db.schema}`)}`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: child.status ?? -1, stdout: child.stdout, stderr: child.stderr };
}

/** The Postgres schema a harness's database uses (its search path). */
export async function schemaOf(h: Harness): Promise<string> {
  const { rows } = await h.app.db.query<{ s: string }>('SELECT current_schema() AS s');
  return rows[0]!.s;
}

/**
 * A harness on a PGlite folder on disk (the embedded mode as `tagpay start` runs it), so the `tagpay`
 * command can open the same database once the app is closed.
 */
export async function openDiskHarness(dataDir: string): Promise<Harness> {
  const clock = new ManualClock();
  const config = loadConfig({
    TAGPAY_ADMIN_KEY: ADMIN_KEY,
    TAGPAY_PUBLIC_URL: 'http://tagpay.test',
    TAGPAY_DEMO: '0',
    TAGPAY_DATA_DIR: dataDir,
    TAGPAY_WEBHOOK_ALLOW_PRIVATE: '1',
    TAGPAY_RATE_LIMIT_PER_S: '0',
    // As in harness.ts: the fraud controls are tested on their own (tests/fraud.test.ts).
    TAGPAY_PURCHASES_PER_HOUR_MAX: '0',
    TAGPAY_CARD_DAILY_MAX: '0',
    TAGPAY_ANOMALY_STEP_UP: '0',
  });
  const make = async () => {
    const app = await AppContext.fromConfig(config, {
      clock,
      random: seededRandom(BigInt(Date.now())),
      logger: createLogger('silent'),
    });
    await app.ensureAdminKey();
    return app;
  };
  let app = await make();
  let http = createHttpApp(app);
  app.start();
  return {
    get app() {
      return app;
    },
    clock,
    storage: 'pglite',
    async request(method, path, body, token, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
      if (token) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
      const res = await http.request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: res.status, body: parsed };
    },
    async restart() {
      await app.close();
      app = await make();
      http = createHttpApp(app);
      app.start();
    },
    async close() {
      await app.close();
    },
  };
}

/** Sells a gift card by `#AcmeGift`: worth $25 (value), for $15 (price) unless told otherwise. */
export async function giftCardOffer(
  h: Harness,
  w: World,
  o: { title?: string; price?: number; value?: number; quantity?: number } = {},
) {
  const res = await h.request(
    'POST',
    '/v1/gift-card-offers',
    {
      title: o.title ?? 'Acme $25 gift card',
      price: { amount: o.price ?? 1500, currency: 'USD' },
      value: o.value ?? 2500,
      quantity: o.quantity ?? 5,
      hashtag: 'AcmeGift',
    },
    w.merchant.api_key,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res;
}
