import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { parseMajor } from '../../src/web/app/money-input.ts';
import { ADMIN_KEY } from '../support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  linkShopper,
  setupWorld,
  type World,
} from '../support/world.ts';
import { openWebWorld, PHONE, type WebWorld } from './browser.ts';

/** Settle rounds at most while waiting for a page to show what the engine and outbox did. */
const SETTLE_ROUNDS_MAX = 100;

test('amounts typed in major units become exact minor units', () => {
  assert.equal(parseMajor('20', 'USD'), '2000');
  assert.equal(parseMajor('0.29', 'USD'), '29');
  assert.equal(parseMajor('$1,250.10', 'USD'), '125010');
  assert.equal(parseMajor('10,5', 'EUR'), '1050');
  assert.equal(parseMajor('1000', 'JPY'), '1000');
  assert.equal(parseMajor('10.999', 'USD'), null);
  assert.equal(parseMajor('1,250', 'USD'), null, 'ambiguous: a thousands or a decimal comma');
  assert.equal(parseMajor('-5', 'USD'), null);
  assert.equal(parseMajor('1e3', 'USD'), null);
  assert.equal(parseMajor('0', 'USD'), null);
  assert.equal(parseMajor('1.5', 'JPY'), null);
});

/**
 * The wallet's money panels in Chromium: a signed-in shopper tops up from the card, sends money to
 * another linked shopper (confirming with the e-mailed code), withdraws to the card, and sees the
 * balance after each; the session acts for its own wallet only; a claim link shows the money waiting.
 */
describe('wallet actions (Chromium)', () => {
  let w: WebWorld;
  let world: World;

  async function signIn(page: Page, handle: string, next = '/wallet'): Promise<void> {
    await page.goto(`/signin?next=${encodeURIComponent(next)}`);
    await page.getByLabel('Handle').fill(handle);
    await page.getByLabel('Account token').fill(world.accounts[handle]!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Waits for `what` while the engine and its outbox (the card processor's answers) run. */
  async function settledUntil(what: Locator): Promise<void> {
    for (let i = 0; i < SETTLE_ROUNDS_MAX && !(await what.isVisible()); i++) {
      await w.h.app.settle();
      await new Promise((r) => setImmediate(r));
    }
    await what.waitFor();
  }

  const balanceOf = async (handle: string) =>
    (await w.h.request('GET', `/v1/wallets/${handle}`, undefined, ADMIN_KEY)).body.balances.find(
      (b: { currency: string }) => b.currency === 'USD',
    )?.amount ?? 0;

  /** The code e-mailed to `handle` to confirm sending `what` (e.g. "$5.00 to @carol"). */
  async function codeMailedTo(handle: string, what: string): Promise<string> {
    const mail = await w.h.request(
      'GET',
      `/v1/mailbox?to=${handle}@example.com`,
      undefined,
      ADMIN_KEY,
    );
    const message = mail.body.data.find((m: any) => m.subject === `Confirm: send ${what}`);
    assert.ok(message, JSON.stringify(mail.body));
    return codeIn(message.text);
  }

  before(async () => {
    w = await openWebWorld();
    world = await setupWorld(w.h);
  });
  after(() => w?.close());

  test('alice tops up, sends bob money, withdraws, and sees her balance after each', async () => {
    const page = w.page;
    await signIn(page, 'alice');
    await page.getByRole('heading', { name: 'Top up', exact: true }).waitFor();

    const topUp = page.getByRole('region', { name: 'Top up' });
    await topUp.getByLabel('Amount to add').fill('20.00');
    await topUp.getByRole('button', { name: 'Top up from card' }).click();
    await settledUntil(topUp.getByText('Added $20.00 from your card. Your balance is now $20.00.'));
    assert.equal(await balanceOf('alice'), 2000);

    // A bad amount is refused beside its field, in plain words, and nothing is sent.
    const send = page.getByRole('region', { name: 'Send money' });
    await send.getByLabel('To', { exact: true }).fill('@bob');
    await send.getByLabel('Amount to send').fill('7.505');
    await send.getByRole('button', { name: 'Send money' }).click();
    await send.getByText('Enter an amount like 10 or 9.99, more than zero.').waitFor();

    // A first payment to bob asks for the code e-mailed to alice.
    await send.getByLabel('Amount to send').fill('7.50');
    await send.getByLabel('What for (optional)').fill('lunch');
    await send.getByRole('button', { name: 'Send money' }).click();
    await send.getByLabel('Confirmation code').waitFor();
    await w.h.app.settle();
    await send.getByLabel('Confirmation code').fill(await codeMailedTo('alice', '$7.50 to @bob'));
    await send.getByRole('button', { name: 'Confirm and send' }).click();
    await settledUntil(send.getByText('Sent $7.50 to @bob. Your balance is now $12.50.'));
    assert.equal(await balanceOf('alice'), 1250);
    assert.equal(await balanceOf('bob'), 750);

    // More than the wallet holds cannot be withdrawn; the stable code is said in plain words.
    const withdraw = page.getByRole('region', { name: 'Withdraw' });
    await withdraw.getByLabel('Amount to withdraw').fill('100');
    await withdraw.getByRole('button', { name: 'Withdraw to card' }).click();
    await withdraw.getByText('Your wallet does not hold that much in this currency.').waitFor();
    await withdraw.getByLabel('Amount to withdraw').fill('2.50');
    await withdraw.getByRole('button', { name: 'Withdraw to card' }).click();
    await settledUntil(withdraw.getByText('Sent $2.50 to your card. Your balance is now $10.00.'));
    assert.equal(await balanceOf('alice'), 1000);
    // The balance panel and the history show it too.
    await page.getByRole('region', { name: 'Balance' }).getByText('$10.00').waitFor();
    await page.getByRole('row').filter({ hasText: 'Withdrawal' }).getByText('−$2.50').waitFor();
    await w.shot(page, 'wallet-actions-desktop');

    const phone = await w.newPerson(PHONE);
    await signIn(phone, 'alice');
    await phone.getByRole('heading', { name: 'Send money', exact: true }).waitFor();
    const width = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `the wallet is ${width}px wide on a phone`);
    await w.shot(phone, 'wallet-actions-phone');
    await assertLedgerBalanced(w.h);
    assert.deepEqual(w.pageErrors, []);
  });

  test("alice's session acts for her own wallet only: bob's is refused", async () => {
    const page = w.page;
    // The page's own cookie and CSRF token, as a script on the page would send them.
    const session = await (await page.request.get('/v1/session')).json();
    assert.equal(session.handle, 'alice');
    const answers = [];
    for (const [path, body] of [
      ['/v1/wallets/bob/top-ups', { amount: 100, currency: 'USD' }],
      ['/v1/wallets/bob/withdrawals', { amount: 100, currency: 'USD' }],
      ['/v1/handle-payments', { from: 'bob', to: 'alice', amount: '$1' }],
    ] as const) {
      const r = await page.request.post(path, {
        headers: { 'x-csrf-token': session.csrf_token, 'idempotency-key': `cross-${path}` },
        data: body,
      });
      answers.push({ status: r.status(), code: (await r.json()).error?.code });
    }
    for (const a of answers) assert.deepEqual(a, { status: 403, code: 'FORBIDDEN' });
    assert.equal(await balanceOf('bob'), 750);
  });

  test('a top-up whose answer was lost is sent again with the same key and happens once', async () => {
    const page = w.page;
    await page.goto('/wallet');
    const keys: string[] = [];
    await page.route('**/v1/wallets/alice/top-ups', async (route) => {
      keys.push(route.request().headers()['idempotency-key']!);
      if (keys.length > 1) return route.continue();
      // tagpay gets the first one and acts; its answer never reaches the page.
      const answer = await route.fetch();
      assert.equal(answer.status(), 202, await answer.text());
      await route.abort('connectionreset');
    });
    const topUp = page.getByRole('region', { name: 'Top up' });
    await topUp.getByLabel('Amount to add').fill('5');
    await topUp.getByRole('button', { name: 'Top up from card' }).click();
    await topUp.getByText('tagpay could not be reached.', { exact: false }).waitFor();
    await topUp.getByRole('button', { name: 'Top up from card' }).click();
    await settledUntil(topUp.getByText('Added $5.00 from your card. Your balance is now $15.00.'));
    await page.unroute('**/v1/wallets/alice/top-ups');
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1], 'the retry carries the same Idempotency-Key');
    assert.equal(await balanceOf('alice'), 1500, 'topped up once');
  });

  test('a claim link shows the money waiting: the amount to its recipient only', async () => {
    const created = await w.h.request(
      'POST',
      '/v1/handle-payments',
      { from: 'alice', to: 'carol', amount: '$5', memo: 'tickets' },
      ADMIN_KEY,
      { 'idempotency-key': 'claim-carol' },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await w.h.app.settle();
    const confirmed = await w.h.request(
      'POST',
      `/v1/handle-payments/${created.body.id}/confirm`,
      { code: await codeMailedTo('alice', '$5.00 to @carol') },
      ADMIN_KEY,
      { 'idempotency-key': 'claim-carol-confirm' },
    );
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    const id = created.body.id as string;
    await w.h.app.settle();
    const held = await w.h.request('GET', `/v1/handle-payments/${id}`, undefined, ADMIN_KEY);
    assert.equal(held.body.status, 'pending_claim', JSON.stringify(held.body));

    const anonymous = await w.h.request('GET', `/v1/claims/${id}`);
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.body.from, { network: 'local', handle: 'alice' });
    assert.equal(anonymous.body.amount, null, 'the public link never shows the amount');
    const admin = await w.h.request('GET', `/v1/claims/${id}`, undefined, ADMIN_KEY);
    assert.equal(admin.body.amount, 500);
    assert.equal(admin.body.currency, 'USD');
    const unknown = await w.h.request('GET', '/v1/claims/hpm_doesnotexist');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');

    const link = `/signup?network=local&handle=carol&claim=${id}`;
    const visitor = await w.newPerson(PHONE);
    await visitor.goto(link);
    await visitor.getByText('@alice sent you money — link your account to claim it.').waitFor();
    await w.shot(visitor, 'claim-link-phone');

    const carol = await w.newPerson();
    await signIn(carol, 'carol', link);
    await carol.getByText('@alice sent you $5.00 — link your account to claim it.').waitFor();
    await carol.getByLabel('Ask me to approve purchases above').waitFor();
    await carol.getByLabel('Most per purchase').waitFor();
    assert.equal(
      await carol.getByLabel('Most per purchase').getAttribute('placeholder'),
      '$500.00',
    );
    await w.shot(carol, 'claim-link-desktop');
    assert.deepEqual(w.pageErrors, []);
  });

  test("onboarding shows a shopper's step-up threshold and the default limits", async () => {
    await linkShopper(w.h, world.accounts.erin!, CARDS.insufficient, {
      limits: { step_up_above: 15000, currency: 'USD' },
    });
    const erin = (await w.h.request('GET', '/v1/shoppers/local/erin', undefined, ADMIN_KEY)).body;
    assert.deepEqual(erin.limits, {
      per_purchase: null,
      per_day: null,
      step_up_above: 15000,
      currency: 'USD',
    });
    const page = await w.newPerson(PHONE);
    await signIn(page, 'erin', '/onboarding');
    const stepUp = page.getByLabel('Ask me to approve purchases above');
    await page.waitForFunction(
      () =>
        (document.querySelector('input[name="step_up_above"]') as HTMLInputElement | null)
          ?.value === '150.00',
    );
    assert.equal(await stepUp.inputValue(), '150.00');
    await page.getByText("Empty: $1,000.00, tagpay's default.").waitFor();
    await w.shot(page, 'onboarding-limits-phone');
  });

  test('the timeline shows how to pay, request, use the cart and cancel', async () => {
    const page = w.page;
    await page.goto('/');
    for (const example of ['#pay @bob $10 pizza', '#request @alice $10 lunch', '#cart', '#cancel'])
      await page.getByText(example, { exact: true }).first().waitFor();
    await w.shot(page, 'timeline-try-it-desktop');
  });
});
