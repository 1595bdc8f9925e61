import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { commitEffects, commitPlanScript } from '../src/engine/commit.ts';
import { Effects } from '../src/engine/state.ts';
import { after, afterEach, before, describe, test } from 'node:test';
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
  createAccount,
  linkShopper,
  offerState,
  orders,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';

for (const storage of storages()) {
  describe(`buy by hashtag (${storage})`, () => {
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
      h = await openHarness(storage);
      w = await setupWorld(h, { webhookUrl: hooks.url, ...opts });
    }

    test('hashtag → code by reply and e-mail → confirmation → paid, webhook, ledger, address', async () => {
      await fresh();
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, 'I want one! #BuyAcmeTee M x2');
      const [reply] = await repliesTo(h, buyPost);
      assert.match(reply!, /reply with #TP[A-Z2-7]{10} within 15 minutes/);
      const code = codeIn(reply);
      assert.equal((await offerState(h, w)).available, 8, 'two units reserved');

      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      assert.equal(mail.status, 200);
      assert.ok(
        mail.body.data.some((m: { text: string }) => m.text.includes(code)),
        'the code is e-mailed too',
      );

      const confirmPost = await post(h, alice!, `${code}`);
      const [order] = await orders(h, 'alice');
      assert.equal(order.status, 'paid');
      assert.equal(order.amount, 5000);
      assert.equal(order.quantity, 2);
      assert.equal(order.variant, 'M');
      assert.equal(order.currency, 'USD');
      assert.equal(order.offer_id, w.offer.id);
      assert.equal(order.shipping_address.line1, '1 Main St');
      const paidReply = (await repliesTo(h, buyPost)).at(-1)!;
      assert.match(paidReply, /^Paid: 2 × Acme Tee \(M\), \$50\.00\. Order ord_/);
      assert.deepEqual(await repliesTo(h, confirmPost), [], 'the reply goes under the buy post');
      const state = await offerState(h, w);
      assert.equal(state.sold, 2);
      assert.equal(state.available, 8);

      const charges = await h.app.db.query<{ status: string; amount_minor: string }>(
        'SELECT status, amount_minor::text FROM sandbox_charges',
      );
      assert.deepEqual(charges.rows, [{ status: 'captured', amount_minor: '5000' }]);

      const balances = await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY);
      const byAccount = Object.fromEntries(
        balances.body.data.map((b: { account: string; balance: number }) => [b.account, b.balance]),
      );
      assert.equal(
        byAccount[`payable:${w.merchant.id}`],
        5000 - 125,
        'merchant gets the sale less 2.5%',
      );
      assert.equal(byAccount['fees:platform'], 125);

      const hook = hooks.received.find((r) => JSON.parse(r.body).data.object.id === order.id)!;
      assert.ok(hook, 'the merchant got a webhook');
      const event = JSON.parse(hook.body);
      assert.equal(event.type, 'order.paid');
      assert.equal(event.data.object.shipping_address.city, 'Springfield');
      const [t, v1] = String(hook.headers['tagpay-signature'])
        .split(',')
        .map((p) => p.split('=')[1]);
      const expected = createHmac('sha256', w.merchant.webhook_secret)
        .update(`${t}.${hook.body}`)
        .digest('hex');
      assert.equal(v1, expected, 'HMAC-SHA256 signature over "t.payload"');
    });

    test('the code posted by another handle does nothing; a repeat by the owner does nothing more', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee S');
      const code = codeIn((await repliesTo(h, buyPost))[0]);
      const bobPost = await post(h, bob!, `mine now ${code}`);
      assert.deepEqual(await repliesTo(h, bobPost), []);
      assert.equal((await orders(h, 'alice'))[0].status, 'awaiting_confirmation');
      assert.deepEqual(await orders(h, 'bob'), []);
      await post(h, alice!, code);
      const repeat = await post(h, alice!, code);
      assert.match((await repliesTo(h, repeat))[0]!, /already used/, 'the owner is told why');
      const all = await orders(h, 'alice');
      assert.equal(all.length, 1);
      assert.equal(all[0].status, 'paid');
      const charges = await h.app.db.query('SELECT * FROM sandbox_charges');
      assert.equal(charges.rows.length, 1, 'charged once');
    });

    test('wrong codes: after five from one handle its codes pause for an hour, guesses get no answer', async () => {
      await fresh({ windowS: 2 * 60 * 60 });
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee M');
      const code = codeIn((await repliesTo(h, buyPost))[0]);
      const guesses = ['#TPAAAAAAAAAA', '#TPBBBBBBBBBB', '#TPCCCCCCCCCC', '#TPDDDDDDDDDD'];
      for (const guess of guesses) {
        const p = await post(h, alice!, guess);
        assert.deepEqual(await repliesTo(h, p), [], 'a wrong code gets no answer');
      }
      const fifth = await post(h, alice!, '#TPEEEEEEEEEE');
      assert.match((await repliesTo(h, fifth))[0]!, /codes are paused for an hour/);
      const real = await post(h, alice!, code);
      assert.match((await repliesTo(h, real))[0]!, /paused/);
      assert.equal(
        (await orders(h, 'alice'))[0].status,
        'awaiting_confirmation',
        'even the real code waits',
      );
      h.clock.advance(60 * 60 * 1000);
      await post(h, alice!, code);
      assert.equal((await orders(h, 'alice'))[0].status, 'paid', 'after the pause the code works');
    });

    test('no confirmation in time: expiry by the injected clock releases the stock; the late code does nothing', async () => {
      await fresh();
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee L');
      const code = codeIn((await repliesTo(h, buyPost))[0]);
      h.clock.advance(14 * 60 * 1000);
      await h.app.settle();
      assert.equal(
        (await orders(h, 'alice'))[0].status,
        'awaiting_confirmation',
        'still inside the window',
      );
      h.clock.advance(61 * 1000);
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      assert.equal((await offerState(h, w)).available, 10);
      assert.match((await repliesTo(h, buyPost)).at(-1)!, /expired before it was confirmed/);
      const late = await post(h, alice!, code);
      assert.match((await repliesTo(h, late))[0]!, /has expired\. Nothing was charged/);
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      assert.equal((await h.app.db.query('SELECT * FROM sandbox_charges')).rows.length, 0);
    });

    test('sold out: the reply says so, the waitlist is served first in, first out when stock returns', async () => {
      await fresh({ quantity: 1 });
      const { alice, bob, carol } = w.accounts;
      const a = await post(h, alice!, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, a))[0]);
      const b = await post(h, bob!, '#BuyAcmeTee S');
      assert.match((await repliesTo(h, b))[0]!, /sold out.*number 1 on the waitlist/);
      const c = await post(h, carol!, '#BuyAcmeTee L');
      assert.match((await repliesTo(h, c))[0]!, /number 2 on the waitlist/);
      h.clock.advance(15 * 60 * 1000 + 1);
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      const bobReply = (await repliesTo(h, b)).at(-1)!;
      assert.match(bobReply, /came back and is held for you/);
      const bobCode = codeIn(bobReply);
      assert.equal((await orders(h, 'carol')).length, 0, 'carol waits behind bob');
      await post(h, bob!, bobCode);
      const [bobOrder] = await orders(h, 'bob');
      assert.equal(bobOrder.status, 'paid');
      assert.equal(bobOrder.variant, 'S', 'the waitlist keeps the variant asked for');
    });

    test('an unlinked handle gets a sign-up link; its checkout waits and gets its code on sign-up', async () => {
      await fresh();
      const { carol } = w.accounts;
      const buyPost = await post(h, carol!, '#BuyAcmeTee M');
      const [reply] = await repliesTo(h, buyPost);
      assert.match(reply!, /http:\/\/tagpay\.test\/signup\?network=local&handle=carol/);
      assert.equal((await orders(h, 'carol'))[0].status, 'awaiting_signup');
      assert.equal((await offerState(h, w)).available, 9, 'held while carol signs up');
      h.clock.advance(5 * 60 * 1000);
      // Carol links her own card with her own token: the proof that the handle is hers.
      const card = await h.request('POST', '/v1/sandbox/tokens', {
        number: '4242 4242 4242 4242',
        exp_month: 1,
        exp_year: 2031,
        cvc: '999',
      });
      const linked = await h.request(
        'POST',
        '/v1/shoppers',
        {
          handle: 'carol',
          email: 'carol@example.com',
          card_token: card.body.id,
          shipping_address: {
            name: 'Carol',
            line1: '9 Elm St',
            city: 'Paris',
            postal_code: '75001',
            country: 'fr',
          },
        },
        carol!.token,
      );
      assert.equal(linked.status, 201, JSON.stringify(linked.body));
      assert.deepEqual(linked.body.card, { brand: 'visa', last4: '4242' });
      await h.app.settle();
      const code = codeIn((await repliesTo(h, buyPost)).at(-1));
      await post(h, carol!, code);
      const [order] = await orders(h, 'carol');
      assert.equal(order.status, 'paid');
      assert.equal(order.shipping_address.country, 'FR');
    });

    test('a token proves its own handle only', async () => {
      await fresh();
      const card = await h.request('POST', '/v1/sandbox/tokens', {
        number: '4242424242424242',
        exp_month: 1,
        exp_year: 2031,
        cvc: '999',
      });
      const res = await h.request(
        'POST',
        '/v1/shoppers',
        {
          handle: 'alice',
          email: 'evil@example.com',
          card_token: card.body.id,
          shipping_address: {
            name: 'Mallory',
            line1: '1 Bad St',
            city: 'X',
            postal_code: '1',
            country: 'US',
          },
        },
        w.accounts.carol!.token,
      );
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'FORBIDDEN');
    });

    test('#cancel drops the pending checkout and releases the stock', async () => {
      await fresh();
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee M x3');
      const code = codeIn((await repliesTo(h, buyPost))[0]);
      assert.equal((await offerState(h, w)).available, 7);
      const cancelPost = await post(h, alice!, '#cancel');
      assert.match((await repliesTo(h, cancelPost))[0]!, /Canceled/);
      assert.equal((await orders(h, 'alice'))[0].status, 'canceled');
      assert.equal((await offerState(h, w)).available, 10);
      const dead = await post(h, alice!, code);
      assert.match((await repliesTo(h, dead))[0]!, /was canceled/);
      assert.equal((await orders(h, 'alice'))[0].status, 'canceled', 'a canceled code is dead');
      const again = await post(h, alice!, '#cancel');
      assert.match((await repliesTo(h, again))[0]!, /no pending checkout/);
    });

    for (const [who, reason, text] of [
      ['dave', 'card_declined', /declined by your bank/],
      ['erin', 'insufficient_funds', /insufficient funds/],
    ] as const) {
      test(`${reason}: the order fails, the stock is released, the reply says why`, async () => {
        await fresh();
        const account = w.accounts[who]!;
        const buyPost = await post(h, account, '#BuyAcmeTee M');
        await post(h, account, codeIn((await repliesTo(h, buyPost))[0]));
        const [order] = await orders(h, who);
        assert.equal(order.status, 'failed');
        assert.equal(order.failure_reason, reason);
        assert.equal((await offerState(h, w)).available, 10);
        assert.match((await repliesTo(h, buyPost)).at(-1)!, text);
        assert.match((await repliesTo(h, buyPost)).at(-1)!, /Nothing was charged/);
      });
    }

    test('a processor error is retried with backoff, then the order fails', async () => {
      await fresh();
      const { frank } = w.accounts;
      const buyPost = await post(h, frank!, '#BuyAcmeTee M');
      await post(h, frank!, codeIn((await repliesTo(h, buyPost))[0]));
      assert.equal(
        (await orders(h, 'frank'))[0].status,
        'charging',
        'first attempt failed, retry scheduled',
      );
      const row = await h.app.db.query<{ attempts: number }>(
        "SELECT attempts FROM outbox WHERE kind = 'charge'",
      );
      assert.equal(row.rows[0]!.attempts, 1);
      h.clock.advance(2_000);
      await h.app.settle();
      assert.equal((await orders(h, 'frank'))[0].status, 'charging');
      h.clock.advance(4_000);
      await h.app.settle();
      const [order] = await orders(h, 'frank');
      assert.equal(order.status, 'failed');
      assert.equal(order.failure_reason, 'processor_error');
      assert.match((await repliesTo(h, buyPost)).at(-1)!, /could not reach your card issuer/);
    });

    test('two handles racing for the last unit: exactly one order', async () => {
      await fresh({ quantity: 1 });
      const { alice, bob } = w.accounts;
      // Both posts land in the log before the engine runs, so they are decided in one batch.
      const [ra, rb] = await Promise.all([
        h.request('POST', '/v1/local/posts', { text: '#BuyAcmeTee M' }, alice!.token),
        h.request('POST', '/v1/local/posts', { text: '#BuyAcmeTee M' }, bob!.token),
      ]);
      await h.app.settle();
      const first = Number(ra.body.id) < Number(rb.body.id) ? 'alice' : 'bob';
      const second = first === 'alice' ? 'bob' : 'alice';
      const firstPost = first === 'alice' ? ra.body.id : rb.body.id;
      const secondPost = first === 'alice' ? rb.body.id : ra.body.id;
      assert.equal((await orders(h, first)).length, 1, 'first in the log wins');
      assert.equal((await orders(h, second)).length, 0);
      assert.match((await repliesTo(h, secondPost))[0]!, /sold out/);
      await post(h, w.accounts[first]!, codeIn((await repliesTo(h, firstPost))[0]));
      assert.equal((await offerState(h, w)).sold, 1);
      assert.equal((await offerState(h, w)).available, 0);
    });

    test('the same post delivered twice gives one checkout', async () => {
      await fresh();
      const buyPost = await post(h, w.accounts.alice!, '#BuyAcmeTee M');
      // Redelivery: the connector forgets its cursor and reads every post again.
      await h.app.db.query("UPDATE cursors SET value = '0' WHERE name = 'connector:local'");
      await h.app.settle();
      const body = {
        kind: 'post' as const,
        network: 'local',
        postId: buyPost,
        author: 'alice',
        text: '#BuyAcmeTee M',
        replyTo: null,
      };
      const [seq] = await h.app.log.append([{ key: `post:local:${buyPost}`, body }]);
      assert.equal(seq, null, 'dropped at the door');
      await h.app.settle();
      assert.equal((await orders(h, 'alice')).length, 1);
      assert.equal((await repliesTo(h, buyPost)).length, 1);
    });

    test('stopped after a commit and before the outbox ran: after restart the charge happens once and the reply goes out', async () => {
      await fresh();
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee M');
      const code = codeIn((await repliesTo(h, buyPost))[0]);
      h.app.outbox.paused = true;
      await post(h, alice!, code);
      assert.equal((await orders(h, 'alice'))[0].status, 'charging');
      assert.equal(
        (await h.app.db.query('SELECT * FROM sandbox_charges')).rows.length,
        0,
        'nothing delivered yet',
      );
      await h.restart();
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'paid');
      assert.equal((await h.app.db.query('SELECT * FROM sandbox_charges')).rows.length, 1);
      assert.match((await repliesTo(h, buyPost)).at(-1)!, /^Paid/);

      // And a delivery repeated after it happened (a crash before the row was marked) is harmless.
      await h.app.db.query(
        "UPDATE outbox SET status = 0, next_at = 0 WHERE kind IN ('charge', 'post', 'email')",
      );
      await h.restart();
      await h.app.settle();
      assert.equal(
        (await h.app.db.query('SELECT * FROM sandbox_charges')).rows.length,
        1,
        'charged once',
      );
      assert.equal(
        (await repliesTo(h, buyPost)).filter((t) => t.startsWith('Paid')).length,
        1,
        'replied once',
      );
      const mails = await h.request(
        'GET',
        '/v1/mailbox?to=alice@example.com',
        undefined,
        ADMIN_KEY,
      );
      assert.equal(
        mails.body.data.filter((m: { subject: string }) => m.subject.startsWith('Receipt')).length,
        1,
        'one receipt',
      );
    });

    test('restart rebuilds pending checkouts, codes, waitlists and deadlines from the database', async () => {
      await fresh({ quantity: 1 });
      const { alice, bob } = w.accounts;
      const a = await post(h, alice!, '#BuyAcmeTee M');
      const code = codeIn((await repliesTo(h, a))[0]);
      const b = await post(h, bob!, '#BuyAcmeTee S');
      await h.restart();
      h.clock.advance(16 * 60 * 1000);
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      await h.restart();
      const late = await post(h, alice!, code);
      assert.match(
        (await repliesTo(h, late))[0]!,
        /has expired/,
        'retired codes are rebuilt at start too',
      );
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      await post(h, bob!, codeIn((await repliesTo(h, b)).at(-1)));
      assert.equal((await orders(h, 'bob'))[0].status, 'paid');
    });

    test('variants, quantities and limits are answered in plain words', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      const none = await post(h, alice!, '#BuyAcmeTee');
      assert.match((await repliesTo(h, none))[0]!, /Which one\? .*S, M, L/);
      const wrong = await post(h, alice!, '#BuyAcmeTee XXL');
      assert.match((await repliesTo(h, wrong))[0]!, /don't have that option/);
      const many = await post(h, alice!, '#BuyAcmeTee M x11');
      assert.match((await repliesTo(h, many))[0]!, /between 1 and 10/);
      await linkShopper(h, bob!, '4242424242424242', {
        limits: { per_purchase: 3000, per_day: 6000, currency: 'USD' },
      });
      await h.app.settle();
      const over = await post(h, bob!, '#BuyAcmeTee M x2');
      assert.match((await repliesTo(h, over))[0]!, /above your per-purchase limit of \$30\.00/);
      const first = await post(h, bob!, '#BuyAcmeTee M');
      const second = await post(h, bob!, '#BuyAcmeTee L');
      const third = await post(h, bob!, '#BuyAcmeTee S');
      codeIn((await repliesTo(h, first))[0]);
      codeIn((await repliesTo(h, second))[0]);
      assert.match((await repliesTo(h, third))[0]!, /daily spending limit of \$60\.00/);
      assert.equal((await orders(h, 'alice')).length, 0);
      assert.equal((await orders(h, 'bob')).length, 2);
    });

    test('per-buyer cap, and posts that are not commands are ignored', async () => {
      await fresh({ perBuyerMax: 2 });
      const { alice } = w.accounts;
      const ok = await post(h, alice!, '#BuyAcmeTee M x2');
      codeIn((await repliesTo(h, ok))[0]);
      const capped = await post(h, alice!, '#BuyAcmeTee S');
      assert.match((await repliesTo(h, capped))[0]!, /limited to 2 per buyer/);
      for (const text of [
        'just chatting',
        '#NoSuchOffer x2',
        '#BuyАcmeTee M',
        '#ＢｕｙＡｃｍｅＴｅｅ M',
        'email me at a#BuyAcmeTee',
        '#tpaaaaaaaaaa',
      ]) {
        const p = await post(h, w.accounts.bob!, text);
        assert.deepEqual(await repliesTo(h, p), [], `ignored: ${text}`);
      }
      const long = await h.request(
        'POST',
        '/v1/local/posts',
        { text: '#BuyAcmeTee M ' + 'x'.repeat(10_000) },
        w.accounts.bob!.token,
      );
      assert.equal(long.status, 400);
      assert.equal(long.body.error.code, 'TEXT_TOO_LONG');
      assert.equal((await orders(h, 'bob')).length, 0);
    });

    test('a full refund reverses the ledger, refunds the charge once, restocks and tells both sides', async () => {
      await fresh({ quantity: 1 });
      const { alice, bob } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee M');
      await post(h, alice!, codeIn((await repliesTo(h, buyPost))[0]));
      const waiting = await post(h, bob!, '#BuyAcmeTee L');
      assert.match((await repliesTo(h, waiting))[0]!, /waitlist/);
      const [order] = await orders(h, 'alice');
      const early = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        { restock: 'yes' },
        w.merchant.api_key,
      );
      assert.equal(early.status, 400);
      const other = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'other', name: 'Other' },
        ADMIN_KEY,
      );
      const foreign = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        {},
        other.body.api_key,
      );
      assert.equal(foreign.status, 404, 'another merchant cannot refund it');
      const res = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        { restock: true },
        w.merchant.api_key,
        { 'idempotency-key': 'refund-1' },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.status, 'refunding');
      await h.app.settle();
      const again = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        {},
        w.merchant.api_key,
      );
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'ORDER_NOT_REFUNDABLE');
      const [refunded] = await orders(h, 'alice');
      assert.equal(refunded.status, 'refunded');
      const refunds = await h.app.db.query<{ amount_minor: string }>(
        'SELECT amount_minor::text FROM sandbox_refunds',
      );
      assert.deepEqual(refunds.rows, [{ amount_minor: '2500' }]);
      const balances = await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY);
      for (const b of balances.body.data)
        assert.equal(b.balance, 0, `${b.account} is back to zero`);
      assert.match((await repliesTo(h, buyPost)).at(-1)!, /^Refunded: \$25\.00/);
      assert.match(
        (await repliesTo(h, waiting)).at(-1)!,
        /came back and is held for you/,
        'the restocked unit serves the waitlist',
      );
      const types = hooks.received
        .map((r) => JSON.parse(r.body))
        .filter((e) => e.data.object.id === order.id)
        .map((e) => e.type);
      assert.deepEqual(types, ['order.paid', 'order.refunded']);
    });

    test('a refund that failed at the processor can be asked again, and then reaches the ledger', async () => {
      await fresh();
      const { alice } = w.accounts;
      const buyPost = await post(h, alice!, '#BuyAcmeTee M');
      await post(h, alice!, codeIn((await repliesTo(h, buyPost))[0]));
      const [order] = await orders(h, 'alice');
      const processor = h.app.processor;
      const refund = processor.refund.bind(processor);
      let failures = 3;
      processor.refund = async (...args) =>
        failures-- > 0 ? { ok: false, message: 'processor down' } : refund(...args);
      const first = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        {},
        w.merchant.api_key,
      );
      assert.equal(first.status, 200);
      for (let i = 0; i < 3; i++) {
        h.clock.advance(10_000);
        await h.app.settle();
      }
      const [back] = await orders(h, 'alice');
      assert.equal(back.status, 'paid', 'the failed refund leaves the order paid');
      assert.match(back.failure_reason, /refund_failed/);
      const second = await h.request(
        'POST',
        `/v1/orders/${order.id}/refund`,
        {},
        w.merchant.api_key,
      );
      assert.equal(second.status, 200, JSON.stringify(second.body));
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'refunded');
      const balances = await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY);
      for (const b of balances.body.data) assert.equal(b.balance, 0, `${b.account} reversed`);
    });

    test('a batch is committed only where the engine left the cursor (no second writer, no batch twice)', async () => {
      await fresh();
      const { rows } = await h.app.db.query<{ value: string }>(
        "SELECT value FROM cursors WHERE name = 'engine'",
      );
      const at = BigInt(rows[0]!.value);
      await assert.rejects(
        h.app.db.transaction((tx) => commitEffects(tx, new Effects(), at - 1n, at + 5n, [])),
        /no longer/,
      );
      // The engine's own path, the batch as one script: the check raises before the batch writes.
      await assert.rejects(
        commitPlanScript(h.app.db, at - 1n, at + 5n, [
          ['INSERT INTO settings (name, value) VALUES ($1, $2)', ['cursor-probe', "it's"]],
        ]),
        /no longer/,
      );
      const later = await h.app.db.query<{ value: string }>(
        "SELECT value FROM cursors WHERE name = 'engine'",
      );
      assert.equal(later.rows[0]!.value, rows[0]!.value, 'nothing moved');
      const probe = await h.app.db.query("SELECT 1 FROM settings WHERE name = 'cursor-probe'");
      assert.equal(probe.rows.length, 0, 'nothing of the batch written');
      // Where the cursor is, the same script commits, its literal intact.
      await commitPlanScript(h.app.db, at, at, [
        ['INSERT INTO settings (name, value) VALUES ($1, $2)', ['cursor-probe', "it's"]],
      ]);
      const written = await h.app.db.query<{ value: string }>(
        "SELECT value FROM settings WHERE name = 'cursor-probe'",
      );
      assert.equal(written.rows[0]?.value, "it's");
      await h.app.db.query("DELETE FROM settings WHERE name = 'cursor-probe'");
    });

    test('a lost merchant key is replaced: the new key works, every old one is revoked', async () => {
      await fresh();
      const old = w.merchant.api_key;
      assert.equal((await h.request('GET', '/v1/merchants/me', undefined, old)).status, 200);
      const forbidden = await h.request(
        'POST',
        `/v1/merchants/${w.merchant.id}/keys`,
        undefined,
        old,
      );
      assert.equal(forbidden.status, 403, 'only the operator issues keys');
      const res = await h.request(
        'POST',
        `/v1/merchants/${w.merchant.id}/keys`,
        undefined,
        ADMIN_KEY,
        { 'idempotency-key': 'rotate-1' },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(res.body.api_key, /^sk_[a-z2-7]{40}$/);
      const gone = await h.request('GET', '/v1/merchants/me', undefined, old);
      assert.equal(gone.status, 401, 'the old key is revoked');
      const me = await h.request('GET', '/v1/merchants/me', undefined, res.body.api_key);
      assert.equal(me.status, 200);
      assert.equal(me.body.id, w.merchant.id);
      const replay = await h.request(
        'POST',
        `/v1/merchants/${w.merchant.id}/keys`,
        undefined,
        ADMIN_KEY,
        { 'idempotency-key': 'rotate-1' },
      );
      assert.equal(replay.body.api_key, null, 'a replay never shows a key again');
      assert.equal(
        (await h.request('GET', '/v1/merchants/me', undefined, res.body.api_key)).status,
        200,
      );
      const unknown = await h.request('POST', '/v1/merchants/mer_nope/keys', undefined, ADMIN_KEY);
      assert.equal(unknown.status, 404);
    });

    test("a merchant handle made by tagpay can still be claimed by its owner; tagpay's cannot", async () => {
      await fresh();
      const claim = await h.request('POST', '/v1/local/accounts', { handle: 'acme' });
      assert.equal(claim.status, 201, 'the first sign-up claims the merchant account');
      const twice = await h.request('POST', '/v1/local/accounts', { handle: 'acme' });
      assert.equal(twice.status, 409);
      const bot = await h.request('POST', '/v1/local/accounts', { handle: 'tagpay' });
      assert.equal(bot.status, 409);
      assert.equal(bot.body.error.code, 'HANDLE_TAKEN');
    });

    test("tagpay never reads its own posts or the merchant's offer post as a purchase", async () => {
      await fresh();
      await h.app.settle();
      const { rows } = await h.app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
      assert.equal(rows[0]!.n, 0);
      const offerPosts = await h.app.local.listPosts({ author: 'acme', limit: 10 });
      assert.equal(offerPosts.length, 1, 'publishing posts the offer from the merchant handle');
      assert.match(offerPosts[0]!.text, /Reply #BuyAcmeTee to buy/);
      const reply = await post(h, w.accounts.alice!, '#BuyAcmeTee M', offerPosts[0]!.id);
      codeIn((await repliesTo(h, reply))[0]);
      const mentions = await h.request('GET', '/v1/local/posts?mentions=acme');
      assert.ok(
        mentions.body.data.some((p: { id: string }) => p.id === reply),
        'a reply to acme shows under mentions=acme',
      );
    });
  });
}

test('webhook URLs on private or loopback addresses are refused unless the operator allows them', async () => {
  const h = await openHarness('pglite', { env: { TAGPAY_WEBHOOK_ALLOW_PRIVATE: '0' } });
  try {
    for (const url of [
      'http://127.0.0.1:9/hooks',
      'http://169.254.169.254/latest',
      'http://localhost/x',
      'http://[::1]/x',
    ]) {
      const res = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'probe', name: 'Probe', webhook_url: url },
        ADMIN_KEY,
      );
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'WEBHOOK_URL_NOT_ALLOWED');
    }
    const { rows } = await h.app.db.query('SELECT * FROM merchants');
    assert.equal(rows.length, 0, 'nothing written');
  } finally {
    await h.close();
  }
});

test('the account is created, the tokens are hashed, and the handle is validated', async () => {
  const h = await openHarness('pglite');
  try {
    const a = await createAccount(h, 'Zed');
    assert.equal(a.handle, 'zed');
    assert.match(a.token, /^lt_[a-z2-7]{40}$/);
    const { rows } = await h.app.db.query<{ hash: string }>('SELECT hash FROM local_tokens');
    assert.ok(rows.every((r) => r.hash !== a.token && r.hash.length === 64));
    const dup = await h.request('POST', '/v1/local/accounts', { handle: 'zed' });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 'HANDLE_TAKEN');
    // Credentials are checked before the body: a caller without a key learns nothing about the route.
    for (const [path, body] of [
      ['/v1/merchants', { nope: 1 }],
      ['/v1/offers', {}],
      ['/v1/shoppers', 'not json'],
      ['/v1/local/posts', {}],
    ] as const) {
      const res = await h.request('POST', path, body);
      assert.equal(res.status, 401, path);
      assert.equal(res.body.error.code, 'UNAUTHENTICATED');
    }
    const stale = await h.request('POST', '/v1/local/posts', { text: 'hi' }, 'lt_not_a_token');
    assert.match(stale.body.error.message, /not valid/);
    const bad = await h.request('POST', '/v1/local/accounts', { handle: 'no spaces!' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_HANDLE');
  } finally {
    await h.close();
  }
});
