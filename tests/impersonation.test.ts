import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { lookalikeKey, looksAlike, skeleton } from '../src/engine/flows/lookalike.ts';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  codeIn,
  orders,
  post,
  repliesTo,
  setupWorld,
} from './support/world.ts';

describe('look-alikes (UTS #39 skeletons, case folded)', () => {
  test('confusable letters, digits, invisible characters and case tricks look alike', () => {
    for (const [a, b] of [
      ['BuyAcmeTee', 'BuyAcrneTee'], // rn for m
      ['BuyAcmeTee', 'BuyАcmeTee'], // Cyrillic А
      ['BuyAcmeTee', 'ＢuyAcmeTee'], // full-width Ｂ
      ['BuyAcmeTee', 'BuyAcme\u200bTee'], // zero-width space
      ['Sale1', 'Salel'],
      ['SaleI', 'Salel'], // capital i for small L
      ['Shop0', 'ShopO'],
    ])
      assert.ok(looksAlike(a!, b!), `${a} / ${b}`);
    assert.ok(
      !looksAlike('BuyAcmeTee', 'buyacmetee'),
      'the same tag, case aside, is not a look-alike',
    );
    assert.ok(!looksAlike('BuyAcmeTee', 'BuyAcmeTea'));
    assert.equal(skeleton('pаypаl'), skeleton('paypal'), 'Cyrillic а is a');
    assert.equal(lookalikeKey('ΒuyAcmeTee'), lookalikeKey('BuyAcmeTee'), 'Greek Β');
  });
});

for (const storage of storages()) {
  describe(`merchant impersonation (${storage})`, () => {
    let h: Harness;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await h.close();
    });

    test('offers of unverified merchants say so in the offer post and the replies, until verified', async () => {
      h = await openHarness(storage);
      const w = await setupWorld(h);
      const offerPosts = await h.app.local.listPosts({ author: 'acme', limit: 10 });
      assert.match(offerPosts[0]!.text, /Reply #BuyAcmeTee to buy.*Note: unverified merchant\.$/);
      const buy = await post(h, w.accounts.alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, buy))[0]!, /Note: unverified merchant\.$/);
      const me = await h.request('GET', '/v1/merchants/me', undefined, w.merchant.api_key);
      assert.equal(me.body.verified, false);

      const asMerchant = await h.request(
        'POST',
        `/v1/merchants/${w.merchant.id}/verify`,
        { verified: true },
        w.merchant.api_key,
      );
      assert.equal(asMerchant.status, 403, 'only the operator verifies');
      const verified = await h.request(
        'POST',
        `/v1/merchants/${w.merchant.id}/verify`,
        { verified: true },
        ADMIN_KEY,
      );
      assert.equal(verified.status, 200, JSON.stringify(verified.body));
      assert.equal(verified.body.verified, true);
      const o = await h.request(
        'POST',
        '/v1/offers',
        { title: 'Mug', price: { amount: 900, currency: 'USD' }, quantity: 5, hashtag: 'AcmeMug' },
        w.merchant.api_key,
      );
      assert.equal(o.status, 201, JSON.stringify(o.body));
      await h.app.settle();
      const latest = (await h.app.local.listPosts({ author: 'acme', limit: 1 }))[0]!;
      assert.match(latest.text, /#AcmeMug/);
      assert.doesNotMatch(latest.text, /unverified/);
      const buy2 = await post(h, w.accounts.bob!, '#AcmeMug');
      assert.doesNotMatch((await repliesTo(h, buy2))[0]!, /unverified/);
      codeIn((await repliesTo(h, buy2))[0]);
      const audit = await h.request(
        'GET',
        '/v1/audit?action=merchant.verified',
        undefined,
        ADMIN_KEY,
      );
      assert.equal(audit.body.data.length, 1);
    });

    test('look-alike hashtags of a live offer and look-alike merchant handles are refused; such posts are ignored', async () => {
      h = await openHarness(storage);
      const w = await setupWorld(h);
      const other = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'mallory', name: 'Mallory' },
        ADMIN_KEY,
      );
      assert.equal(other.status, 201);
      const offer = (hashtag: string, key = other.body.api_key) =>
        h.request(
          'POST',
          '/v1/offers',
          { title: 'Fake', price: { amount: 100, currency: 'USD' }, quantity: 1, hashtag },
          key,
        );
      for (const tag of ['BuyAcrneTee', 'BuyAcmeTee\u200b', 'BuyAcrneTEE']) {
        const res = await offer(tag);
        assert.ok([400, 409].includes(res.status), `${tag}: ${res.status}`);
        assert.ok(
          ['HASHTAG_LOOKALIKE', 'INVALID_HASHTAG', 'INVALID_REQUEST'].includes(res.body.error.code),
          `${tag}: ${res.body.error.code}`,
        );
      }
      const rn = await offer('BuyAcrneTee');
      assert.equal(rn.status, 409);
      assert.equal(rn.body.error.code, 'HASHTAG_LOOKALIKE');
      const caseTrick = await offer('BUYACMETEE');
      assert.equal(caseTrick.body.error.code, 'HASHTAG_TAKEN');
      const own = await offer('BuyAcrneTee', w.merchant.api_key);
      assert.equal(own.body.error.code, 'HASHTAG_LOOKALIKE', 'even from the same merchant');
      // Once the offer has ended, its look-alikes are free.
      await h.request('POST', `/v1/offers/${w.offer.id}/end`, {}, w.merchant.api_key);
      assert.equal((await offer('BuyAcrneTee')).status, 201);

      for (const handle of ['acrne', 'acmе' /* Cyrillic е */]) {
        const res = await h.request('POST', '/v1/merchants', { handle, name: 'Fake' }, ADMIN_KEY);
        assert.ok([400, 409].includes(res.status), `${handle}: ${res.status}`);
      }
      const rnHandle = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'acrne', name: 'Fake' },
        ADMIN_KEY,
      );
      assert.equal(rnHandle.body.error.code, 'HANDLE_LOOKALIKE');
    });

    test('posts with look-alikes of a live hashtag buy nothing and get no answer', async () => {
      h = await openHarness(storage);
      const w = await setupWorld(h);
      for (const text of [
        '#BuyAcrneTee M',
        '#BuyАcmeTee M',
        '#ＢuyAcmeTee M',
        '#BuyAcme\u200bTee M',
      ]) {
        const p = await post(h, w.accounts.alice!, text);
        assert.deepEqual(await repliesTo(h, p), [], text);
      }
      assert.deepEqual(await orders(h, 'alice'), []);
    });
  });
}
