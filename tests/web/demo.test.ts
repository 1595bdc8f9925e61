import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedDemo } from '../../src/cli/demo.ts';
import { openWebWorld, type WebWorld } from './browser.ts';

/** The README's quick start in Chromium: demo mode, post as alice, confirm, see it in the dashboard. */
describe('demo mode (Chromium)', () => {
  let w: WebWorld;
  before(async () => {
    w = await openWebWorld('pglite', { env: { TAGPAY_DEMO: '1' } });
    assert.equal(await seedDemo(w.h.app), true);
    await w.h.app.settle();
  });
  after(() => w?.close());

  test('post as @alice from the timeline, confirm with the code, open the dashboard as @acme', async () => {
    const page = w.page;
    await page.goto('/');
    await page.getByRole('link', { name: '#BuyAcmeTee' }).first().waitFor();
    await page.getByLabel('Post as').selectOption('alice');
    await page.getByText('Posting as').waitFor();
    await page.getByLabel('Post text').fill('#BuyAcmeTee L');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    const use = page.getByRole('button', { name: /^Put #TP[A-Z2-7]{10} in the post box$/ });
    await use.waitFor();
    await use.click();
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    await page.getByText(/^Paid: Acme Tee \(L\)/).waitFor();

    await page.goto('/signin');
    await page.getByRole('button', { name: '@acme (merchant)' }).click();
    await page.getByRole('heading', { name: 'Acme Goods · dashboard' }).waitFor();
    await page.getByRole('row').filter({ hasText: '@alice' }).getByText('paid').waitFor();
    assert.deepEqual(w.pageErrors, []);
  });

  test('a new user verifies the e-mail from the demo mailbox, without the admin key', async () => {
    const page = await w.newPerson();
    await page.goto('/signin');
    await page.getByRole('button', { name: '@carol' }).click();
    await page.getByRole('heading', { name: 'Set up tagpay' }).waitFor();
    await page.getByLabel('E-mail address').fill('carol.new@example.com');
    await page.getByRole('button', { name: 'Send verification link' }).click();
    await page.getByText('We sent a link to carol.new@example.com').waitFor();
    await page.getByRole('link', { name: 'Open the demo mailbox' }).click();
    await page.getByRole('heading', { name: 'Demo mailbox' }).waitFor();
    const mail = page.getByRole('article').filter({ hasText: 'carol.new@example.com' }).first();
    const link = mail.getByRole('link', { name: /\/verify-email\?token=/ });
    await link.waitFor();
    await w.shot(page, 'demo-mailbox');
    await link.click();
    await page.getByText('carol.new@example.com is verified').waitFor();
    await page.getByRole('link', { name: 'Back to setting up tagpay' }).click();
    await page.getByText('Verified', { exact: true }).waitFor();

    // Another person's mail is not in their mailbox.
    const other = await w.newPerson();
    await other.goto('/signin');
    await other.getByRole('button', { name: '@dave' }).click();
    await other.getByRole('heading', { name: 'Set up tagpay' }).waitFor();
    await other.getByRole('link', { name: 'Mailbox', exact: true }).click();
    await other.getByRole('heading', { name: 'Demo mailbox' }).waitFor();
    await other
      .getByText(/dave@|No e-mail yet/)
      .first()
      .waitFor();
    assert.equal(await other.getByText('carol.new@example.com').count(), 0);
    assert.deepEqual(w.pageErrors, []);
  });
});
