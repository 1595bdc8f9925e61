import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { settingSecret } from '../src/app-context.ts';
import { linkToken } from '../src/engine/flows/safety.ts';
import {
  ADMIN_KEY,
  openHarness,
  storages,
  webhookReceiver,
  type Harness,
} from './support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  linkShopper,
  offerState,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';

/** The buy-now link in the merchant's offer post, and that post's id. */
async function offerPost(h: Harness, hashtag: string): Promise<{ id: string; link: URL }> {
  const posts = await h.app.local.listPosts({ author: 'acme', limit: 100 });
  const found = posts.find((p) => p.text.includes(`#${hashtag}`));
  assert.ok(found, `no offer post for #${hashtag}`);
  const match = /Buy now: (\S+)/.exec(found.text);
  assert.ok(match, `no buy-now link in: ${found.text}`);
  return { id: found.id, link: new URL(match[1]!) };
}

function linkBody(link: URL, extra: Record<string, unknown> = {}) {
  return {
    offer_id: link.pathname.split('/').pop(),
    exp: link.searchParams.get('exp'),
    sig: link.searchParams.get('sig'),
    ...extra,
  };
}

async function addMug(h: Harness, w: World, quantity = 5) {
  const res = await h.request(
    'POST',
    '/v1/offers',
    { title: 'Acme Mug', price: { amount: 1200, currency: 'USD' }, quantity, hashtag: 'AcmeMug' },
    w.merchant.api_key,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await h.app.settle();
  return res.body as { id: string };
}

async function available(h: Harness, w: World, offerId: string): Promise<number> {
  const res = await h.request('GET', `/v1/offers/${offerId}`, undefined, w.merchant.api_key);
  return res.body.available;
}

async function charges(h: Harness): Promise<{ amount_minor: string; status: string }[]> {
  const { rows } = await h.app.db.query<{ amount_minor: string; status: string }>(
    'SELECT amount_minor::text, status FROM sandbox_charges ORDER BY created_at',
  );
  return rows;
}

const base64url = (b: Buffer) => b.toString('base64url');

for (const storage of storages()) {
  describe(`buy-now, cart and pay with tagpay (${storage})`, () => {
    let h: Harness;
    let w: World;
    let hooks: Awaited<ReturnType<typeof webhookReceiver>>;
    before(async () => {
      hooks = await webhookReceiver();
    });
    after(async () => {
      await hooks.close();
    });
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await h.close();
    });

    async function fresh(opts: Parameters<typeof setupWorld>[1] = {}) {
      hooks.received.length = 0;
      h = await openHarness(storage);
      w = await setupWorld(h, { webhookUrl: hooks.url, ...opts });
    }

    test('buy-now: the offer post carries a signed link; one tap pays; altered or expired links are refused', async () => {
      await fresh();
      const { alice, carol, dave } = w.accounts;
      const { link } = await offerPost(h, 'BuyAcmeTee');
      assert.equal(link.origin, 'http://tagpay.test');
      assert.equal(link.pathname, `/buy/${w.offer.id}`);

      const checked = await h.request(
        'GET',
        `/v1/buy_links/${w.offer.id}?exp=${link.searchParams.get('exp')}&sig=${link.searchParams.get('sig')}`,
      );
      assert.equal(checked.status, 200, JSON.stringify(checked.body));
      assert.equal(checked.body.offer.id, w.offer.id);

      // Altered: another signature, another expiry, another offer with the same signature.
      const sig = link.searchParams.get('sig')!;
      const exp = link.searchParams.get('exp')!;
      const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      for (const [offer, e, s] of [
        [w.offer.id, exp, flipped],
        [w.offer.id, String(Number(exp) + 3600), sig],
        ['ofr_aaaaaaaaaaaa', exp, sig],
        [w.offer.id, exp, ''],
      ] as const) {
        const res = await h.request('GET', `/v1/buy_links/${offer}?exp=${e}&sig=${s}`);
        assert.equal(res.status, 403, `${offer} ${e} ${s}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'LINK_INVALID');
        const buy = await h.request(
          'POST',
          '/v1/checkout/buy_now',
          { offer_id: offer, exp: e, sig: s, variant: 'M' },
          alice!.token,
        );
        assert.equal(buy.status, 403, JSON.stringify(buy.body));
      }
      const page = await h.request('GET', `/buy/${w.offer.id}?exp=${exp}&sig=${flipped}`);
      assert.equal(page.status, 403);
      assert.match(String(page.body), /not valid/);

      // Not signed in, not linked.
      const anon = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(link, { variant: 'M' }),
      );
      assert.equal(anon.status, 401);
      const unlinked = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(link, { variant: 'M' }),
        carol!.token,
      );
      assert.equal(unlinked.status, 409);
      assert.equal(unlinked.body.error.code, 'SHOPPER_NOT_LINKED');
      const noVariant = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(link),
        alice!.token,
      );
      assert.equal(noVariant.status, 400);

      // One tap: reserved and charged at once, no code.
      const buy = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(link, { variant: 'L', quantity: 2 }),
        alice!.token,
      );
      assert.equal(buy.status, 201, JSON.stringify(buy.body));
      assert.equal(buy.body.status, 'charging');
      assert.equal(buy.body.amount, 5000);
      await h.app.settle();
      const paid = await h.request('GET', `/v1/payments/${buy.body.id}`, undefined, alice!.token);
      assert.equal(paid.body.status, 'paid');
      const order = await h.request(
        'GET',
        `/v1/orders/${paid.body.order_ids[0]}`,
        undefined,
        ADMIN_KEY,
      );
      assert.equal(order.body.status, 'paid');
      assert.equal(order.body.variant, 'L');
      assert.equal(order.body.quantity, 2);
      assert.equal(order.body.shipping_address.line1, '1 Main St');
      assert.equal((await offerState(h, w)).sold, 2);
      const other = await h.request(
        'GET',
        `/v1/payments/${buy.body.id}`,
        undefined,
        w.accounts.bob!.token,
      );
      assert.equal(other.status, 404, "another shopper's payment is not found");
      const hook = hooks.received
        .map((r) => JSON.parse(r.body))
        .find((e) => e.type === 'order.paid');
      assert.equal(hook?.data.object.id, order.body.id);
      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      assert.ok(
        mail.body.data.some((m: { subject: string }) => m.subject.startsWith('Receipt: $50.00')),
      );

      // A declined card: the payment fails and the units come back.
      const declined = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(link, { variant: 'S' }),
        dave!.token,
      );
      assert.equal(declined.status, 201);
      await h.app.settle();
      const failed = await h.request(
        'GET',
        `/v1/payments/${declined.body.id}`,
        undefined,
        dave!.token,
      );
      assert.equal(failed.body.status, 'failed');
      assert.equal(failed.body.failure_reason, 'card_declined');
      assert.equal((await offerState(h, w)).available, 8);

      // The merchant can make a link for a button; an expired link is refused with its own code.
      const made = await h.request(
        'GET',
        `/v1/offers/${w.offer.id}/buy_link?expires_in_s=120`,
        undefined,
        w.merchant.api_key,
      );
      assert.equal(made.status, 200);
      const short = new URL(made.body.url);
      h.clock.advance(121_000);
      const expired = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        linkBody(short, { variant: 'M' }),
        alice!.token,
      );
      assert.equal(expired.status, 410);
      assert.equal(expired.body.error.code, 'LINK_EXPIRED');
      const expiredPage = await h.request('GET', short.pathname + short.search);
      assert.equal(expiredPage.status, 410);
      assert.match(String(expiredPage.body), /expired/);
    });

    test('cart: #cart replies fill it, one payment checks out every item, all or nothing', async () => {
      await fresh();
      const { alice, bob, dave } = w.accounts;
      const mug = await addMug(h, w, 3);
      const tee = await offerPost(h, 'BuyAcmeTee');
      const mugPost = await offerPost(h, 'AcmeMug');

      const r1 = await post(h, alice!, '#cart M x2', tee.id);
      assert.match(
        (await repliesTo(h, r1))[0]!,
        /^Added Acme Tee \(M\) to your cart \(1 item\)\. Check out at http:\/\/tagpay\.test\/cart/,
      );
      const r2 = await post(h, alice!, '#cart', mugPost.id);
      assert.match((await repliesTo(h, r2))[0]!, /Added Acme Mug to your cart \(2 items\)/);
      const noOffer = await post(h, alice!, '#cart');
      assert.match((await repliesTo(h, noOffer))[0]!, /Reply #cart to an offer post/);
      assert.equal((await offerState(h, w)).available, 10, 'a cart reserves nothing');

      // The cart survives a restart (it is state like any other).
      await h.restart();
      const cart = await h.request('GET', '/v1/cart', undefined, alice!.token);
      assert.equal(cart.status, 200);
      assert.deepEqual(
        cart.body.items.map((i: { title: string; quantity: number }) => [i.title, i.quantity]),
        [
          ['Acme Tee', 2],
          ['Acme Mug', 1],
        ],
      );
      // #cart replies to the offer post still work after the restart.
      const r3 = await post(h, bob!, '#cart x3', mugPost.id);
      assert.match((await repliesTo(h, r3))[0]!, /Added Acme Mug/);

      const before = (await charges(h)).length;
      const paid = await h.request('POST', '/v1/cart/checkout', {}, alice!.token);
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
      assert.equal(paid.body.amount, 2 * 2500 + 1200);
      assert.equal(paid.body.order_ids.length, 2);
      await h.app.settle();
      const after = await charges(h);
      assert.equal(after.length, before + 1, 'one charge for the whole cart');
      assert.equal(after.at(-1)!.amount_minor, '6200');
      for (const id of paid.body.order_ids) {
        const o = await h.request('GET', `/v1/orders/${id}`, undefined, ADMIN_KEY);
        assert.equal(o.body.status, 'paid');
      }
      assert.deepEqual(
        (await h.request('GET', '/v1/cart', undefined, alice!.token)).body.items,
        [],
      );
      assert.equal(await available(h, w, mug.id), 2);

      // One order of the cart is refunded on its own: a partial refund of the one charge.
      const refund = await h.request(
        'POST',
        `/v1/orders/${paid.body.order_ids[1]}/refund`,
        {},
        w.merchant.api_key,
      );
      assert.equal(refund.status, 200, JSON.stringify(refund.body));
      await h.app.settle();
      const statuses = [];
      for (const id of paid.body.order_ids)
        statuses.push(
          (await h.request('GET', `/v1/orders/${id}`, undefined, ADMIN_KEY)).body.status,
        );
      assert.deepEqual(statuses, ['paid', 'refunded']);
      const refunded = await h.app.db.query<{ refunded_minor: string }>(
        'SELECT refunded_minor::text FROM sandbox_charges ORDER BY created_at DESC LIMIT 1',
      );
      assert.equal(refunded.rows[0]!.refunded_minor, '1200');

      // Bob wants 3 mugs but 2 are left: nothing of his cart is reserved.
      await post(h, bob!, '#cart S', tee.id);
      const short = await h.request('POST', '/v1/cart/checkout', {}, bob!.token);
      assert.equal(short.status, 409);
      assert.equal(short.body.error.code, 'OUT_OF_STOCK');
      assert.match(short.body.error.message, /Only 2 of Acme Mug are left/);
      assert.equal(await available(h, w, mug.id), 2);
      assert.equal((await offerState(h, w)).available, 8);
      assert.equal(
        (await h.request('GET', '/v1/cart', undefined, bob!.token)).body.items.length,
        2,
      );

      // He removes the mugs and checks out the rest.
      const bobCart = (await h.request('GET', '/v1/cart', undefined, bob!.token)).body.items;
      const removed = await h.request(
        'POST',
        `/v1/cart/items/${bobCart[0].id}/remove`,
        undefined,
        bob!.token,
      );
      assert.equal(removed.status, 200);
      assert.equal(removed.body.items.length, 1);
      const ok = await h.request(
        'POST',
        '/v1/cart/checkout',
        { item_ids: [bobCart[1].id] },
        bob!.token,
      );
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      await h.app.settle();

      // A declined card: stock released, items back in the cart.
      await post(h, dave!, '#cart L', tee.id);
      await post(h, dave!, '#cart', mugPost.id);
      const declined = await h.request('POST', '/v1/cart/checkout', {}, dave!.token);
      assert.equal(declined.status, 201);
      assert.equal(await available(h, w, mug.id), 1, 'reserved while charging');
      await h.app.settle();
      assert.equal(
        (await h.request('GET', `/v1/payments/${declined.body.id}`, undefined, dave!.token)).body
          .status,
        'failed',
      );
      assert.equal(await available(h, w, mug.id), 2);
      assert.equal(
        (await h.request('GET', '/v1/cart', undefined, dave!.token)).body.items.length,
        2,
      );

      const empty = await h.request('POST', '/v1/cart/checkout', {}, alice!.token);
      assert.equal(empty.status, 409);
      assert.equal(empty.body.error.code, 'CART_EMPTY');
    });

    test('a cart above the shopper step-up threshold waits for the e-mailed approval, across a restart, then one charge pays every item', async () => {
      await fresh();
      const { alice } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, { limits: { step_up_above: 3000, currency: 'USD' } });
      const mug = await addMug(h, w, 3);
      const tee = await offerPost(h, 'BuyAcmeTee');
      const mugPost = await offerPost(h, 'AcmeMug');
      await post(h, alice!, '#cart M x2', tee.id);
      await post(h, alice!, '#cart', mugPost.id);
      const before = (await charges(h)).length;
      const held = await h.request('POST', '/v1/cart/checkout', {}, alice!.token);
      assert.equal(held.status, 201, JSON.stringify(held.body));
      assert.equal(held.body.status, 'awaiting_step_up');
      await h.app.settle();
      assert.equal((await charges(h)).length, before, 'nothing charged before the approval');
      assert.equal((await offerState(h, w)).available, 8, 'the units are held meanwhile');
      assert.equal(await available(h, w, mug.id), 2);

      await h.restart();
      const mails = await h.request(
        'GET',
        '/v1/mailbox?to=alice@example.com&limit=100',
        undefined,
        ADMIN_KEY,
      );
      const mail = mails.body.data.find((m: { subject: string }) => /Approve/.test(m.subject));
      assert.match(mail.text, /\$62\.00/);
      const token = /\/step-up\?t=([A-Za-z0-9_.-]+)/.exec(mail.text)![1]!;
      // The link names the payment; an order of it is never approved (and charged) on its own, even
      // by a correctly signed link naming the order.
      const secret = await settingSecret(h.app.db, 'link_secret', h.app.random);
      const alone = await h.request('POST', '/v1/step-up', {
        token: linkToken(secret, 'step-up', held.body.order_ids[0]),
      });
      assert.equal(alone.status, 409, JSON.stringify(alone.body));
      assert.equal(alone.body.error.code, 'STEP_UP_NOT_PENDING');
      await h.app.settle();
      assert.equal((await charges(h)).length, before, 'nothing charged by the order alone');
      const approved = await h.request('POST', '/v1/step-up', { token });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      await h.app.settle();
      const after = await charges(h);
      assert.equal(after.length, before + 1, 'one charge for the whole cart');
      assert.equal(after.at(-1)!.amount_minor, '6200');
      for (const id of held.body.order_ids) {
        const o = await h.request('GET', `/v1/orders/${id}`, undefined, ADMIN_KEY);
        assert.equal(o.body.status, 'paid');
      }
      assert.deepEqual(
        (await h.request('GET', '/v1/cart', undefined, alice!.token)).body.items,
        [],
      );
    });

    test('a cart payment charging across a restart is paid once; a declined one puts the items back', async () => {
      await fresh();
      const { alice } = w.accounts;
      const mug = await addMug(h, w, 3);
      await post(h, alice!, '#cart M', (await offerPost(h, 'BuyAcmeTee')).id);
      await post(h, alice!, '#cart', (await offerPost(h, 'AcmeMug')).id);
      h.app.outbox.paused = true;
      const res = await h.request('POST', '/v1/cart/checkout', {}, alice!.token, {
        'idempotency-key': 'cart-1',
      });
      assert.equal(res.status, 201);
      const replay = await h.request('POST', '/v1/cart/checkout', {}, alice!.token, {
        'idempotency-key': 'cart-1',
      });
      assert.deepEqual(replay.body, res.body, 'the same key gives the same payment');
      await h.restart();
      assert.equal(await available(h, w, mug.id), 2, 'still reserved after the restart');
      await h.app.settle();
      const paid = await h.request('GET', `/v1/payments/${res.body.id}`, undefined, alice!.token);
      assert.equal(paid.body.status, 'paid');
      assert.equal((await charges(h)).length, 1);
      assert.deepEqual(
        (await h.request('GET', '/v1/cart', undefined, alice!.token)).body.items,
        [],
      );

      // A declined charge after a restart puts the items back in the cart.
      const { dave } = w.accounts;
      await post(h, dave!, '#cart S', (await offerPost(h, 'BuyAcmeTee')).id);
      h.app.outbox.paused = true;
      const declined = await h.request('POST', '/v1/cart/checkout', {}, dave!.token);
      await h.restart();
      await h.app.settle();
      assert.equal(
        (await h.request('GET', `/v1/payments/${declined.body.id}`, undefined, dave!.token)).body
          .status,
        'failed',
      );
      assert.equal(
        (await h.request('GET', '/v1/cart', undefined, dave!.token)).body.items.length,
        1,
      );
    });

    test('#checkout by post: a confirmation code, then one charge; unconfirmed carts release their units', async () => {
      await fresh();
      const { alice, bob, carol } = w.accounts;
      const mug = await addMug(h, w);
      const tee = await offerPost(h, 'BuyAcmeTee');
      await post(h, alice!, '#cart M', tee.id);
      await post(h, alice!, 'also #cart #AcmeMug x2');
      const checkout = await post(h, alice!, '#checkout');
      const [reply] = await repliesTo(h, checkout);
      assert.match(
        reply!,
        /^To buy the 2 items in your cart for \$49\.00, reply with #TP[A-Z2-7]{10} within 15 minutes/,
      );
      assert.equal(await available(h, w, mug.id), 3, 'reserved while waiting for the code');
      const code = codeIn(reply);
      const twice = await post(h, alice!, '#checkout');
      assert.match((await repliesTo(h, twice))[0]!, /already waiting for its confirmation code/);
      assert.equal(await available(h, w, mug.id), 3, 'reserved once');
      // The code is bound to alice: from bob it is a wrong code, and does nothing.
      await post(h, bob!, code, checkout);
      assert.equal((await charges(h)).length, 0);
      await post(h, alice!, code, checkout);
      const replies = await repliesTo(h, checkout);
      assert.match(replies.at(-1)!, /^Paid: 2 items, \$49\.00\. Orders ord_\w+, ord_\w+ ship/);
      assert.equal((await charges(h)).length, 1);
      assert.equal(await available(h, w, mug.id), 3);
      const mine = await h.request(
        'GET',
        '/v1/orders?handle=alice&status=paid',
        undefined,
        ADMIN_KEY,
      );
      assert.equal(mine.body.data.length, 2);

      // Bob's cart checkout is never confirmed: after the window its units come back.
      await post(h, bob!, '#cart', (await offerPost(h, 'AcmeMug')).id);
      const bobCheckout = await post(h, bob!, '#checkout');
      assert.equal(await available(h, w, mug.id), 2);
      h.clock.advance(15 * 60 * 1000 + 1);
      await h.app.settle();
      assert.equal(await available(h, w, mug.id), 3);
      const late = await post(h, bob!, codeIn((await repliesTo(h, bobCheckout))[0]), bobCheckout);
      assert.equal(
        (await repliesTo(h, late)).length,
        0,
        'a dead code is a wrong code now: no answer',
      );
      assert.equal((await charges(h)).length, 1);

      const unlinked = await post(h, carol!, '#checkout');
      assert.match(
        (await repliesTo(h, unlinked))[0]!,
        /Link your card and address once at http:\/\/tagpay\.test\/signup/,
      );
    });

    test('pay with tagpay: PKCE code flow, exact redirect URIs, single-use codes, payment and signed webhook', async () => {
      await fresh();
      const { alice, dave } = w.accounts;
      const redirect = 'http://localhost:4000/callback';
      const shopHooks = await webhookReceiver();
      try {
        const badUri = await h.request(
          'POST',
          '/v1/shop_clients',
          { name: 'Shop', redirect_uris: ['http://shop.example/cb'] },
          w.merchant.api_key,
        );
        assert.equal(badUri.status, 400, 'http only on loopback');
        const reg = await h.request(
          'POST',
          '/v1/shop_clients',
          { name: 'Sample Shop', redirect_uris: [redirect], webhook_url: shopHooks.url },
          w.merchant.api_key,
        );
        assert.equal(reg.status, 201, JSON.stringify(reg.body));
        const clientId: string = reg.body.id;
        const secret: string = reg.body.client_secret;
        assert.match(secret, /^cs_/);
        const basic = 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64');

        const noAuth = await h.request('POST', '/v1/pay_requests', {
          amount: 1999,
          currency: 'USD',
          description: 'Lamp',
        });
        assert.equal(noAuth.status, 401);
        const prq = await h.request(
          'POST',
          '/v1/pay_requests',
          { amount: 1999, currency: 'USD', description: 'Desk lamp', reference: 'cart-42' },
          undefined,
          { authorization: basic },
        );
        assert.equal(prq.status, 201, JSON.stringify(prq.body));

        const verifier = base64url(createHash('sha256').update('verifier seed').digest()) + 'xyz';
        const challenge = base64url(createHash('sha256').update(verifier).digest());
        const params = {
          response_type: 'code',
          client_id: clientId,
          redirect_uri: redirect,
          state: 'st-123',
          code_challenge: challenge,
          code_challenge_method: 'S256',
          pay_request: prq.body.id,
        };
        const q = (p: Record<string, string>) =>
          '/v1/oauth/authorize?' + new URLSearchParams(p).toString();
        const shown = await h.request('GET', q(params));
        assert.equal(shown.status, 200, JSON.stringify(shown.body));
        assert.equal(shown.body.display, '$19.99');
        assert.equal(shown.body.shop, 'Sample Shop');

        // Unknown client or a redirect URI not registered exactly: no redirect at all.
        for (const bad of [
          { ...params, client_id: 'cli_aaaaaaaaaaaa' },
          { ...params, redirect_uri: redirect + '/' },
          { ...params, redirect_uri: 'http://localhost:4000/callback?x=1' },
        ]) {
          const res = await h.request('GET', q(bad));
          assert.equal(res.status, 400);
          assert.equal(res.body.redirect_to, null);
        }
        // Bad requests from a known client go back to it with an error and the state.
        for (const [bad, error] of [
          [{ ...params, code_challenge_method: 'plain' }, 'invalid_request'],
          [{ ...params, response_type: 'token' }, 'unsupported_response_type'],
          [{ ...params, code_challenge: 'short' }, 'invalid_request'],
          [{ ...params, pay_request: 'prq_aaaaaaaaaaaa' }, 'invalid_request'],
        ] as const) {
          const res = await h.request('GET', q(bad));
          const back = new URL(res.body.redirect_to);
          assert.equal(back.origin + back.pathname, redirect);
          assert.equal(back.searchParams.get('error'), error);
          assert.equal(back.searchParams.get('state'), 'st-123');
        }

        const denied = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...params, decision: 'deny' },
          alice!.token,
        );
        assert.equal(new URL(denied.body.redirect_to).searchParams.get('error'), 'access_denied');

        const approved = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...params, decision: 'approve' },
          alice!.token,
        );
        assert.equal(approved.status, 200, JSON.stringify(approved.body));
        const back = new URL(approved.body.redirect_to);
        assert.equal(back.origin + back.pathname, redirect);
        assert.equal(back.searchParams.get('state'), 'st-123');
        const code = back.searchParams.get('code')!;
        assert.match(code, /^tpc\.pay_/);
        await h.app.settle();
        // The request is used up: a second approval is refused.
        const again = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...params, decision: 'approve' },
          alice!.token,
        );
        assert.equal(again.status, 200);
        assert.equal(new URL(again.body.redirect_to).searchParams.get('error'), 'invalid_request');

        const token = (form: Record<string, string>, auth: string | undefined = basic) =>
          h.request('POST', '/oauth/token', new URLSearchParams(form).toString(), undefined, {
            'content-type': 'application/x-www-form-urlencoded',
            ...(auth && { authorization: auth }),
          });
        const form = {
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirect,
          code_verifier: verifier,
        };
        const wrongSecret = await token(
          form,
          'Basic ' + Buffer.from(`${clientId}:cs_wrong`).toString('base64'),
        );
        assert.equal(wrongSecret.status, 401);
        assert.equal(wrongSecret.body.error, 'invalid_client');
        const wrongVerifier = await token({ ...form, code_verifier: verifier.slice(0, -1) + 'A' });
        assert.equal(wrongVerifier.status, 400);
        assert.equal(wrongVerifier.body.error, 'invalid_grant');
        const wrongRedirect = await token({ ...form, redirect_uri: redirect + '?' });
        assert.equal(wrongRedirect.body.error, 'invalid_grant');
        const forged = await token({
          ...form,
          code: code.slice(0, -2) + (code.endsWith('A') ? 'BB' : 'AA'),
        });
        assert.equal(forged.body.error, 'invalid_grant');
        const grant = await token({ ...form, grant_type: 'password' });
        assert.equal(grant.body.error, 'unsupported_grant_type');

        const exchanged = await token(form);
        assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
        assert.equal(exchanged.body.token_type, 'Bearer');
        assert.equal(exchanged.body.payment.status, 'paid');
        assert.equal(exchanged.body.payment.amount, 1999);
        assert.equal(exchanged.body.payment.pay_request_id, prq.body.id);
        const reused = await token(form);
        assert.equal(reused.status, 400);
        assert.equal(reused.body.error, 'invalid_grant', 'a code works once');

        const read = await h.request(
          'GET',
          '/v1/oauth/payment',
          undefined,
          exchanged.body.access_token,
        );
        assert.equal(read.status, 200);
        assert.equal(read.body.id, exchanged.body.payment.id);

        // The shop's webhook, signed like every tagpay webhook, with the merchant's secret.
        const hook = shopHooks.received.find(
          (r) => JSON.parse(r.body).type === 'payment.succeeded',
        );
        assert.ok(hook, 'payment.succeeded webhook');
        const [t, v1] = String(hook.headers['tagpay-signature'])
          .split(',')
          .map((p) => p.split('=')[1]);
        const expected = createHmac('sha256', w.merchant.webhook_secret)
          .update(`${t}.${hook.body}`)
          .digest('hex');
        assert.equal(v1, expected);

        // The ledger: the shopper's card funds the merchant and the fee.
        const balances = await h.request(
          'GET',
          `/v1/ledger/balances?account=payable:${w.merchant.id}`,
          undefined,
          ADMIN_KEY,
        );
        assert.equal(balances.body.data[0].balance, 1999 - Math.floor((1999 * 250) / 10_000));

        // A declined card: the shop exchanges the code and learns the payment failed.
        const prq2 = await h.request(
          'POST',
          '/v1/pay_requests',
          { amount: 500, currency: 'USD', description: 'Bulb' },
          undefined,
          { authorization: basic },
        );
        const p2 = { ...params, pay_request: prq2.body.id };
        const daveOk = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...p2, decision: 'approve' },
          dave!.token,
        );
        await h.app.settle();
        const code2 = new URL(daveOk.body.redirect_to).searchParams.get('code')!;
        const failed = await token({ ...form, code: code2 });
        assert.equal(failed.body.payment.status, 'failed');
        assert.equal(failed.body.payment.failure_reason, 'card_declined');
        assert.ok(shopHooks.received.some((r) => JSON.parse(r.body).type === 'payment.failed'));

        // An approved payment's code still works after a restart (the payment is state like any other).
        const prq4 = await h.request(
          'POST',
          '/v1/pay_requests',
          { amount: 900, currency: 'USD', description: 'Cable' },
          undefined,
          { authorization: basic },
        );
        const approved4 = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...params, pay_request: prq4.body.id, decision: 'approve' },
          alice!.token,
        );
        await h.restart();
        await h.app.settle();
        const afterRestart = await token({
          ...form,
          code: new URL(approved4.body.redirect_to).searchParams.get('code')!,
        });
        assert.equal(afterRestart.status, 200, JSON.stringify(afterRestart.body));
        assert.equal(afterRestart.body.payment.status, 'paid');

        // A code not exchanged within 10 minutes no longer works.
        const prq3 = await h.request(
          'POST',
          '/v1/pay_requests',
          { amount: 700, currency: 'USD', description: 'Shade' },
          undefined,
          { authorization: basic },
        );
        const late = await h.request(
          'POST',
          '/v1/oauth/authorize',
          { ...params, pay_request: prq3.body.id, decision: 'approve' },
          alice!.token,
        );
        await h.app.settle();
        h.clock.advance(10 * 60 * 1000 + 1);
        const expired = await token({
          ...form,
          code: new URL(late.body.redirect_to).searchParams.get('code')!,
        });
        assert.equal(expired.body.error, 'invalid_grant');
      } finally {
        await shopHooks.close();
      }
    });
  });
}
