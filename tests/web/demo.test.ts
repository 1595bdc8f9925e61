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
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    await page.getByText(/^Paid: Acme Tee \(L\)/).waitFor();

    await page.goto('/signin');
    await page.getByRole('button', { name: '@acme (merchant)' }).click();
    await page.getByRole('heading', { name: 'Acme Goods · dashboard' }).waitFor();
    await page.getByRole('row').filter({ hasText: '@alice' }).getByText('paid').waitFor();
    assert.deepEqual(w.pageErrors, []);
  });
});
