import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { SampleShop } from '../../examples/sample-shop/shop.ts';
import { ADMIN_KEY } from '../support/harness.ts';
import { post, setupWorld, type World } from '../support/world.ts';
import { openWebWorld, PHONE, type WebWorld } from './browser.ts';

/**
 * Buy-now, cart checkout and pay with tagpay from the sample shop, in Chromium, with a screenshot
 * of each page (tests/screenshots/web/).
 */
describe('checkout pages (Chromium)', () => {
  let w: WebWorld;
  let world: World;
  before(async () => {
    w = await openWebWorld();
    world = await setupWorld(w.h);
    const mug = await w.h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Acme Mug',
        price: { amount: 1200, currency: 'USD' },
        quantity: 5,
        hashtag: 'AcmeMug',
      },
      world.merchant.api_key,
    );
    assert.equal(mug.status, 201);
    await w.h.app.settle();
  });
  after(() => w?.close());

  async function offerPost(hashtag: string): Promise<{ id: string; link: URL }> {
    const posts = await w.h.app.local.listPosts({ author: 'acme', limit: 100 });
    const found = posts.find((p) => p.text.includes(`#${hashtag}`))!;
    return { id: found.id, link: new URL(/Buy now: (\S+)/.exec(found.text)![1]!) };
  }

  async function signIn(page: Page, handle: string): Promise<void> {
    await page.locator('main').getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Handle').fill(handle);
    await page.getByLabel('Account token').fill(world.accounts[handle]!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  test('buy-now: the link from the offer post, sign in, one tap, paid; an altered link is refused', async () => {
    const { link } = await offerPost('BuyAcmeTee');
    const page = w.page;
    const altered = new URL(link);
    altered.searchParams.set('exp', String(Number(link.searchParams.get('exp')) + 60));
    const refused = await page.goto(altered.pathname + altered.search);
    assert.equal(refused?.status(), 403);
    await page.getByRole('heading', { name: 'This link is not valid' }).waitFor();
    await w.shot(page, 'buy-now-invalid-link');

    await page.goto(link.pathname + link.search);
    await page.getByRole('heading', { name: 'Acme Tee' }).waitFor();
    await signIn(page, 'alice');
    await page.getByRole('heading', { name: 'Acme Tee' }).waitFor();
    assert.equal(new URL(page.url()).pathname, link.pathname, 'back on the buy-now page');
    await page.getByRole('button', { name: 'Buy now — $25.00' }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose one of S, M, L' }).waitFor();
    await page.getByLabel('Option').selectOption('M');
    await page.getByLabel('Quantity').fill('2');
    await w.shot(page, 'buy-now');
    await page.getByRole('button', { name: 'Buy now — $50.00' }).click();
    await page.getByRole('status').filter({ hasText: 'Paid $50.00' }).waitFor();
    await w.shot(page, 'buy-now-paid');

    const orders = await w.h.request('GET', '/v1/orders?handle=alice', undefined, ADMIN_KEY);
    assert.equal(orders.body.data[0].status, 'paid');
    assert.equal(orders.body.data[0].quantity, 2);
    assert.deepEqual(w.pageErrors, []);
  });

  test('cart: #cart replies fill it; the cart page pays every item in one payment', async () => {
    const tee = await offerPost('BuyAcmeTee');
    const mug = await offerPost('AcmeMug');
    const bob = world.accounts.bob!;
    await post(w.h, bob, '#cart L', tee.id);
    await post(w.h, bob, '#cart x2', mug.id);
    const page = await w.newPerson(PHONE);
    await page.goto('/cart');
    await signIn(page, 'bob');
    await page.getByRole('heading', { name: 'Your cart' }).waitFor();
    await page.getByRole('row', { name: /Acme Mug/ }).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling (page is ${width}px wide)`);
    await w.shot(page, 'cart-phone');
    const charges = async () =>
      (await w.h.app.db.query('SELECT id FROM sandbox_charges')).rows.length;
    const before = await charges();
    await page.getByRole('button', { name: 'Pay $49.00' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Paid $49.00 from your card in one payment for 2 orders' })
      .waitFor();
    await page.getByText('Your cart is empty').waitFor();
    await w.shot(page, 'cart-paid-phone');
    assert.equal(await charges(), before + 1, 'one card charge for the whole cart');
    const orders = await w.h.request(
      'GET',
      '/v1/orders?handle=bob&status=paid',
      undefined,
      ADMIN_KEY,
    );
    assert.equal(orders.body.data.length, 2);
    assert.deepEqual(w.pageErrors, []);
  });

  test('cart on a desktop, paid from the wallet: no card charge, the wallet pays it all', async () => {
    const bob = world.accounts.bob!;
    const topUp = await w.h.request(
      'POST',
      '/v1/wallets/bob/top-ups',
      { network: 'local', amount: 3000, currency: 'USD' },
      ADMIN_KEY,
    );
    assert.equal(topUp.status, 202, JSON.stringify(topUp.body));
    await w.h.app.settle();
    await post(w.h, bob, '#cart x2', (await offerPost('AcmeMug')).id);
    const page = await w.newPerson();
    await page.goto('/cart');
    await signIn(page, 'bob');
    await page.getByRole('row', { name: /Acme Mug/ }).waitFor();
    await page.getByText('Your wallet: $30.00').waitFor();
    const fromWallet = page.getByRole('radio', { name: 'Wallet: $24.00' });
    assert.ok(await fromWallet.isChecked(), 'the wallet is offered first when it holds money');
    await w.shot(page, 'cart-desktop');
    const charges = async () =>
      (await w.h.app.db.query('SELECT id FROM sandbox_charges')).rows.length;
    const before = await charges();
    await page.getByRole('button', { name: 'Pay $24.00' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Paid $24.00 from your wallet in one payment for 1 order' })
      .waitFor();
    await w.h.app.settle();
    await w.shot(page, 'cart-wallet-paid-desktop');
    assert.equal(await charges(), before, 'the wallet paid it all: no card charge');
    const wallet = await w.h.request('GET', '/v1/wallets/bob?network=local', undefined, ADMIN_KEY);
    assert.deepEqual(
      wallet.body.balances.find((b: { currency: string }) => b.currency === 'USD').amount,
      600,
    );
    assert.deepEqual(w.pageErrors, []);
  });

  test('pay with tagpay from the sample shop: redirect, sign in, approve, back to the shop paid, webhook', async () => {
    const shop = new SampleShop({
      tagpayUrl: w.base,
      clientId: '',
      clientSecret: '',
      webhookSecret: world.merchant.webhook_secret,
      publicUrl: 'http://127.0.0.1:0',
      port: 0,
      now: w.h.clock.now,
    });
    const port = await shop.listen();
    try {
      const publicUrl = `http://127.0.0.1:${port}`;
      const reg = await w.h.request(
        'POST',
        '/v1/shop_clients',
        {
          name: 'Sample Shop',
          redirect_uris: [`${publicUrl}/callback`],
          webhook_url: `${publicUrl}/webhook`,
        },
        world.merchant.api_key,
      );
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      Object.assign(shop.options, {
        clientId: reg.body.id,
        clientSecret: reg.body.client_secret,
        publicUrl,
      });

      const page = await w.newPerson();
      await page.goto(publicUrl + '/');
      await w.shot(page, 'sample-shop');
      await page.getByRole('button', { name: 'Pay with tagpay' }).click();
      await page.getByRole('heading', { name: 'Pay with tagpay' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/oauth/authorize');
      await signIn(page, 'alice');
      await page.getByText('asks you to pay').waitFor();
      await page.getByText('ending 4242').waitFor();
      await w.shot(page, 'pay-with-tagpay-approve');
      await page.getByRole('button', { name: 'Pay $19.99' }).click();
      await page.getByRole('status').filter({ hasText: 'Paid $19.99 with tagpay' }).waitFor();
      assert.equal(new URL(page.url()).origin, publicUrl);
      await w.shot(page, 'sample-shop-paid');
      assert.equal(shop.orders.at(-1)!.payment!.status, 'paid');
      await w.h.app.settle();
      assert.ok(
        shop.webhooks.some((e) => e.type === 'payment.succeeded'),
        'the signed webhook reached the shop',
      );

      // Cancel: back at the shop, nothing paid.
      await page.goto(publicUrl + '/');
      await page.getByRole('button', { name: 'Pay with tagpay' }).click();
      await page.getByRole('button', { name: 'Cancel and go back to the shop' }).click();
      await page.getByText('You canceled the payment.').waitFor();
      assert.equal(shop.orders.at(-1)!.error, 'access_denied');

      // From the wallet: $10.00 in it, so the wallet pays first and the card only $9.99.
      const topUp = await w.h.request(
        'POST',
        '/v1/wallets/alice/top-ups',
        { amount: 1000, currency: 'USD' },
        ADMIN_KEY,
      );
      assert.equal(topUp.status, 202, JSON.stringify(topUp.body));
      await w.h.app.settle();
      const cardCharges = async () =>
        (
          await w.h.app.db.query<{ a: string }>(
            'SELECT amount_minor::text AS a FROM sandbox_charges ORDER BY amount_minor',
          )
        ).rows.map((r) => Number(r.a));
      const chargesBefore = await cardCharges();
      await page.goto(publicUrl + '/');
      await page.getByRole('button', { name: 'Pay with tagpay' }).click();
      await page.getByRole('group', { name: 'Pay from' }).waitFor();
      await page.getByText('Your wallet: $10.00').waitFor();
      const fromWallet = page.getByRole('radio', {
        name: 'Wallet $10.00, then $9.99 from your Visa card ending 4242',
      });
      await fromWallet.waitFor();
      assert.ok(await fromWallet.isChecked(), 'the wallet is offered first when it holds money');
      // The card alone can still be chosen, and back.
      await page.getByRole('radio', { name: /^Card: \$19\.99 from/ }).check();
      await fromWallet.check();
      await w.shot(page, 'pay-with-tagpay-wallet');
      await page.getByRole('button', { name: 'Pay $19.99' }).click();
      await page.getByRole('status').filter({ hasText: 'Paid $19.99 with tagpay' }).waitFor();
      await w.h.app.settle();
      const paid = shop.orders.at(-1)!.payment!;
      assert.equal(paid.status, 'paid');
      assert.deepEqual(
        (await cardCharges()).filter((a) => !chargesBefore.includes(a)),
        [999],
        'the card pays only what the wallet did not',
      );
      const wallet = await w.h.request('GET', '/v1/wallets/alice', undefined, ADMIN_KEY);
      assert.equal(wallet.body.balances[0].amount, 0);
      const stored = await w.h.request('GET', `/v1/payments/${paid.id}`, undefined, ADMIN_KEY);
      assert.deepEqual(
        [stored.body.pay_from, stored.body.wallet_amount, stored.body.card_amount],
        ['wallet', 1000, 999],
      );

      // A redirect URI that is not registered: an error page at tagpay, no redirect anywhere.
      const evil = new URL('/oauth/authorize', w.base);
      evil.search = new URLSearchParams({
        response_type: 'code',
        client_id: reg.body.id,
        redirect_uri: 'http://127.0.0.1:1/steal',
        state: 'x',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      }).toString();
      const res = await page.goto(evil.toString());
      assert.equal(res?.status(), 400);
      await page.getByText('not one this shop registered').waitFor();
      await w.shot(page, 'pay-with-tagpay-bad-redirect');
      assert.deepEqual(w.pageErrors, []);
    } finally {
      await shop.close();
    }
  });
});
