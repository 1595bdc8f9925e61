import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { post, setupWorld, type World } from '../support/world.ts';
import { openWebWorld, PHONE, type WebWorld } from './browser.ts';

/**
 * The local timeline in Chromium: sign in with a local account, post a buy hashtag, see tagpay's reply
 * arrive live (server-sent events), use the code it carries, see the order paid.
 */
describe('local timeline (Chromium)', () => {
  let w: WebWorld;
  let world: World;
  before(async () => {
    w = await openWebWorld();
    world = await setupWorld(w.h);
  });
  after(() => w?.close());

  test('sign in with the local account, buy by post, replies arrive live', async () => {
    const page = w.page;
    await page.goto('/signin?next=/');
    await page.getByLabel('Handle').fill('alice');
    await page.getByLabel('Account token').fill('lt_wrong_token_for_alice');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
    assert.equal(await page.getByLabel('Account token').getAttribute('aria-invalid'), 'true');
    await w.shot(page, 'signin-error');

    await page.getByLabel('Account token').fill(world.accounts.alice!.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Posting as').waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();

    await page.getByLabel('Post text').fill('#BuyAcmeTee M');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    // tagpay's reply arrives over the event stream, with no reload.
    const code = page.getByRole('button', { name: /^Put #TP[A-Z2-7]{10} in the post box$/ });
    await code.waitFor();
    await code.click();
    assert.match(await page.getByLabel('Post text').inputValue(), /^#TP[A-Z2-7]{10}$/);
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    await page.getByText(/^Paid: /).waitFor();
    // Hashtags and mentions are links.
    const tag = page.getByRole('link', { name: '#BuyAcmeTee' }).first();
    assert.equal(await tag.getAttribute('href'), '/tags/BuyAcmeTee');
    await w.shot(page, 'timeline-desktop');

    const orders = await w.h.request(
      'GET',
      '/v1/orders?handle=alice',
      undefined,
      world.merchant.api_key,
    );
    assert.equal(orders.body.data[0].status, 'paid');
    assert.deepEqual(w.pageErrors, []);
  });

  test('on a phone the timeline is one column and readable', async () => {
    const page = await w.newPerson(PHONE);
    await page.goto('/');
    await page.getByRole('link', { name: 'Sign in with a local account' }).waitFor();
    await page.getByText(/^Paid: /).waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `no sideways scrolling (page is ${width}px wide)`);
    await w.shot(page, 'timeline-phone');
  });

  test('a post carrying HTML is shown as text: no element of it runs or renders', async () => {
    const html = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>';
    await post(w.h, world.accounts.bob!, `look ${html} #hello @alice`);
    const page = await w.newPerson();
    await page.goto('/');
    // The post's own words appear as written, angle brackets and all.
    await page.getByText(html, { exact: false }).first().waitFor();
    assert.equal(await page.evaluate(() => (window as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('main img[src="x"], main b, main script').count(), 0);
    // Its hashtag and mention are still links.
    assert.equal(
      await page.getByRole('link', { name: '#hello' }).first().getAttribute('href'),
      '/tags/hello',
    );
    assert.deepEqual(w.pageErrors, []);
  });
});
