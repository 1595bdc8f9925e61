import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import { SampleShop } from '../examples/sample-shop/shop.ts';
import { createHttpApp } from '../src/http/app.ts';
import { openHarness, storages, type Harness } from './support/harness.ts';
import { assertLedgerBalanced, setupWorld } from './support/world.ts';

/**
 * The sample shop of examples/ against a real tagpay over HTTP, with the browser's part played by
 * hand (the Playwright test plays it in Chromium): checkout, approval, callback, webhook.
 */
for (const storage of storages()) {
  describe(`sample shop (${storage})`, () => {
    let h: Harness;
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
      await assertLedgerBalanced(h);
      await h.close();
    });

    test('pay with tagpay from the sample shop: paid, the shop told by the code exchange and a signed webhook', async () => {
      h = await openHarness(storage);
      const w = await setupWorld(h);
      const server = serve({ fetch: createHttpApp(h.app).fetch, port: 0, hostname: '127.0.0.1' });
      await new Promise((resolve) => server.once('listening', resolve));
      closers.push(() => new Promise((resolve) => server.close(() => resolve())));
      const tagpayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

      // The shop listens first, so its address can be registered.
      const shop = new SampleShop({
        tagpayUrl,
        clientId: '',
        clientSecret: '',
        webhookSecret: w.merchant.webhook_secret,
        publicUrl: 'http://127.0.0.1:0',
        port: 0,
        now: h.clock.now,
      });
      const shopPort = await shop.listen();
      closers.push(() => shop.close());
      const publicUrl = `http://127.0.0.1:${shopPort}`;
      const reg = await h.request(
        'POST',
        '/v1/shop_clients',
        {
          name: 'Sample Shop',
          redirect_uris: [`${publicUrl}/callback`],
          webhook_url: `${publicUrl}/webhook`,
        },
        w.merchant.api_key,
      );
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      Object.assign(shop.options, {
        clientId: reg.body.id,
        clientSecret: reg.body.client_secret,
        publicUrl,
      });

      const start = await fetch(`${publicUrl}/checkout`, { method: 'POST', redirect: 'manual' });
      assert.equal(start.status, 303);
      const authorize = new URL(start.headers.get('location')!);
      const cookie = start.headers.get('set-cookie')!.split(';')[0]!;
      assert.equal(authorize.origin + authorize.pathname, `${tagpayUrl}/oauth/authorize`);
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      const params = Object.fromEntries(authorize.searchParams);

      const shown = await h.request('GET', `/v1/oauth/authorize?${authorize.searchParams}`);
      assert.equal(shown.body.display, '$19.99');
      const approved = await h.request(
        'POST',
        '/v1/oauth/authorize',
        { ...params, decision: 'approve' },
        w.accounts.alice!.token,
      );
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      await h.app.settle();

      // Another browser (no cookie) cannot finish this checkout.
      const stolen = await fetch(approved.body.redirect_to);
      assert.equal(stolen.status, 400);
      const back = await fetch(approved.body.redirect_to, { headers: { cookie } });
      const html = await back.text();
      assert.equal(back.status, 200, html);
      assert.match(html, /Paid \$19\.99 with tagpay/);
      assert.equal(shop.orders[0]!.payment!.status, 'paid');
      assert.deepEqual(
        shop.webhooks.map((e) => [e.type, e.status]),
        [['payment.succeeded', 'paid']],
        'the webhook reached the shop and its signature held',
      );

      // Denied: the shop hears access_denied.
      const start2 = await fetch(`${publicUrl}/checkout`, { method: 'POST', redirect: 'manual' });
      const authorize2 = new URL(start2.headers.get('location')!);
      const denied = await h.request(
        'POST',
        '/v1/oauth/authorize',
        { ...Object.fromEntries(authorize2.searchParams), decision: 'deny' },
        w.accounts.alice!.token,
      );
      const back2 = await fetch(denied.body.redirect_to, {
        headers: { cookie: start2.headers.get('set-cookie')!.split(';')[0]! },
      });
      assert.match(await back2.text(), /You canceled the payment/);
      assert.equal(shop.orders[1]!.error, 'access_denied');
    });
  });
}
