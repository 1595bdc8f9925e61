import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeMastodon } from '../support/fake-mastodon.ts';
import { openWebWorld, type WebWorld } from './browser.ts';

const TAGPAY_TOKEN = 'tok_tagpay_0123456789';
const ALICE_TOKEN = 'tok_alice_0123456789';

/**
 * Signing in with Mastodon in Chromium: tagpay sends the browser to the shopper's server, the server
 * (a fake built from Mastodon's documented API; its user is "logged in" by a header) approves and
 * sends it back, and the page turns the proof into a session for alice@fake.social.
 */
describe('Mastodon sign-in (Chromium, fake server)', () => {
  let w: WebWorld;
  let fake: FakeMastodon;
  before(async () => {
    fake = await FakeMastodon.start('fake.social');
    fake.addAccount('tagpay', TAGPAY_TOKEN);
    fake.addAccount('alice', ALICE_TOKEN);
    w = await openWebWorld('pglite', {
      env: { TAGPAY_MASTODON_URL: fake.url, TAGPAY_MASTODON_TOKEN: TAGPAY_TOKEN },
    });
  });
  after(async () => {
    await w?.close();
    await fake?.close();
  });

  test('approve on the server, come back signed in as alice@fake.social', async () => {
    const page = w.page;
    // The person is logged in on their own server: only requests to it carry their token.
    await page.route(`${fake.url}/**`, (route) =>
      route.continue({
        headers: { ...route.request().headers(), authorization: `Bearer ${ALICE_TOKEN}` },
      }),
    );
    await page.goto('/signin');
    await page.getByRole('tab', { name: 'Mastodon' }).click();
    await page.getByLabel('Your Mastodon server').fill(fake.url);
    await page.getByRole('button', { name: 'Continue to your server' }).click();
    await page.getByRole('heading', { name: 'Set up tagpay' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/onboarding');
    assert.equal(new URL(page.url()).hash, '', 'the proof left the address bar');
    const session = await page.evaluate(() => fetch('/v1/session').then((r) => r.json()));
    assert.equal(session.network, 'mastodon');
    assert.equal(session.handle, 'alice@fake.social');
    await page.getByText(`Signed in as ${session.handle} on mastodon`).waitFor();
    await w.shot(page, 'mastodon-signed-in');
    assert.deepEqual(w.pageErrors, []);
  });

  test('a refusal on the server is said plainly, and nobody is signed in', async () => {
    const page = await w.newPerson();
    await page.goto('/signin');
    await page.getByRole('tab', { name: 'Mastodon' }).click();
    await page.getByLabel('Your Mastodon server').fill(fake.url);
    await page.getByRole('button', { name: 'Continue to your server' }).click();
    // Not logged in on the server: it answers access_denied; tagpay's callback sends the browser
    // back to the sign-in page, which says so.
    await page
      .getByRole('alert')
      .filter({ hasText: 'did not approve tagpay (access_denied)' })
      .waitFor();
    assert.equal(new URL(page.url()).pathname, '/signin/mastodon');
    assert.equal(new URL(page.url()).hash, '');
    const session = await page.evaluate(() => fetch('/v1/session').then((r) => r.json()));
    assert.equal(session.signed_in, false);
  });
});
