import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_KEY, openHarness, storages, type Harness } from '../support/harness.ts';
import {
  assertLedgerBalanced,
  codeIn,
  createAccount,
  post,
  repliesTo,
  setupWorld,
  type World,
} from '../support/world.ts';

/** What the pages read and change beyond the core API: edits, funnel, waitlist, fulfilment, e-mail. */
for (const storage of storages()) {
  describe(`web data routes (${storage})`, () => {
    let h: Harness;
    let w: World;
    let key: string;
    let paidOrder: string;
    before(async () => {
      h = await openHarness(storage);
      w = await setupWorld(h, { quantity: 2 });
      key = w.merchant.api_key;
      const buy = await post(h, w.accounts.alice!, '#BuyAcmeTee M');
      await post(h, w.accounts.alice!, codeIn((await repliesTo(h, buy))[0]));
      const orders = await h.request('GET', '/v1/orders?handle=alice', undefined, key);
      paidOrder = orders.body.data[0].id;
      assert.equal(orders.body.data[0].status, 'paid');
    });
    after(() => h.close());

    test('an offer edit changes title, units and cap; never below what is sold or reserved', async () => {
      const below = await h.request('POST', `/v1/offers/${w.offer.id}`, { quantity: 0 }, key);
      assert.equal(below.status, 400);
      const sold = await h.request('POST', `/v1/offers/${w.offer.id}`, { quantity: 1 }, key);
      assert.equal(sold.status, 200, 'one unit is sold: 1 is allowed');
      // Now sold out: bob's post puts him on the waitlist.
      await post(h, w.accounts.bob!, '#BuyAcmeTee S');
      const wait = await h.request('GET', `/v1/offers/${w.offer.id}/waitlist`, undefined, key);
      assert.equal(wait.status, 200);
      assert.deepEqual(
        wait.body.data.map((x: any) => [x.handle, x.variant, x.status]),
        [['bob', 'S', 'waiting']],
      );
      const edited = await h.request(
        'POST',
        `/v1/offers/${w.offer.id}`,
        { title: 'Acme Tee 2', quantity: 3, per_buyer_max: 1 },
        key,
      );
      assert.equal(edited.status, 200, JSON.stringify(edited.body));
      assert.equal(edited.body.title, 'Acme Tee 2');
      assert.equal(edited.body.quantity, 3);
      assert.equal(edited.body.per_buyer_max, 1);
      await h.app.settle();
      // Units added to a live offer serve the waitlist first: bob got a code.
      const bobOrders = await h.request('GET', '/v1/orders?handle=bob', undefined, key);
      assert.equal(bobOrders.body.data[0]?.status, 'awaiting_confirmation');
      // The edit survives a restart (persisted, reloaded).
      await h.restart();
      const again = await h.request('GET', `/v1/offers/${w.offer.id}`, undefined, key);
      assert.equal(again.body.title, 'Acme Tee 2');
      assert.equal(again.body.available, 3 - 1 - 1);
      const other = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'other', name: 'Other' },
        ADMIN_KEY,
      );
      const foreign = await h.request(
        'POST',
        `/v1/offers/${w.offer.id}`,
        { title: 'mine' },
        other.body.api_key,
      );
      assert.equal(foreign.status, 404);
      const bad = await h.request('POST', `/v1/offers/${w.offer.id}`, { title: '' }, key);
      assert.equal(bad.status, 400);
    });

    test('the funnel counts posts (refused ones too), checkouts, confirmations, payments and refunds', async () => {
      const first = await h.request('GET', `/v1/offers/${w.offer.id}/funnel`, undefined, key);
      assert.equal(first.body.hashtag_posts, 2, 'alice, bob (waitlist, then served)');
      // Refused posts are hashtag posts too: over the per-buyer cap of 1, and a handle not linked.
      const over = await post(h, w.accounts.alice!, '#BuyAcmeTee S x2');
      assert.equal((await repliesTo(h, over)).length, 1, 'the refusal is answered');
      await post(h, await createAccount(h, 'gina'), '#BuyAcmeTee L');
      // Not purchases of this offer: another command naming it, and the merchant's own post.
      await post(h, w.accounts.alice!, '#cart #BuyAcmeTee M');
      const f = await h.request('GET', `/v1/offers/${w.offer.id}/funnel`, undefined, key);
      assert.equal(f.status, 200);
      assert.equal(f.body.hashtag_posts, 4, JSON.stringify(f.body));
      assert.equal(f.body.checkouts, 3, 'alice, bob, and gina waiting for sign-up');
      assert.equal(f.body.confirmed, 1);
      assert.equal(f.body.paid, 1);
      assert.equal(f.body.refunded, 0);
      assert.deepEqual(f.body.revenue, [{ day: '2026-11-26', paid: 2500, refunded: 0 }]);
      // The count is the engine's, kept with the offer: a restart neither loses nor recounts it.
      await h.restart();
      const kept = await h.request('GET', `/v1/offers/${w.offer.id}/funnel`, undefined, key);
      assert.equal(kept.body.hashtag_posts, 4, JSON.stringify(kept.body));
      const none = await h.request('GET', '/v1/offers/ofr_nope/funnel', undefined, key);
      assert.equal(none.status, 404);
      const anon = await h.request('GET', `/v1/offers/${w.offer.id}/funnel`);
      assert.equal(anon.status, 401);
    });

    test('fulfilment: once, paid orders only, the merchant own only', async () => {
      const first = await h.request(
        'POST',
        `/v1/orders/${paidOrder}/fulfilment`,
        { carrier: 'UPS', tracking: '1Z' },
        key,
      );
      assert.equal(first.status, 200);
      assert.equal(first.body.carrier, 'UPS');
      const again = await h.request(
        'POST',
        `/v1/orders/${paidOrder}/fulfilment`,
        { carrier: 'DHL' },
        key,
      );
      assert.equal(again.body.carrier, 'UPS', 'the first record stays');
      const bobOrder = (await h.request('GET', '/v1/orders?handle=bob', undefined, key)).body
        .data[0].id;
      const unpaid = await h.request('POST', `/v1/orders/${bobOrder}/fulfilment`, {}, key);
      assert.equal(unpaid.status, 409);
      assert.equal(unpaid.body.error.code, 'ORDER_NOT_FULFILLABLE');
      const list = await h.request('GET', '/v1/fulfilments', undefined, key);
      assert.deepEqual(
        list.body.data.map((x: any) => x.order_id),
        [paidOrder],
      );
    });

    test("the wallet page's data: the caller's own; the demo mailbox is off outside demo mode", async () => {
      const mine = await h.request('GET', '/v1/me/wallet', undefined, w.accounts.alice!.token);
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      assert.equal(mine.body.linked, true);
      assert.equal(mine.body.frozen_at, null);
      assert.deepEqual(mine.body.claims, { sent: [], to_claim: [] });
      const carol = await h.request('GET', '/v1/me/wallet', undefined, w.accounts.carol!.token);
      assert.equal(carol.body.linked, false);
      const merchant = await h.request('GET', '/v1/me/wallet', undefined, key);
      assert.ok([401, 403].includes(merchant.status), JSON.stringify(merchant.body));
      assert.equal((await h.request('GET', '/v1/me/wallet')).status, 401);
      const mailbox = await h.request(
        'GET',
        '/v1/demo/mailbox',
        undefined,
        w.accounts.alice!.token,
      );
      assert.equal(mailbox.status, 404);
      const session = await h.request('GET', '/v1/session');
      assert.equal(session.body.demo_mailbox, false);
    });

    test("a shopper's own orders, by local token; nobody else's", async () => {
      const mine = await h.request('GET', '/v1/me/orders', undefined, w.accounts.alice!.token);
      assert.equal(mine.status, 200);
      assert.deepEqual(
        mine.body.data.map((o: any) => [o.id, o.offer_title, o.fulfilment?.carrier]),
        [[paidOrder, 'Acme Tee 2', 'UPS']],
      );
      const carol = await h.request('GET', '/v1/me/orders', undefined, w.accounts.carol!.token);
      assert.deepEqual(carol.body.data, []);
      const anon = await h.request('GET', '/v1/me/orders');
      assert.equal(anon.status, 401);
      const merchant = await h.request('GET', '/v1/me/orders', undefined, key);
      assert.equal(merchant.status, 403);
    });

    test("a shopper's card-linked offers: enrolled by posting the hashtag, nobody else's", async () => {
      const created = await h.request(
        'POST',
        '/v1/card-offers',
        {
          title: '$10 off $50 at Acme',
          hashtag: 'AcmeSave10',
          credit: { amount: 1000, currency: 'USD' },
          min_spend: { amount: 5000, currency: 'USD' },
          ends_at: '2027-12-31T23:59:59Z',
          max_enrolments: 10,
        },
        key,
      );
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await post(h, w.accounts.alice!, '#AcmeSave10');
      const mine = await h.request('GET', '/v1/me/card-offers', undefined, w.accounts.alice!.token);
      assert.equal(mine.status, 200);
      assert.deepEqual(
        mine.body.enrolments.map((e: any) => [e.title, e.credit, e.min_spend, e.currency]),
        [['$10 off $50 at Acme', 1000, 5000, 'USD']],
      );
      assert.deepEqual(mine.body.credits, []);
      const bob = await h.request('GET', '/v1/me/card-offers', undefined, w.accounts.bob!.token);
      assert.deepEqual(bob.body.enrolments, []);
    });

    test('e-mail verification: a link for the address, a forged or altered link does nothing', async () => {
      const carol = w.accounts.carol!.token;
      const sent = await h.request(
        'POST',
        '/v1/email/verifications',
        { email: 'Carol@Example.com' },
        carol,
      );
      assert.equal(sent.status, 202);
      await h.app.settle();
      const mail = await h.request('GET', '/v1/mailbox?to=carol@example.com', undefined, ADMIN_KEY);
      const text: string = mail.body.data.find((m: any) => m.subject.includes('Verify')).text;
      const token = decodeURIComponent(/verify-email\?token=(\S+)/.exec(text)![1]!);
      const altered = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
      const bad = await h.request('POST', '/v1/email/verify', { token: altered });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'VERIFICATION_LINK_INVALID');
      let list = await h.request('GET', '/v1/email/verifications', undefined, carol);
      assert.deepEqual(list.body.data, []);
      const ok = await h.request('POST', '/v1/email/verify', { token });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.email, 'carol@example.com');
      list = await h.request('GET', '/v1/email/verifications', undefined, carol);
      assert.deepEqual(
        list.body.data.map((x: any) => x.email),
        ['carol@example.com'],
      );
      // The link expires.
      const later = await h.request(
        'POST',
        '/v1/email/verifications',
        { email: 'c2@example.com' },
        carol,
      );
      assert.equal(later.status, 202);
      await h.app.settle();
      const mail2 = await h.request('GET', '/v1/mailbox?to=c2@example.com', undefined, ADMIN_KEY);
      const token2 = decodeURIComponent(/token=(\S+)/.exec(mail2.body.data[0].text)![1]!);
      h.clock.advance(25 * 60 * 60 * 1000);
      const expired = await h.request('POST', '/v1/email/verify', { token: token2 });
      assert.equal(expired.status, 400);
      await assertLedgerBalanced(h);
    });
  });
}
