import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN_KEY, webhookReceiver } from '../support/harness.ts';
import { assertLedgerBalanced, createAccount, type Account } from '../support/world.ts';
import { openWebWorld, PHONE, type WebWorld } from './browser.ts';

const CARD = '4242424242424242';

/**
 * The whole journey in Chromium, as people do it: a shopper signs in with the local network, adds a
 * card, verifies an e-mail by its link, links the handle; buys by post on the timeline; the merchant
 * sees the order in the dashboard, fulfils it, refunds it; the shopper's wallet shows the refund.
 */
describe('web journey: onboarding → buy by post → dashboard → refund → wallet (Chromium)', () => {
  let w: WebWorld;
  let zoe: Account;
  let merchantKey: string;
  let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
  let shopper: Page;
  let merchant: Page;
  before(async () => {
    w = await openWebWorld();
    hooks = await webhookReceiver();
    const m = await w.h.request(
      'POST',
      '/v1/merchants',
      { handle: 'acme', name: 'Acme Goods', webhook_url: hooks.url },
      ADMIN_KEY,
    );
    assert.equal(m.status, 201, JSON.stringify(m.body));
    merchantKey = m.body.api_key;
    const o = await w.h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Acme Tee',
        price: { amount: 2500, currency: 'USD' },
        quantity: 10,
        hashtag: 'BuyAcmeTee',
        variants: ['S', 'M', 'L'],
      },
      merchantKey,
    );
    assert.equal(o.status, 201, JSON.stringify(o.body));
    zoe = await createAccount(w.h, 'zoe');
    await w.h.app.settle();
    shopper = w.page;
  });
  after(async () => {
    await w?.close();
    await hooks?.close();
  });

  test('onboarding: sign in with the local network, card by token only, e-mail by link, address, limits', async () => {
    await shopper.goto('/onboarding');
    await shopper.getByRole('link', { name: 'Sign in' }).last().click();
    await shopper.getByLabel('Handle').fill('zoe');
    await shopper.getByLabel('Account token').fill(zoe.token);
    await shopper.getByRole('button', { name: 'Sign in' }).click();
    await shopper.getByRole('heading', { name: 'Set up tagpay' }).waitFor();

    // A wrong card number is refused in the form, clearly, next to the field.
    await shopper.getByLabel('Card number').fill('4242');
    await shopper.getByRole('button', { name: 'Add card' }).click();
    await shopper.getByText('A card number is 12 to 19 digits.').waitFor();
    assert.equal(await shopper.getByLabel('Card number').getAttribute('aria-invalid'), 'true');

    // The number goes to the tokenization endpoint and nowhere else.
    const sentTo: string[] = [];
    shopper.on('request', (r) => {
      if ((r.postData() ?? '').includes(CARD)) sentTo.push(new URL(r.url()).pathname);
    });
    await shopper.getByLabel('Card number').fill('4242 4242 4242 4242');
    await shopper.getByLabel('Expiry (MM/YY)').fill('12/30');
    await shopper.getByLabel('CVC').fill('123');
    await shopper.getByRole('button', { name: 'Add card' }).click();
    await shopper.getByText('ending in').first().waitFor();
    assert.deepEqual(sentTo, ['/v1/sandbox/tokens']);
    // No card number in any page state after tokenization: the DOM, form values, storage, the URL.
    const state = await shopper.evaluate(() => {
      const values = Array.from(document.querySelectorAll('input'), (i) => i.value).join(' ');
      return [
        document.documentElement.outerHTML,
        values,
        JSON.stringify({ ...localStorage }),
        JSON.stringify({ ...sessionStorage }),
        location.href,
        document.cookie,
      ].join('\n');
    });
    assert.ok(!state.includes(CARD) && !state.includes('4242 4242'), 'the card number is gone');
    await w.shot(shopper, 'onboarding-card-added');
    // A reload keeps the card (its token, brand and last four), never its number.
    await shopper.reload();
    await shopper.getByText('Visa ending in 4242').waitFor();
    const stored = await shopper.evaluate(() => JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(CARD) && stored.includes('4242'), stored);
    // Outside demo mode there is no demo mailbox.
    assert.equal(await shopper.getByText('Open the demo mailbox').count(), 0);
    assert.equal(await shopper.getByRole('link', { name: 'Mailbox' }).count(), 0);

    // E-mail: linking before the address is verified is refused, clearly.
    await shopper.getByLabel('E-mail address').fill('zoe@example.com');
    await shopper.getByLabel('Full name').fill('Zoe Example');
    await shopper.getByLabel('Address', { exact: true }).fill('1 Main St');
    await shopper.getByLabel('City').fill('Springfield');
    await shopper.getByLabel('Postal code').fill('12345');
    await shopper.getByLabel('Most per purchase').fill('100');
    await shopper.getByLabel('Most per day').fill('50');
    await shopper.getByRole('button', { name: 'Link my handle' }).click();
    await shopper.getByText('Verify this e-mail address').waitFor();
    await shopper
      .getByText('The per-purchase limit cannot be more than the daily limit.')
      .waitFor();
    // Each error once, beside its field, and the first field in error has the focus.
    assert.equal(await shopper.getByText('Verify this e-mail address').count(), 1);
    assert.equal(
      await shopper
        .getByText('The per-purchase limit cannot be more than the daily limit.')
        .count(),
      1,
    );
    assert.equal(
      await shopper.getByLabel('Most per purchase').getAttribute('aria-invalid'),
      'true',
    );
    assert.equal(
      await shopper.evaluate(() => document.activeElement?.getAttribute('name')),
      'email',
    );
    // An error the API answers (a malformed address) is shown once, in plain words, by its field.
    await shopper.getByLabel('E-mail address').fill('zoe@example..com');
    await shopper.getByRole('button', { name: 'Send verification link' }).click();
    await shopper.getByText('Enter an e-mail address like you@example.com.').waitFor();
    assert.equal(
      await shopper.getByText('Enter an e-mail address like you@example.com.').count(),
      1,
    );
    assert.equal(await shopper.getByText(/Invalid email|email:/).count(), 0, 'no raw API text');
    await shopper.getByLabel('E-mail address').fill('zoe@example.com');
    await w.shot(shopper, 'onboarding-errors');
    await shopper.getByLabel('Most per day').fill('300');

    await shopper.getByRole('button', { name: 'Send verification link' }).click();
    await shopper.getByText('We sent a link to zoe@example.com').waitFor();
    await w.h.app.settle();
    const mail = await w.h.request('GET', '/v1/mailbox?to=zoe@example.com', undefined, ADMIN_KEY);
    const message = mail.body.data.find((m: any) => m.subject.includes('Verify'));
    assert.ok(message, JSON.stringify(mail.body));
    const link = /(http\S+\/verify-email\?token=\S+)/.exec(message.text)![1]!;
    assert.ok(link.startsWith(w.base), link);
    const tab = await w.context.newPage();
    await tab.goto(link);
    await tab.getByText('zoe@example.com is verified').waitFor();
    assert.equal(new URL(tab.url()).search, '', 'the token left the address bar');
    await tab.close();
    await shopper.getByRole('button', { name: 'I opened the link' }).click();
    await shopper.getByText('Verified', { exact: true }).waitFor();

    await shopper.getByRole('button', { name: 'Link my handle' }).click();
    await shopper.getByText('Linked @zoe to your Visa ending in 4242').waitFor();
    await w.shot(shopper, 'onboarding-done');
    const profile = await w.h.request('GET', '/v1/shoppers/local/zoe', undefined, ADMIN_KEY);
    assert.equal(profile.status, 200);
    assert.equal(profile.body.email, 'zoe@example.com');
    assert.equal(profile.body.card.last4, '4242');
    assert.deepEqual(profile.body.limits, {
      per_purchase: 10000,
      per_day: 30000,
      currency: 'USD',
      step_up_above: null,
    });
  });

  test('buying by post on the local timeline', async () => {
    await shopper.getByRole('link', { name: 'Timeline' }).click();
    await shopper.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await shopper.getByLabel('Post text').fill('#BuyAcmeTee M');
    await shopper.getByRole('button', { name: 'Post', exact: true }).click();
    const use = shopper.getByRole('button', { name: /^Put #TP[A-Z2-7]{10} in the post box$/ });
    await use.waitFor();
    await use.click();
    await shopper.getByText(/^Replying to @tagpay/).waitFor();
    await shopper.getByRole('button', { name: 'Reply', exact: true }).click();
    await shopper.getByText(/^Paid: Acme Tee \(M\)/).waitFor();
    // One thread, in time order: the hashtag post, the code, the confirmation, then "Paid".
    const thread = shopper.locator('ol.posts > li').filter({ hasText: 'Paid: Acme Tee (M)' });
    const texts = await thread.locator('article .text').allTextContents();
    const at = (re: RegExp) => texts.findIndex((t) => re.test(t));
    assert.ok(at(/^#BuyAcmeTee M$/) === 0, texts.join(' | '));
    assert.ok(at(/reply with #TP/) < at(/^#TP[A-Z2-7]{10}$/), texts.join(' | '));
    assert.ok(at(/^#TP[A-Z2-7]{10}$/) < at(/^Paid: /), texts.join(' | '));
    await thread.getByText('replying to @tagpay').waitFor();

    // A post refused by a limit (5 × $25.00 is over zoe's $100.00 per purchase) is answered, and the
    // funnel counts it as a hashtag post.
    await shopper.getByLabel('Post text').fill('#BuyAcmeTee S x5');
    await shopper.getByRole('button', { name: 'Post', exact: true }).click();
    await shopper.getByText(/per-purchase limit of \$100\.00/).waitFor();
    await w.shot(shopper, 'timeline');
  });

  test('the order in the merchant dashboard: live funnel, fulfil, refund', async () => {
    merchant = await w.newPerson();
    await merchant.goto('/merchant');
    await merchant.getByRole('link', { name: 'Sign in' }).last().click();
    await merchant.getByLabel('Merchant API key').fill('sk_not_a_key');
    await merchant.getByRole('button', { name: 'Open the dashboard' }).click();
    await merchant.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
    await merchant.getByLabel('Merchant API key').fill(merchantKey);
    await merchant.getByRole('button', { name: 'Open the dashboard' }).click();
    await merchant.getByRole('heading', { name: 'Acme Goods · dashboard' }).waitFor();
    const row = merchant.getByRole('row').filter({ hasText: '@zoe' });
    await row.getByText('paid', { exact: true }).waitFor();

    await row.getByRole('button', { name: /^Fulfil / }).click();
    await merchant.getByLabel('Carrier (optional)').fill('UPS');
    await merchant.getByLabel('Tracking number (optional)').fill('1Z999');
    await merchant.getByRole('button', { name: 'Mark shipped' }).click();
    await row.getByText('shipped · UPS 1Z999').waitFor();

    // A new offer priced over a thousand dollars: money with thousands separators.
    await merchant.getByRole('button', { name: 'New offer' }).click();
    await merchant.getByLabel('Title').fill('Acme Jacket');
    await merchant.getByLabel('Price (USD)').fill('1025');
    await merchant.getByLabel('Units on sale').fill('3');
    await merchant.getByLabel('Hashtag').fill('AcmeJacket');
    await merchant.getByRole('button', { name: 'Create offer' }).click();
    const jacket = merchant.getByRole('row').filter({ hasText: 'Acme Jacket' });
    await jacket.getByText('$1,025.00').waitFor();
    // Nothing left of an offer on sale: "sold out", not "live".
    const tee = merchant.getByRole('row').filter({ hasText: '#BuyAcmeTee' });
    await tee.getByRole('button', { name: 'Edit Acme Tee' }).click();
    await merchant.getByLabel('Units on sale').fill('1');
    await merchant.getByRole('button', { name: 'Save' }).click();
    await tee.getByText('sold out', { exact: true }).waitFor();
    assert.equal(await tee.getByText('live', { exact: true }).count(), 0);
    // The site's navigation reaches the cart.
    assert.equal(
      await merchant
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Cart' })
        .getAttribute('href'),
      '/cart',
    );
    await w.shot(merchant, 'dashboard');

    await merchant.getByRole('link', { name: 'Acme Tee' }).first().click();
    await merchant.getByRole('heading', { name: /Funnel/ }).waitFor();
    const funnel = merchant.locator('#funnel-desc');
    await funnel.filter({ hasText: 'Paid: 1' }).waitFor({ state: 'attached' });
    // Two hashtag posts: the purchase and the one the per-purchase limit refused.
    assert.match(
      (await funnel.textContent()) ?? '',
      /Hashtag posts: 2, Checkouts: 1, Confirmed: 1, Paid: 1, Refunded: 0/,
    );
    await merchant.getByText('sold out', { exact: true }).first().waitFor();
    await w.shot(merchant, 'offer-funnel');

    const orderRow = merchant.getByRole('row').filter({ hasText: '@zoe' });
    await orderRow.getByRole('button', { name: /^Refund ord_/ }).click();
    await orderRow.getByRole('button', { name: 'Refund $25.00' }).click();
    await merchant.getByText('Refund of $25.00 to @zoe started.').waitFor();
    await orderRow.getByText('refunded', { exact: true }).waitFor();
    await funnel.filter({ hasText: 'Refunded: 1' }).waitFor({ state: 'attached' });
    await w.shot(merchant, 'offer-funnel-refunded');

    await w.h.app.settle();
    const types = hooks.received.map((r) => JSON.parse(r.body).type);
    assert.ok(types.includes('order.paid') && types.includes('order.refunded'), types.join());
    await assertLedgerBalanced(w.h);
  });

  test('the wallet history shows the order and its refund', async () => {
    await shopper.getByRole('link', { name: 'Wallet' }).click();
    const order = shopper.getByRole('row').filter({ hasText: 'shipped by UPS, tracking 1Z999' });
    await order.getByText('Refunded').waitFor();
    assert.match((await order.textContent()) ?? '', /Acme Tee \(M\)/);
    assert.match((await order.textContent()) ?? '', /−\$25\.00/);
    const refund = shopper.getByRole('row').filter({ hasText: 'Refund: Acme Tee (M)' });
    await refund.waitFor();
    assert.match((await refund.textContent()) ?? '', /\+\$25\.00/);
    await w.shot(shopper, 'wallet');
  });

  test('phone layouts: no sideways scrolling on the main pages', async () => {
    const phone = await w.newPerson(PHONE);
    await phone.goto('/signin');
    await phone.getByLabel('Handle').fill('zoe');
    await phone.getByLabel('Account token').fill(zoe.token);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.getByRole('heading', { name: 'Set up tagpay' }).waitFor();
    for (const [path, name, ready] of [
      ['/onboarding', 'phone-onboarding', 'Card'],
      ['/wallet', 'phone-wallet', 'History'],
      ['/', 'phone-timeline', 'Try it'],
      ['/cart', 'phone-cart', 'Your cart'],
    ] as const) {
      await phone.goto(path);
      await phone.getByRole('heading', { name: ready }).waitFor();
      const width = await phone.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `${path} is ${width}px wide on a phone`);
      await w.shot(phone, name);
    }
    const dash = await w.newPerson(PHONE);
    await dash.goto('/signin?as=merchant');
    await dash.getByLabel('Merchant API key').fill(merchantKey);
    await dash.getByRole('button', { name: 'Open the dashboard' }).click();
    await dash.getByRole('heading', { name: 'Orders' }).waitFor();
    await w.shot(dash, 'phone-dashboard');
    // The funnel on a phone: its labels are the page's text size, not a scaled-down drawing.
    await dash.getByRole('link', { name: 'Acme Tee' }).first().click();
    await dash.getByRole('heading', { name: /Funnel/ }).waitFor();
    const sizes = await dash.evaluate(() =>
      Array.from(document.querySelectorAll('.funnel-label, .funnel-value'), (e) =>
        parseFloat(getComputedStyle(e).fontSize),
      ),
    );
    assert.ok(sizes.length === 10 && sizes.every((px) => px >= 14), sizes.join());
    const dashWidth = await dash.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(dashWidth <= PHONE.width, `the offer page is ${dashWidth}px wide on a phone`);
    await w.shot(dash, 'phone-offer-funnel');
    assert.deepEqual(w.pageErrors, []);
  });

  test('keyboard: a skip link first, then the navigation', async () => {
    const page = await w.newPerson();
    await page.goto('/');
    await page.getByRole('heading', { name: 'Try it' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  });
});
