import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OWNERSHIP_PROOF_TTL_MS, REPLY_POST_ATTEMPTS_MAX } from '../src/core/limits.ts';
import { FakeMastodon, type FakeStatus } from './support/fake-mastodon.ts';
import { ADMIN_KEY, type Harness } from './support/harness.ts';
import { MASTODON_TOKENS, MastodonWorld } from './support/mastodon-world.ts';
import { CARDS, codeIn, createAccount, linkHandle } from './support/world.ts';

/**
 * Onboarding through the shopper's own account (Mastodon OAuth against the FAKE server in
 * support/fake-mastodon.ts, the local network's token), shoppers with handles on several networks,
 * codes bound to the network and handle they were sent to, and replies that fall back to e-mail.
 * Bluesky's onboarding is tested on a real PDS in tests/bluesky.test.ts.
 */

const ALICE_TOKEN = MASTODON_TOKENS.alice;
const BOB_TOKEN = MASTODON_TOKENS.bob;

const world = new MastodonWorld();

const start = () => world.start();

/**
 * The whole OAuth dance as a browser does it: tagpay's start answers the authorize URL, the user
 * (logged in on their server: here, their token) approves, the server redirects to tagpay's
 * callback with the code, and the callback answers the proof.
 */
async function mastodonProof(
  h: Harness,
  fake: FakeMastodon,
  userToken: string | null,
  returnTo?: string,
): Promise<{ status: number; body: any; location?: string }> {
  const startRes = await h.request('POST', '/v1/onboarding/mastodon', {
    server: fake.url,
    ...(returnTo !== undefined && { return_to: returnTo }),
  });
  assert.equal(startRes.status, 200, JSON.stringify(startRes.body));
  const authorize = new URL(startRes.body.authorize_url);
  assert.equal(authorize.origin, fake.url);
  assert.equal(authorize.pathname, '/oauth/authorize');
  assert.equal(authorize.searchParams.get('scope'), 'read:accounts');
  const approval = await fetch(authorize, {
    redirect: 'manual',
    headers: userToken === null ? {} : { authorization: `Bearer ${userToken}` },
  });
  assert.equal(approval.status, 302);
  const back = new URL(approval.headers.get('location')!);
  assert.equal(back.origin, 'http://tagpay.test', 'the server sends the browser back to tagpay');
  const res = await h.request('GET', back.pathname + back.search);
  return res;
}

async function cardToken(h: Harness, number = CARDS.ok): Promise<string> {
  const res = await h.request('POST', '/v1/sandbox/tokens', {
    number,
    exp_month: 12,
    exp_year: 2030,
    cvc: '123',
  });
  assert.equal(res.status, 201);
  return res.body.id;
}

async function linkWith(
  h: Harness,
  credential: string,
  network: string,
  handle: string,
): Promise<{ status: number; body: any }> {
  return h.request(
    'POST',
    '/v1/shoppers',
    {
      network,
      handle,
      email: `${handle.replace(/@.*$/, '')}@example.com`,
      shipping_address: {
        name: 'A',
        line1: '1 Main St',
        city: 'Springfield',
        postal_code: '12345',
        country: 'US',
      },
      card_token: await cardToken(h),
    },
    credential,
  );
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined | null | false>) =>
  world.waitFor(what, probe);

async function mailbox(h: Harness, to: string): Promise<{ subject: string; text: string }[]> {
  const res = await h.request(
    'GET',
    `/v1/mailbox?to=${encodeURIComponent(to)}`,
    undefined,
    ADMIN_KEY,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

/** A merchant on Mastodon with a live offer; answers its offer post. */
async function offerOnMastodon(h: Harness, fake: FakeMastodon): Promise<FakeStatus> {
  const m = await h.request(
    'POST',
    '/v1/merchants',
    { handle: 'acme', network: 'mastodon', name: 'Acme Goods' },
    ADMIN_KEY,
  );
  assert.equal(m.status, 201, JSON.stringify(m.body));
  const o = await h.request(
    'POST',
    '/v1/offers',
    {
      title: 'Acme Tee',
      price: { amount: 2500, currency: 'USD' },
      quantity: 10,
      hashtag: 'BuyTee',
    },
    m.body.api_key,
  );
  assert.equal(o.status, 201, JSON.stringify(o.body));
  const offerPost = await waitFor('the offer post', async () =>
    fake.statuses.find((s) => s.account.username === 'tagpay' && s.text.includes('#BuyTee')),
  );
  await waitFor('the hashtag stream', async () => fake.subscribedHashtags().includes('buytee'));
  return offerPost;
}

describe('Mastodon onboarding by OAuth (fake server)', () => {
  test('approve on the own server → proof → the handle links without the admin key; the app is registered once; the token is revoked', async () => {
    const { fake, h } = await start();
    const res = await mastodonProof(h, fake, ALICE_TOKEN);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.network, 'mastodon');
    assert.equal(res.body.account, 'alice@fake.social');
    assert.match(res.body.proof, /^own_/);
    assert.equal(fake.apps.size, 1);
    const [registered] = [...fake.apps.values()];
    assert.equal(registered!.redirect_uri, 'http://tagpay.test/v1/onboarding/mastodon/callback');
    assert.ok(
      [...fake.oauthTokens.values()].every((t) => t.revoked),
      'tagpay keeps no token of the shopper',
    );

    const linked = await linkWith(h, res.body.proof, 'mastodon', 'alice@fake.social');
    assert.equal(linked.status, 201, JSON.stringify(linked.body));
    assert.equal(linked.body.account, 'alice@fake.social');
    // The same proof cannot link someone else's handle.
    const other = await linkWith(h, res.body.proof, 'mastodon', 'bob@fake.social');
    assert.equal(other.status, 403, JSON.stringify(other.body));
    assert.equal(other.body.error.code, 'FORBIDDEN');
    const otherNetwork = await linkWith(h, res.body.proof, 'local', 'alice');
    assert.equal(otherNetwork.status, 403);

    // A second shopper of the same server: the registration is reused (cached in the database).
    const bob = await mastodonProof(h, fake, BOB_TOKEN);
    assert.equal(bob.status, 200, JSON.stringify(bob.body));
    assert.equal(bob.body.account, 'bob@fake.social');
    assert.equal(fake.apps.size, 1, 'one registration per server');
    assert.equal(fake.requests.filter((r) => r === 'POST /api/v1/apps').length, 1);
  });

  test('a refused approval, a forged or replayed state, a reused code, an altered or expired proof: nothing is proven', async () => {
    const { fake, h } = await start();
    const denied = await mastodonProof(h, fake, null);
    assert.equal(denied.status, 401, JSON.stringify(denied.body));
    assert.equal(denied.body.error.code, 'OWNERSHIP_NOT_PROVEN');

    // A code with a state tagpay did not sign.
    const forged = await h.request(
      'GET',
      '/v1/onboarding/mastodon/callback?code=code_1&state=st_eyJzIjoiaHR0cDovL2V2aWwifQ.AAAA',
    );
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, 'OWNERSHIP_NOT_PROVEN');

    // A code exchanged once is not exchanged again (the server refuses it).
    const startRes = await h.request('POST', '/v1/onboarding/mastodon', { server: fake.url });
    const approval = await fetch(startRes.body.authorize_url, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${ALICE_TOKEN}` },
    });
    const back = new URL(approval.headers.get('location')!);
    const first = await h.request('GET', back.pathname + back.search);
    assert.equal(first.status, 200);
    const again = await h.request('GET', back.pathname + back.search);
    assert.equal(again.status, 401, JSON.stringify(again.body));

    // An altered proof, and an expired one.
    const proof: string = first.body.proof;
    const altered = proof.slice(0, 10) + (proof[10] === 'A' ? 'B' : 'A') + proof.slice(11);
    const bad = await linkWith(h, altered, 'mastodon', 'alice@fake.social');
    assert.equal(bad.status, 401, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'PROOF_INVALID');
    h.clock.advance(OWNERSHIP_PROOF_TTL_MS + 1);
    const expired = await linkWith(h, proof, 'mastodon', 'alice@fake.social');
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, 'PROOF_INVALID');

    // A return_to outside tagpay is refused (no open redirect carrying a proof away).
    const away = await h.request('POST', '/v1/onboarding/mastodon', {
      server: fake.url,
      return_to: 'https://evil.example/steal',
    });
    assert.equal(away.status, 400);
  });

  test('with return_to, the callback redirects to the onboarding page with the proof in the fragment', async () => {
    const { fake, h } = await start();
    const res = await mastodonProof(h, fake, ALICE_TOKEN, 'http://tagpay.test/onboard');
    assert.equal(res.status, 303);
    // h.request does not expose headers: check through the app directly.
    const startRes = await h.request('POST', '/v1/onboarding/mastodon', {
      server: fake.url,
      return_to: 'http://tagpay.test/onboard',
    });
    const approval = await fetch(startRes.body.authorize_url, {
      redirect: 'manual',
      headers: { authorization: `Bearer ${ALICE_TOKEN}` },
    });
    const back = new URL(approval.headers.get('location')!);
    const { createHttpApp } = await import('../src/http/app.ts');
    const raw = await createHttpApp(h.app).request(back.pathname + back.search);
    assert.equal(raw.status, 303);
    const location = new URL(raw.headers.get('location')!);
    assert.equal(location.origin + location.pathname, 'http://tagpay.test/onboard');
    const fragment = new URLSearchParams(location.hash.slice(1));
    assert.equal(fragment.get('network'), 'mastodon');
    assert.equal(fragment.get('handle'), 'alice@fake.social');
    const linked = await linkWith(h, fragment.get('proof')!, 'mastodon', 'alice@fake.social');
    assert.equal(linked.status, 201, JSON.stringify(linked.body));
  });
});

describe('one shopper, several networks', () => {
  test('a local shopper adds a proven Mastodon handle; a code works only on the network and handle it was sent to', async () => {
    const { fake, h } = await start();
    const offerPost = await offerOnMastodon(h, fake);
    const local = await createAccount(h, 'alice');
    const localProof = await h.request('POST', '/v1/onboarding/local', undefined, local.token);
    assert.equal(localProof.status, 200, JSON.stringify(localProof.body));
    const shopper = await linkWith(h, localProof.body.proof, 'local', 'alice');
    assert.equal(shopper.status, 201, JSON.stringify(shopper.body));

    const mastodon = await mastodonProof(h, fake, ALICE_TOKEN);
    // Without a proof of the new handle, the shopper's own credential is not enough.
    const unproven = await h.request(
      'POST',
      `/v1/shoppers/${shopper.body.id}/handles`,
      { network: 'mastodon', handle: 'alice@fake.social' },
      local.token,
    );
    assert.equal(unproven.status, 401, JSON.stringify(unproven.body));
    assert.equal(unproven.body.error.code, 'OWNERSHIP_NOT_PROVEN');
    // Someone else's credential cannot add to this shopper (its id is not theirs).
    const bobLocal = await createAccount(h, 'bob');
    const intruder = await h.request(
      'POST',
      `/v1/shoppers/${shopper.body.id}/handles`,
      { network: 'mastodon', handle: 'alice@fake.social', proof: mastodon.body.proof },
      bobLocal.token,
    );
    assert.equal(intruder.status, 404, JSON.stringify(intruder.body));
    const added = await h.request(
      'POST',
      `/v1/shoppers/${shopper.body.id}/handles`,
      { network: 'mastodon', handle: 'alice@fake.social', proof: mastodon.body.proof },
      localProof.body.proof,
    );
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(
      added.body.handles.map((x: any) => `${x.network}:${x.account}`),
      ['local:alice', 'mastodon:alice@fake.social'],
    );
    // A handle of one shopper cannot be added to another.
    const bobShopper = await linkHandle(h, 'local', 'bob', CARDS.ok);
    assert.equal(bobShopper.status, 201);
    const taken = await h.request(
      'POST',
      `/v1/shoppers/${bobShopper.body.id}/handles`,
      { network: 'mastodon', handle: 'alice@fake.social' },
      ADMIN_KEY,
    );
    assert.equal(taken.status, 409, JSON.stringify(taken.body));
    assert.equal(taken.body.error.code, 'HANDLE_LINKED');

    // Alice buys on Mastodon: the shopper is known there, so the code comes at once.
    const buyPost = fake.post('alice', '#BuyTee', { replyTo: offerPost.id });
    const codeReply = await waitFor('the code reply', async () =>
      fake.repliesTo(buyPost.id).find((s) => s.account.username === 'tagpay'),
    );
    const code = codeIn(codeReply.text);
    // The same person posts the code from her local handle: refused (a code is bound to its handle).
    const localPost = await h.request('POST', '/v1/local/posts', { text: code }, local.token);
    assert.equal(localPost.status, 201);
    await h.app.settle();
    const pending = await h.request(
      'GET',
      '/v1/orders?handle=alice@fake.social',
      undefined,
      ADMIN_KEY,
    );
    assert.equal(pending.body.data[0].status, 'awaiting_confirmation');
    // From the Mastodon handle it was sent to: paid, from the one shopper's card.
    fake.post('alice', `@tagpay ${code}`, { replyTo: codeReply.id });
    const paid = await waitFor('the paid order', async () => {
      const res = await h.request(
        'GET',
        '/v1/orders?handle=alice@fake.social',
        undefined,
        ADMIN_KEY,
      );
      return res.body.data[0]?.status === 'paid' && res.body.data[0];
    });
    assert.equal(paid.shopper_id, shopper.body.id);

    // The handles survive a restart (state rebuilt from the tables).
    await h.restart();
    const after = await h.request(
      'GET',
      '/v1/shoppers/mastodon/alice@fake.social',
      undefined,
      ADMIN_KEY,
    );
    assert.equal(after.status, 200, JSON.stringify(after.body));
    assert.equal(after.body.id, shopper.body.id);
    assert.equal(after.body.handles.length, 2);
  });
});

describe('replies that cannot go out in time go by e-mail, once', () => {
  test('a rate limit longer than REPLY_EMAIL_FALLBACK_MS: the paid reply is e-mailed, never posted', async () => {
    const { fake, h } = await start();
    const offerPost = await offerOnMastodon(h, fake);
    assert.equal((await linkHandle(h, 'mastodon', 'alice', CARDS.ok)).status, 201);
    const buyPost = fake.post('alice', '#BuyTee', { replyTo: offerPost.id });
    const codeReply = await waitFor('the code reply', async () =>
      fake.repliesTo(buyPost.id).find((s) => s.account.username === 'tagpay'),
    );
    // The server rate-limits tagpay's account for 10 minutes from the next post on.
    fake.rateLimitNextPost(1, 10 * 60 * 1000);
    const confirm = fake.post('alice', `@tagpay ${codeIn(codeReply.text)}`, {
      replyTo: codeReply.id,
    });
    const mail = await waitFor('the e-mailed reply', async () =>
      (await mailbox(h, 'alice@example.com')).find((m) => m.subject.includes('reply on mastodon')),
    );
    assert.match(mail.text, /Paid/);
    for (let i = 0; i < 3; i++) {
      h.clock.advance(60_000);
      await h.app.settle();
    }
    const fallbacks = (await mailbox(h, 'alice@example.com')).filter((m) =>
      m.subject.includes('reply on mastodon'),
    );
    assert.equal(fallbacks.length, 1, 'once');
    assert.equal(
      fake.repliesTo(confirm.id).filter((s) => s.account.username === 'tagpay').length,
      0,
      'not posted late as well',
    );
  });

  test(`a network that keeps failing: after ${REPLY_POST_ATTEMPTS_MAX} attempts the reply goes by e-mail; an unlinked handle's reply is only retried`, async () => {
    const { fake, h } = await start();
    const offerPost = await offerOnMastodon(h, fake);
    assert.equal((await linkHandle(h, 'mastodon', 'alice', CARDS.ok)).status, 201);
    fake.failNextPosts(1_000);
    const cancel = fake.post('alice', '@tagpay #cancel');
    const bobBuy = fake.post('bob', '#BuyTee', { replyTo: offerPost.id });
    const tried = async (postId: string) =>
      (
        await h.app.db.query<{ attempts: number }>(
          'SELECT attempts FROM outbox WHERE kind = $1 AND body LIKE $2',
          ['post', `%"reply_to":"${postId}"%`],
        )
      ).rows[0]?.attempts ?? 0;
    await waitFor(
      'the first attempts',
      async () => (await tried(cancel.id)) > 0 && (await tried(bobBuy.id)) > 0,
    );
    for (let i = 0; i < 7; i++) {
      h.clock.advance(60_000);
      await h.app.settle();
    }
    assert.ok(
      (await tried(bobBuy.id)) > REPLY_POST_ATTEMPTS_MAX,
      "bob's reply is still being tried",
    );
    const fallbacks = (await mailbox(h, 'alice@example.com')).filter((m) =>
      m.subject.includes('reply on mastodon'),
    );
    assert.equal(fallbacks.length, 1);
    assert.match(fallbacks[0]!.text, /no pending checkout to cancel/);
    fake.failNextPosts(0);
    for (let i = 0; i < 3; i++) {
      h.clock.advance(10 * 60_000);
      await h.app.settle();
    }
    assert.equal(fake.repliesTo(cancel.id).length, 0, "alice's reply went by e-mail only");
    // Bob is not linked: no e-mail to send to, so his sign-up reply is retried until it posts.
    await waitFor("bob's sign-up reply", async () =>
      fake.repliesTo(bobBuy.id).find((s) => s.account.username === 'tagpay'),
    );
  });
});
