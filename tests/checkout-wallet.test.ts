import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import {
  ADMIN_KEY,
  openHarness,
  storages,
  webhookReceiver,
  type Harness,
} from './support/harness.ts';
import {
  assertLedgerBalanced,
  codeIn,
  post,
  repliesTo,
  setupWorld,
  type Account,
  type World,
} from './support/world.ts';
import { giftCardOffer } from './support/money.ts';

/**
 * Web payments from the wallet (issue 4, item 7): pay with tagpay, buy-now and the cart pay from the
 * wallet first and the card for the rest when the shopper chooses `pay_from: wallet`, through the
 * ledger's holds as a purchase by hashtag does; refunds give each part back where it came from. And
 * gift cards bought with a buy-now link are issued (they were not: the sale was credited as goods).
 */

const REDIRECT = 'http://localhost:4000/callback';
const base64url = (b: Buffer) => b.toString('base64url');

async function topUp(h: Harness, handle: string, amount: number): Promise<void> {
  const res = await h.request(
    'POST',
    `/v1/wallets/${handle}/top-ups`,
    { amount, currency: 'USD' },
    ADMIN_KEY,
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await h.app.settle();
}

/** The handle's USD wallet balance, in minor units (held money is not in it). */
async function wallet(h: Harness, handle: string): Promise<number> {
  const res = await h.request('GET', `/v1/wallets/${handle}?network=local`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.balances.find((b: { currency: string }) => b.currency === 'USD')?.amount ?? 0;
}

/** Card charges and refunds at the sandbox processor, in minor units, smallest first (one clock tick). */
async function charges(h: Harness): Promise<number[]> {
  const { rows } = await h.app.db.query<{ a: string }>(
    'SELECT amount_minor::text AS a FROM sandbox_charges ORDER BY created_at, id',
  );
  return rows.map((r) => Number(r.a)).sort((a, b) => a - b);
}
async function refunds(h: Harness): Promise<number[]> {
  const { rows } = await h.app.db.query<{ a: string }>(
    'SELECT amount_minor::text AS a FROM sandbox_refunds ORDER BY created_at, id',
  );
  return rows.map((r) => Number(r.a)).sort((a, b) => a - b);
}

interface Shop {
  clientId: string;
  basic: string;
  hooks: Awaited<ReturnType<typeof webhookReceiver>>;
}

async function openShop(h: Harness, w: World): Promise<Shop> {
  const hooks = await webhookReceiver();
  const reg = await h.request(
    'POST',
    '/v1/shop_clients',
    { name: 'Sample Shop', redirect_uris: [REDIRECT], webhook_url: hooks.url },
    w.merchant.api_key,
  );
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const basic =
    'Basic ' + Buffer.from(`${reg.body.id}:${reg.body.client_secret}`).toString('base64');
  return { clientId: reg.body.id, basic, hooks };
}

/** The shop asks for `amount`; the shopper approves on tagpay paying from `payFrom`. */
async function payWithTagpay(
  h: Harness,
  shop: Shop,
  who: Account,
  amount: number,
  payFrom: unknown,
): Promise<{ status: number; body: any; code: string | null; verifier: string }> {
  const prq = await h.request(
    'POST',
    '/v1/pay_requests',
    { amount, currency: 'USD', description: 'Desk lamp' },
    undefined,
    { authorization: shop.basic },
  );
  assert.equal(prq.status, 201, JSON.stringify(prq.body));
  const verifier = base64url(createHash('sha256').update(prq.body.id).digest()) + 'xyz';
  const params = {
    response_type: 'code',
    client_id: shop.clientId,
    redirect_uri: REDIRECT,
    state: 'st-1',
    code_challenge: base64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    pay_request: prq.body.id,
  };
  const res = await h.request(
    'POST',
    '/v1/oauth/authorize',
    { ...params, decision: 'approve', ...(payFrom !== undefined && { pay_from: payFrom }) },
    who.token,
  );
  await h.app.settle();
  const code = res.status === 200 ? new URL(res.body.redirect_to).searchParams.get('code') : null;
  return { ...res, code, verifier };
}

/** The shop trades its code for the payment, as the sample shop does. */
async function exchange(h: Harness, shop: Shop, code: string, verifier: string) {
  const form = {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  };
  return h.request('POST', '/oauth/token', new URLSearchParams(form).toString(), undefined, {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: shop.basic,
  });
}

async function payment(h: Harness, who: Account, id: string) {
  const res = await h.request('GET', `/v1/payments/${id}`, undefined, who.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The buy-now link in the merchant's post of the offer with `hashtag`, as a buy_now body. */
async function buyNowBody(h: Harness, hashtag: string, extra: Record<string, unknown>) {
  const posts = await h.app.local.listPosts({ author: 'acme', limit: 100 });
  const found = posts.find((p) => p.text.includes(`#${hashtag}`));
  const link = new URL(/Buy now: (\S+)/.exec(found?.text ?? '')![1]!);
  return {
    offer_id: link.pathname.split('/').pop(),
    exp: link.searchParams.get('exp'),
    sig: link.searchParams.get('sig'),
    ...extra,
  };
}

for (const storage of storages()) {
  describe(`web payments from the wallet (${storage})`, () => {
    let h: Harness;
    let w: World;
    let shop: Shop | null = null;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await shop?.hooks.close();
      shop = null;
      await h.close();
    });
    async function fresh() {
      h = await openHarness(storage);
      w = await setupWorld(h);
    }

    test('pay with tagpay from the wallet only: no card charge, the shop gets its result and webhook', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      shop = await openShop(h, w);
      await topUp(h, 'alice', 5000);
      const paid = await payWithTagpay(h, shop, alice, 1999, 'wallet');
      assert.equal(paid.status, 200, JSON.stringify(paid.body));
      assert.equal(await wallet(h, 'alice'), 5000 - 1999);
      assert.deepEqual(await charges(h), [5000], 'the top-up only: the wallet paid it all');
      const p = await payment(h, alice, paid.body.payment.id);
      assert.equal(p.status, 'paid');
      assert.equal(p.pay_from, 'wallet');
      assert.equal(p.wallet_amount, 1999);
      assert.equal(p.card_amount, 0);
      const exchanged = await exchange(h, shop, paid.code!, paid.verifier);
      assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
      assert.equal(exchanged.body.payment.status, 'paid');
      assert.equal(exchanged.body.payment.amount, 1999);
      const hook = shop.hooks.received
        .map((r) => JSON.parse(r.body))
        .find((e) => e.type === 'payment.succeeded');
      assert.equal(hook?.data.object.id, p.id);
      assert.equal(hook?.data.object.amount, 1999);
      // The merchant is credited as for a card payment: the amount less the fee.
      const payable = await h.request(
        'GET',
        `/v1/ledger/balances?account=payable:${w.merchant.id}`,
        undefined,
        ADMIN_KEY,
      );
      assert.equal(payable.body.data[0].balance, 1999 - Math.floor((1999 * 250) / 10_000));
    });

    test('pay with tagpay, split: the wallet pays what it holds, the card only the rest', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      shop = await openShop(h, w);
      await topUp(h, 'alice', 500);
      const paid = await payWithTagpay(h, shop, alice, 1999, 'wallet');
      assert.equal(paid.status, 200, JSON.stringify(paid.body));
      assert.equal(await wallet(h, 'alice'), 0);
      assert.deepEqual(await charges(h), [500, 1499]);
      const p = await payment(h, alice, paid.body.payment.id);
      assert.deepEqual([p.status, p.wallet_amount, p.card_amount], ['paid', 500, 1499]);
      // Paying by card is still the default: the wallet is left alone.
      await topUp(h, 'alice', 300);
      const byCard = await payWithTagpay(h, shop, alice, 700, undefined);
      assert.equal(byCard.status, 200, JSON.stringify(byCard.body));
      assert.equal(await wallet(h, 'alice'), 300);
      assert.deepEqual(await charges(h), [300, 500, 700, 1499]);
      const c = await payment(h, alice, byCard.body.payment.id);
      assert.deepEqual([c.pay_from, c.wallet_amount, c.card_amount], ['card', 0, 700]);
    });

    test('a bad choice is refused with a stable code and changes nothing; an empty wallet is refused', async () => {
      await fresh();
      const bob = w.accounts.bob!;
      shop = await openShop(h, w);
      for (const bad of ['bitcoin', '', 7, null]) {
        const res = await payWithTagpay(h, shop, bob, 999, bad);
        assert.equal(res.status, 400, `${String(bad)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'INVALID_REQUEST');
      }
      const empty = await payWithTagpay(h, shop, bob, 999, 'wallet');
      assert.equal(empty.status, 409, JSON.stringify(empty.body));
      assert.equal(empty.body.error.code, 'INSUFFICIENT_FUNDS');
      assert.equal(empty.body.error.param, 'pay_from');
      assert.deepEqual(await charges(h), [], 'nothing was charged');
      const { rows } = await h.app.db.query('SELECT id FROM payments');
      assert.equal(rows.length, 0, 'no payment was made');
      // The same for buy-now and the cart.
      const buy = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        await buyNowBody(h, 'BuyAcmeTee', { variant: 'M', pay_from: 'coins' }),
        bob.token,
      );
      assert.equal(buy.status, 400, JSON.stringify(buy.body));
      assert.equal(buy.body.error.code, 'INVALID_REQUEST');
      const cart = await h.request('POST', '/v1/cart/checkout', { pay_from: 'x' }, bob.token);
      assert.equal(cart.status, 400, JSON.stringify(cart.body));
      assert.equal(cart.body.error.code, 'INVALID_REQUEST');
      assert.equal(cart.body.error.param, 'pay_from');
    });

    test('a split payment charging across a restart is paid once; a declined card gives the wallet part back', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      shop = await openShop(h, w);
      await topUp(h, 'alice', 700);
      h.app.outbox.paused = true;
      const paid = await payWithTagpay(h, shop, alice, 1999, 'wallet');
      assert.equal(paid.status, 200, JSON.stringify(paid.body));
      const id: string = paid.body.payment.id;
      assert.equal(await wallet(h, 'alice'), 0, 'the wallet part is held');
      await h.restart({ outboxPaused: true });
      const reloaded = h.app.engine.view.checkout.payments.get(id)!;
      assert.equal(reloaded.status, 'charging');
      assert.equal(reloaded.payFrom, 'wallet');
      assert.equal(reloaded.walletMinor, 700n);
      assert.ok(reloaded.walletHoldId !== null, 'the hold is found again');
      h.app.outbox.paused = false;
      await h.app.settle();
      assert.deepEqual(await charges(h), [700, 1299], 'the card part, charged once');
      assert.equal(await wallet(h, 'alice'), 0);
      const p = await payment(h, alice, id);
      assert.deepEqual([p.status, p.wallet_amount, p.card_amount], ['paid', 700, 1299]);
      await h.restart();
      assert.deepEqual(
        [(await payment(h, alice, id)).wallet_amount, (await charges(h)).length],
        [700, 2],
      );

      // Dave's card declines: funded by a gift card, his wallet part comes back whole.
      await giftCardOffer(h, w, { title: 'Acme gift card', price: 1000, value: 1000 });
      await h.app.settle();
      const buy = await post(h, alice, '#AcmeGift');
      await post(h, alice, codeIn((await repliesTo(h, buy))[0]));
      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      const giftCode = /GC-[A-Z2-7-]{19}/.exec(
        mail.body.data.find((m: { text: string }) => /GC-/.test(m.text)).text,
      )![0];
      const redeemed = await h.request(
        'POST',
        '/v1/gift-cards/redeem',
        { code: giftCode, handle: 'dave' },
        ADMIN_KEY,
      );
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
      await h.app.settle();
      assert.equal(await wallet(h, 'dave'), 1000);
      h.app.outbox.paused = true;
      const declined = await payWithTagpay(h, shop, w.accounts.dave!, 1500, 'wallet');
      assert.equal(declined.status, 200, JSON.stringify(declined.body));
      assert.equal(await wallet(h, 'dave'), 0);
      await h.restart({ outboxPaused: true });
      h.app.outbox.paused = false;
      await h.app.settle();
      const d = await payment(h, w.accounts.dave!, declined.body.payment.id);
      assert.equal(d.status, 'failed');
      assert.equal(d.wallet_amount, 0, 'nothing was taken from the wallet');
      assert.equal(await wallet(h, 'dave'), 1000);
      const hook = shop.hooks.received
        .map((r) => JSON.parse(r.body))
        .find((e) => e.type === 'payment.failed');
      assert.equal(hook?.data.object.id, d.id);
    });

    test('pay with tagpay refunds: the card part to the card first, then the wallet part to the wallet, each once, across a restart', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      shop = await openShop(h, w);
      await topUp(h, 'alice', 500);
      const paid = await payWithTagpay(h, shop, alice, 1999, 'wallet');
      assert.equal(paid.status, 200, JSON.stringify(paid.body));
      const id: string = paid.body.payment.id;
      assert.equal((await exchange(h, shop, paid.code!, paid.verifier)).status, 200);
      const refund = (body: unknown, key = w.merchant.api_key) =>
        h.request('POST', `/v1/payments/${id}/refund`, body, key);

      // Bad input and another merchant change nothing.
      for (const amount of [0, -5, 1.5, '100']) {
        const res = await refund({ amount });
        assert.equal(res.status, 400, `${amount}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'INVALID_AMOUNT');
      }
      const over = await refund({ amount: 2000 });
      assert.equal(over.status, 409, JSON.stringify(over.body));
      assert.equal(over.body.error.code, 'REFUND_EXCEEDS_ORDER');
      const other = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'other', name: 'Other' },
        ADMIN_KEY,
      );
      const foreign = await refund({}, other.body.api_key);
      assert.equal(foreign.status, 404, JSON.stringify(foreign.body));
      assert.deepEqual(await refunds(h), []);

      // A part: all of it from the card's 1,499, across a restart before the processor answers.
      h.app.outbox.paused = true;
      const part = await refund({ amount: 1000 });
      assert.equal(part.status, 200, JSON.stringify(part.body));
      assert.equal(part.body.status, 'refunding');
      const busy = await refund({ amount: 100 });
      assert.equal(busy.status, 409, 'one refund at a time');
      assert.equal(busy.body.error.code, 'PAYMENT_NOT_REFUNDABLE');
      await h.restart({ outboxPaused: true });
      h.app.outbox.paused = false;
      await h.app.settle();
      assert.deepEqual(await refunds(h), [1000]);
      assert.equal(await wallet(h, 'alice'), 0);
      let p = await payment(h, alice, id);
      assert.deepEqual([p.status, p.amount_refunded], ['paid', 1000]);

      // The rest: the card's last 499, and the wallet's 500 back to the wallet.
      const rest = await refund({});
      assert.equal(rest.status, 200, JSON.stringify(rest.body));
      await h.app.settle();
      assert.deepEqual(await refunds(h), [499, 1000]);
      assert.equal(await wallet(h, 'alice'), 500);
      p = await payment(h, alice, id);
      assert.deepEqual([p.status, p.amount_refunded], ['refunded', 1999]);
      const again = await refund({});
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal(again.body.error.code, 'PAYMENT_NOT_REFUNDABLE');
      await h.app.settle();
      assert.deepEqual(await refunds(h), [499, 1000], 'each part once');
      assert.equal(await wallet(h, 'alice'), 500);
      // The merchant and the platform gave back all they had of it.
      for (const account of [`payable:${w.merchant.id}`, 'fees']) {
        const b = await h.request(
          'GET',
          `/v1/ledger/balances?account=${account}`,
          undefined,
          ADMIN_KEY,
        );
        assert.equal(b.body.data[0]?.balance ?? 0, 0, account);
      }
      const hooks = shop.hooks.received
        .map((r) => JSON.parse(r.body))
        .filter((e) => e.type === 'payment.refunded');
      assert.deepEqual(
        hooks.map((e) => e.data.object.amount_refunded).sort((a, b) => a - b),
        [1000, 1999],
      );

      // Paid from the wallet only: refunded to the wallet, the processor never asked.
      await topUp(h, 'alice', 1000);
      const small = await payWithTagpay(h, shop, alice, 1200, 'wallet');
      assert.equal(small.status, 200, JSON.stringify(small.body));
      assert.equal(await wallet(h, 'alice'), 300);
      const back = await h.request(
        'POST',
        `/v1/payments/${small.body.payment.id}/refund`,
        {},
        ADMIN_KEY,
      );
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.status, 'refunded');
      await h.app.settle();
      assert.equal(await wallet(h, 'alice'), 1500);
      assert.deepEqual(await refunds(h), [499, 1000]);
    });

    test('buy-now from the wallet: refunds give the card part to the card and the wallet part to the wallet, once', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      await topUp(h, 'alice', 3000);
      const buy = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        await buyNowBody(h, 'BuyAcmeTee', { variant: 'M', quantity: 2, pay_from: 'wallet' }),
        alice.token,
      );
      assert.equal(buy.status, 201, JSON.stringify(buy.body));
      await h.app.settle();
      const p = await payment(h, alice, buy.body.id);
      assert.deepEqual([p.status, p.wallet_amount, p.card_amount], ['paid', 3000, 2000]);
      assert.deepEqual(await charges(h), [2000, 3000]);
      assert.equal(await wallet(h, 'alice'), 0);
      const orderId: string = p.order_ids[0];
      const refund = (amount?: number) =>
        h.request(
          'POST',
          `/v1/orders/${orderId}/refund`,
          amount === undefined ? {} : { amount },
          ADMIN_KEY,
        );
      // A partial refund goes to the card first, up to what the card paid (as for hashtag orders).
      assert.equal((await refund(1500)).status, 200);
      await h.app.settle();
      assert.deepEqual(await refunds(h), [1500]);
      assert.equal(await wallet(h, 'alice'), 0);
      // The rest: the card's last 500, and the wallet's 3000 back to the wallet.
      assert.equal((await refund()).status, 200);
      await h.app.settle();
      assert.deepEqual(await refunds(h), [500, 1500]);
      assert.equal(await wallet(h, 'alice'), 3000);
      const again = await refund();
      assert.equal(again.status, 409, JSON.stringify(again.body));
      assert.equal(again.body.error.code, 'ORDER_NOT_REFUNDABLE');
      await h.app.settle();
      assert.deepEqual(await refunds(h), [500, 1500], 'each part once');
      assert.equal(await wallet(h, 'alice'), 3000);

      // Wallet only: no charge, and its refund goes to the wallet without the processor.
      const small = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        await buyNowBody(h, 'BuyAcmeTee', { variant: 'S', pay_from: 'wallet' }),
        alice.token,
      );
      assert.equal(small.status, 201, JSON.stringify(small.body));
      assert.equal(small.body.status, 'paid', 'paid at once: nothing for the card');
      await h.app.settle();
      assert.equal(await wallet(h, 'alice'), 500);
      assert.equal((await charges(h)).length, 2);
      await h.restart();
      const smallOrder: string = small.body.order_ids[0];
      const back = await h.request('POST', `/v1/orders/${smallOrder}/refund`, {}, ADMIN_KEY);
      assert.equal(back.status, 200, JSON.stringify(back.body));
      await h.app.settle();
      assert.equal(await wallet(h, 'alice'), 3000);
      assert.deepEqual(await refunds(h), [500, 1500]);
    });

    test('#checkout by post pays as a purchase by hashtag does: the wallet first, the card for the rest', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      await topUp(h, 'alice', 1000);
      const posts = await h.app.local.listPosts({ author: 'acme', limit: 100 });
      const tee = posts.find((p) => p.text.includes('#BuyAcmeTee'))!;
      await post(h, alice, '#cart M', tee.id);
      const checkout = await post(h, alice, '#checkout');
      const [ask] = await repliesTo(h, checkout);
      await post(h, alice, codeIn(ask), checkout);
      await h.app.settle();
      assert.match((await repliesTo(h, checkout)).at(-1)!, /^Paid: 1 item, \$25\.00\./);
      assert.equal(await wallet(h, 'alice'), 0);
      assert.deepEqual(
        await charges(h),
        [1000, 1500],
        'the top-up, then only what the wallet lacked',
      );
    });

    test('a gift card bought with a buy-now link is issued: the code is e-mailed and redeemable', async () => {
      await fresh();
      const alice = w.accounts.alice!;
      await giftCardOffer(h, w);
      await h.app.settle();
      const buy = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        await buyNowBody(h, 'AcmeGift', {}),
        alice.token,
      );
      assert.equal(buy.status, 201, JSON.stringify(buy.body));
      await h.app.settle();
      assert.equal((await payment(h, alice, buy.body.id)).status, 'paid');
      const { rows } = await h.app.db.query<{ order_id: string }>(
        'SELECT order_id FROM gift_cards',
      );
      assert.deepEqual(
        rows.map((r) => r.order_id),
        buy.body.order_ids,
        'one gift card, for the order',
      );
      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      const text = mail.body.data.find((m: { text: string }) => /GC-/.test(m.text))?.text;
      assert.ok(text, 'the gift card code is e-mailed');
      const code = /GC-[A-Z2-7-]{19}/.exec(text)![0];
      const redeemed = await h.request(
        'POST',
        '/v1/gift-cards/redeem',
        { code, handle: 'bob' },
        ADMIN_KEY,
      );
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
      await h.app.settle();
      assert.equal(await wallet(h, 'bob'), 2500);
      // The merchant funds the $10 difference and is not paid the price as for goods.
      const payable = await h.request(
        'GET',
        `/v1/ledger/balances?account=payable:${w.merchant.id}`,
        undefined,
        ADMIN_KEY,
      );
      assert.equal(payable.body.data[0]?.balance ?? 0, -1000);
    });
  });
}
