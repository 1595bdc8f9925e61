import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { ADMIN_KEY } from '../support/harness.ts';
import {
  assertLedgerBalanced,
  codeIn,
  post,
  repliesTo,
  setupWorld,
  type World,
} from '../support/world.ts';
import { openWebWorld, PHONE, type WebWorld } from './browser.ts';

/**
 * The wallet page in Chromium: balances, history with payments sent and received, claims pending
 * both ways, gift cards bought and redeemed, card-linked offers, and freezing the account.
 */
describe('wallet page (Chromium)', () => {
  let w: WebWorld;
  let world: World;
  let giftCode: string;

  /** A #pay by API, confirmed with the code e-mailed to the payer (a first payment between two). */
  async function pay(from: string, to: string, amount: string, memo: string): Promise<void> {
    const created = await w.h.request(
      'POST',
      '/v1/handle-payments',
      { from, to, amount, memo },
      ADMIN_KEY,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await w.h.app.settle();
    if (created.body.status === 'awaiting_confirmation') {
      const mail = await w.h.request(
        'GET',
        `/v1/mailbox?to=${from}@example.com`,
        undefined,
        ADMIN_KEY,
      );
      const message = mail.body.data.find((m: any) => m.subject.startsWith('Confirm: send'));
      assert.ok(message, JSON.stringify(mail.body));
      const confirmed = await w.h.request(
        'POST',
        `/v1/handle-payments/${created.body.id}/confirm`,
        { code: codeIn(message.text) },
        ADMIN_KEY,
        { 'idempotency-key': `confirm-${created.body.id}` },
      );
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    }
    await w.h.app.settle();
  }

  async function signIn(page: Page, handle: string): Promise<void> {
    await page.goto('/signin?next=/wallet');
    await page.getByLabel('Handle').fill(handle);
    await page.getByLabel('Account token').fill(world.accounts[handle]!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Wallet', exact: true }).waitFor();
  }

  before(async () => {
    w = await openWebWorld();
    world = await setupWorld(w.h);
    const key = world.merchant.api_key;
    // A gift card bob buys by post; its code goes to his e-mail.
    const gift = await w.h.request(
      'POST',
      '/v1/gift-card-offers',
      {
        title: 'Acme gift card',
        price: { amount: 1500, currency: 'USD' },
        value: 2500,
        quantity: 10,
        hashtag: 'AcmeGift',
      },
      key,
    );
    assert.equal(gift.status, 201, JSON.stringify(gift.body));
    await w.h.app.settle();
    const buy = await post(w.h, world.accounts.bob!, '#AcmeGift');
    await post(w.h, world.accounts.bob!, codeIn((await repliesTo(w.h, buy))[0]));
    await w.h.app.settle();
    const mail = await w.h.request('GET', '/v1/mailbox?to=bob@example.com', undefined, ADMIN_KEY);
    giftCode = /GC-[A-Z2-7-]+/.exec(mail.body.data.map((m: any) => m.text).join('\n'))![0];
    // Money by post (after the gift card, which his card paid while his wallet was empty): alice pays bob; bob sends carol (not linked: a claim) from his wallet.
    await pay('alice', 'bob', '$5', 'pizza');
    await pay('bob', 'carol', '$3', 'tickets');
    // A card-linked offer bob adds to his card.
    const save = await w.h.request(
      'POST',
      '/v1/card-offers',
      {
        title: 'Acme $10 back',
        hashtag: 'AcmeSave10',
        credit: { amount: 1000, currency: 'USD' },
        min_spend: { amount: 5000, currency: 'USD' },
        ends_at: new Date(w.h.clock.now() + 90 * 86_400_000).toISOString(),
        max_enrolments: 100,
      },
      key,
    );
    assert.equal(save.status, 201, JSON.stringify(save.body));
    await w.h.app.settle();
    await post(w.h, world.accounts.bob!, '#AcmeSave10');
    await w.h.app.settle();
  });
  after(() => w?.close());

  test('bob: balance, payments received and sent, a claim he sent, a gift card, a card-linked offer', async () => {
    const page = w.page;
    await signIn(page, 'bob');
    await page.getByText('$2.00', { exact: true }).waitFor();
    const received = page.getByRole('row').filter({ hasText: 'From @alice · pizza' });
    await received.getByText('+$5.00').waitFor();
    await received.getByText('Payment received').waitFor();
    const sent = page.getByRole('row').filter({ hasText: 'To @carol · tickets' });
    await sent.getByText('−$3.00').waitFor();
    await sent.getByText('Waiting for a claim').waitFor();
    const claims = page.getByRole('region', { name: 'Pending claims' });
    await claims.getByText('Sent, not claimed yet').waitFor();
    assert.match((await claims.textContent()) ?? '', /\$3\.00 to @carol · tickets/);
    const gifts = page.getByRole('region', { name: 'Gift cards' });
    await gifts.getByText('not redeemed').waitFor();
    assert.match((await gifts.textContent()) ?? '', /\$25\.00 · Acme gift card/);
    const offers = page.getByRole('region', { name: 'Card-linked offers' });
    await offers.getByText('Acme $10 back').waitFor();
    assert.match((await offers.textContent()) ?? '', /\$10\.00 back on \$50\.00 or more/);
    await w.shot(page, 'wallet-desktop');

    const phone = await w.newPerson(PHONE);
    await signIn(phone, 'bob');
    await phone.getByRole('row').filter({ hasText: 'From @alice' }).waitFor();
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `the wallet is ${width}px wide on a phone`);
    await w.shot(phone, 'wallet-phone');
  });

  test('carol, not linked: the money waiting for her to claim', async () => {
    const page = await w.newPerson();
    await signIn(page, 'carol');
    await page.getByText('has not linked a card yet').waitFor();
    const claims = page.getByRole('region', { name: 'Pending claims' });
    await claims.getByText('Waiting for you to claim').waitFor();
    assert.match((await claims.textContent()) ?? '', /\$3\.00 from @bob · tickets/);
    await claims.getByRole('link', { name: 'Link your handle to claim it' }).waitFor();
    await w.shot(page, 'wallet-claim');
  });

  test('alice: a wrong gift code is refused in plain words; the right one fills the balance; freeze', async () => {
    const page = await w.newPerson();
    await signIn(page, 'alice');
    const gifts = page.getByRole('region', { name: 'Gift cards' });
    await gifts.getByLabel('Gift card code').fill('GC-AAAA-BBBB-CCCC-DDDD');
    await gifts.getByRole('button', { name: 'Redeem' }).click();
    const refused = page.getByText('No gift card has this code. Check it and try again.');
    await refused.waitFor();
    assert.equal(await refused.count(), 1, 'the error is shown once');
    await gifts.getByLabel('Gift card code').fill(giftCode);
    await gifts.getByRole('button', { name: 'Redeem' }).click();
    await page.getByRole('status').filter({ hasText: 'Added $25.00 to your balance.' }).waitFor();
    await page.getByRole('region', { name: 'Balance' }).getByText('$25.00').waitFor();
    await page
      .getByRole('row')
      .filter({ hasText: 'Gift card redeemed' })
      .getByText('+$25.00')
      .waitFor();
    await page
      .getByRole('row')
      .filter({ hasText: 'To @bob · pizza' })
      .getByText('−$5.00')
      .waitFor();

    await page.getByRole('button', { name: 'Freeze my account' }).click();
    await page.getByRole('button', { name: 'Yes, freeze it' }).click();
    await page.getByRole('status').filter({ hasText: 'Your account is frozen' }).waitFor();
    await page.getByText('Frozen', { exact: true }).waitFor();
    await w.shot(page, 'wallet-frozen');
    const guard = await w.h.request('GET', '/v1/me/wallet', undefined, world.accounts.alice!.token);
    assert.ok(guard.body.frozen_at, JSON.stringify(guard.body));
    await assertLedgerBalanced(w.h);
    assert.deepEqual(w.pageErrors, []);
  });
});
