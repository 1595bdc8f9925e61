import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  createAccount,
  linkShopper,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';
import { giftCardOffer } from './support/money.ts';

const DAY = 24 * 60 * 60 * 1000;

/** The wallet of a local handle, by currency, in minor units (the API). */
async function wallet(h: Harness, handle: string): Promise<Record<string, number>> {
  const res = await h.request('GET', `/v1/wallets/${handle}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.handle, handle);
  return Object.fromEntries(
    res.body.balances.map((b: { currency: string; amount: number }) => [b.currency, b.amount]),
  );
}

async function topUp(h: Harness, handle: string, amount: number, currency = 'USD') {
  const res = await h.request(
    'POST',
    `/v1/wallets/${handle}/top-ups`,
    { amount, currency },
    ADMIN_KEY,
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await h.app.settle();
  return res.body;
}

async function balance(h: Harness, account: string, currency = 'USD'): Promise<number> {
  const { rows } = await h.app.db.query<{ b: string }>(
    'SELECT balance::text AS b FROM balances WHERE account = $1 AND currency = $2',
    [account, currency],
  );
  return rows[0] ? Number(rows[0].b) : 0;
}

async function mail(h: Harness, to: string): Promise<{ subject: string; text: string }[]> {
  const res = await h.request('GET', `/v1/mailbox?to=${to}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200);
  return res.body.data;
}

async function payments(h: Harness): Promise<any[]> {
  const { rows } = await h.app.db.query('SELECT * FROM handle_payments ORDER BY created_at, id');
  return rows;
}

async function shopperId(h: Harness, handle: string): Promise<string> {
  const res = await h.request('GET', `/v1/shoppers/local/${handle}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200);
  return res.body.id;
}

/** Asserts no wallet and no hold account is negative, read back from the database. */
async function assertNoNegativeWallet(h: Harness): Promise<void> {
  const { rows } = await h.app.db.query(
    "SELECT account, balance::text FROM balances WHERE (account LIKE 'wallet:%' OR account = 'holds:pending') AND balance < 0",
  );
  assert.deepEqual(rows, []);
}

for (const storage of storages()) {
  describe(`money by post (${storage})`, () => {
    let h: Harness;
    let w: World;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await assertNoNegativeWallet(h);
      await h.close();
    });

    async function fresh() {
      h = await openHarness(storage);
      w = await setupWorld(h);
    }

    test('#pay to a new recipient needs a code; the next small one does not; wallets are credited', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      await topUp(h, 'alice', 5000);
      assert.deepEqual(await wallet(h, 'alice'), { USD: 5000 });
      const first = await post(h, alice!, '#pay @bob $10 pizza');
      const [ask] = await repliesTo(h, first);
      assert.match(ask!, /To send \$10\.00 to @bob, reply with #TP[A-Z2-7]{10} within 15 minutes/);
      assert.ok(
        (await mail(h, 'alice@example.com')).some((m) => m.text.includes(codeIn(ask))),
        'the code is e-mailed too',
      );
      assert.deepEqual(await wallet(h, 'bob'), {}, 'nothing moves before the code');
      // Bob posting alice's code does nothing.
      await post(h, bob!, codeIn(ask));
      assert.deepEqual(await wallet(h, 'bob'), {});
      await post(h, alice!, codeIn(ask));
      assert.deepEqual(await wallet(h, 'bob'), { USD: 1000 });
      assert.deepEqual(await wallet(h, 'alice'), { USD: 4000 });
      assert.match(
        (await repliesTo(h, first)).at(-1)!,
        /Done: @alice sent \$10\.00 to @bob for pizza/,
      );
      assert.ok((await mail(h, 'bob@example.com')).some((m) => /received \$10\.00/.test(m.text)));

      const second = await post(h, alice!, '#pay @bob 5 USD coffee');
      assert.match((await repliesTo(h, second))[0]!, /Done: @alice sent \$5\.00 to @bob/);
      assert.deepEqual(await wallet(h, 'bob'), { USD: 1500 });

      const big = await post(h, alice!, '#pay @bob $25.01 rent');
      assert.match((await repliesTo(h, big))[0]!, /reply with #TP/, 'above $25 a code again');
      const exactly = await post(h, alice!, '#pay @bob $25');
      assert.match((await repliesTo(h, exactly))[0]!, /Done/, '$25 is not above the threshold');
    });

    test('funding: the wallet first, then the card for the rest; a declined card returns the reserved part', async () => {
      await fresh();
      const { alice, dave } = w.accounts;
      await topUp(h, 'alice', 300);
      const p = await post(h, alice!, '#pay @bob $10');
      await post(h, alice!, codeIn((await repliesTo(h, p))[0]));
      assert.deepEqual(await wallet(h, 'alice'), { USD: 0 });
      assert.deepEqual(await wallet(h, 'bob'), { USD: 1000 });
      const charges = await h.app.db.query<{ amount_minor: string }>(
        "SELECT amount_minor::text FROM sandbox_charges WHERE status = 'captured' ORDER BY created_at",
      );
      assert.deepEqual(
        charges.rows.map((r) => r.amount_minor),
        ['300', '700'],
        'the top-up, then only the shortfall',
      );
      const [pay] = (await payments(h)).filter((r) => r.status === 'completed');
      assert.equal(String(pay.wallet_minor), '300');
      assert.equal(String(pay.card_minor), '700');

      // Dave's card is declined: he has $3 in his wallet from alice, wants to send $10.
      const gift = await post(h, alice!, '#pay @dave $3');
      await post(h, alice!, codeIn((await repliesTo(h, gift))[0]));
      assert.deepEqual(await wallet(h, 'dave'), { USD: 300 });
      const d = await post(h, dave!, '#pay @bob $10');
      await post(h, dave!, codeIn((await repliesTo(h, d))[0]));
      assert.match(
        (await repliesTo(h, d)).at(-1)!,
        /could not send the money: your card was declined/,
      );
      assert.deepEqual(await wallet(h, 'dave'), { USD: 300 }, 'the reserved $3 is back');
      assert.equal(await balance(h, 'holds:pending'), 0);
      const failed = (await payments(h)).find((r) => r.status === 'failed');
      assert.equal(failed.failure, 'card_declined');
    });

    test('an unlinked recipient: held as a pending claim, mentioned without the amount, claimed by linking', async () => {
      await fresh();
      const { alice, carol } = w.accounts;
      await topUp(h, 'alice', 2000);
      const p = await post(h, alice!, '#pay @carol $12 thanks');
      await post(h, alice!, codeIn((await repliesTo(h, p))[0]));
      const mention = (await repliesTo(h, p)).find((t) => t.startsWith('@carol'))!;
      assert.match(mention, /@carol, @alice sent you money with tagpay\. Claim it within 14 days/);
      assert.doesNotMatch(mention, /\$12/, 'no amount in public: carol chose nothing yet');
      const claimId = /claim=(hpm_[a-z2-7]+)/.exec(mention)![1]!;
      assert.equal(await balance(h, 'holds:pending'), 1200);
      assert.deepEqual(await wallet(h, 'alice'), { USD: 800 });
      const pending = await h.request('GET', `/v1/claims/${claimId}`);
      assert.equal(pending.status, 200);
      assert.equal(pending.body.status, 'pending');
      assert.equal(pending.body.amount, null, 'the public claim page shows no amount');
      assert.deepEqual(pending.body.from, { network: 'local', handle: 'alice' });

      // A restart in between: the claim is rebuilt from the tables.
      await h.restart();
      await linkShopper(h, carol!, CARDS.ok);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'carol'), { USD: 1200 });
      assert.equal(await balance(h, 'holds:pending'), 0);
      assert.equal((await h.request('GET', `/v1/claims/${claimId}`)).body.status, 'claimed');
      const { rows } = await h.app.db.query<{ kind: string }>(
        'SELECT r.kind FROM hold_resolutions r JOIN holds h ON h.id = r.hold_id WHERE h.ref = $1',
        [claimId],
      );
      assert.deepEqual(rows, [{ kind: 'post' }], 'the hold was posted, once');
      assert.ok(
        (await mail(h, 'alice@example.com')).some((m) => /claimed the \$12\.00/.test(m.text)),
      );
    });

    test('an unclaimed claim goes back to the sender after 14 days; the expired claim is 410 CLAIM_EXPIRED', async () => {
      await fresh();
      const { alice } = w.accounts;
      await topUp(h, 'alice', 1000);
      const p = await post(h, alice!, '#pay @zed $4');
      await post(h, alice!, codeIn((await repliesTo(h, p))[0]));
      const claimId = (await payments(h)).find((r) => r.status === 'pending_claim').id;
      h.clock.advance(14 * DAY - 1000);
      await h.app.settle();
      assert.equal((await h.request('GET', `/v1/claims/${claimId}`)).body.status, 'pending');
      h.clock.advance(1000);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'alice'), { USD: 1000 }, 'the money is back');
      const gone = await h.request('GET', `/v1/claims/${claimId}`);
      assert.equal(gone.status, 410);
      assert.equal(gone.body.error.code, 'CLAIM_EXPIRED');
      assert.ok((await mail(h, 'alice@example.com')).some((m) => /did not claim/.test(m.text)));
      // Linking afterwards claims nothing.
      const zed = await createAccount(h, 'zed');
      await linkShopper(h, zed, CARDS.ok);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'zed'), {});
      const { rows } = await h.app.db.query<{ kind: string }>(
        'SELECT r.kind FROM hold_resolutions r JOIN holds h ON h.id = r.hold_id WHERE h.ref = $1',
        [claimId],
      );
      assert.deepEqual(rows, [{ kind: 'void' }]);
    });

    test('#request: the payer gets a code and pays by confirming; an unlinked payer cannot be asked', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      const r = await post(h, bob!, '#request @alice $7 lunch');
      const [ask] = await repliesTo(h, r);
      assert.match(ask!, /@alice, @bob asks you for \$7\.00 \(lunch\)\. To pay, reply with #TP/);
      await post(h, alice!, codeIn(ask));
      assert.deepEqual(await wallet(h, 'bob'), { USD: 700 });
      assert.deepEqual(await wallet(h, 'alice'), { USD: 0 }, 'charged to the card via the wallet');
      const unlinked = await post(h, bob!, '#request @carol $1');
      assert.match((await repliesTo(h, unlinked))[0]!, /@carol has not linked tagpay yet/);
    });

    test('visibility: the more private choice wins, amounts go by e-mail only', async () => {
      await fresh();
      const { alice } = w.accounts;
      const set = await h.request(
        'POST',
        '/v1/shoppers/local/bob/settings',
        { visibility: 'private' },
        ADMIN_KEY,
      );
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.visibility, 'private');
      await topUp(h, 'alice', 1000);
      const p = await post(h, alice!, '#pay @bob $9 secret');
      const [ask] = await repliesTo(h, p);
      assert.doesNotMatch(ask!, /\$9/, 'no amount in public');
      const code = codeIn(ask);
      assert.ok((await mail(h, 'alice@example.com')).some((m) => /\$9\.00/.test(m.text)));
      await post(h, alice!, code);
      const all = (await repliesTo(h, p)).join('\n');
      assert.doesNotMatch(all, /\$9/);
      assert.match(all, /Done: @alice paid @bob\./);
      assert.ok((await mail(h, 'bob@example.com')).some((m) => /received \$9\.00/.test(m.text)));
      assert.deepEqual(await wallet(h, 'bob'), { USD: 900 });
    });

    test('bad input in posts gets a plain-words reply and moves nothing', async () => {
      await fresh();
      const { alice, carol } = w.accounts;
      const cases: [string, RegExp][] = [
        ['#pay @bob $-5', /below zero/],
        ['#pay @bob $1e9', /could not read "1e9"/],
        ['#pay @bob $10.999', /more decimals than its currency/],
        ['#pay @bob ₿5', /don't know the currency of "₿5"/],
        ['#pay @bob 5 XYZ', /don't know the currency of "XYZ"/],
        ['#pay @alice $1', /cannot pay yourself/],
        ['#pay @bob@mastodon.example $1', /network tagpay does not pay on/],
        ['#pay $5', /Who to\?/],
        ['#pay @bob', /How much\?/],
      ];
      for (const [text, reply] of cases) {
        const p = await post(h, alice!, text);
        assert.match((await repliesTo(h, p))[0] ?? '', reply, text);
      }
      const unlinked = await post(h, carol!, '#pay @bob $1');
      assert.match(
        (await repliesTo(h, unlinked))[0]!,
        /Link your card once at http:\/\/tagpay\.test\/signup/,
      );
      assert.deepEqual(await payments(h), []);
    });

    test('the API: stable codes for bad amounts, self-payments, unknown networks; confirm by code', async () => {
      await fresh();
      const pay = (body: Record<string, unknown>, token = ADMIN_KEY) =>
        h.request('POST', '/v1/handle-payments', { from: 'alice', to: 'bob', ...body }, token);
      const cases: [Record<string, unknown>, number, string][] = [
        [{ amount: '$-5' }, 400, 'INVALID_AMOUNT'],
        [{ amount: '$1e9' }, 400, 'INVALID_AMOUNT'],
        [{ amount: '$10.999' }, 400, 'INVALID_AMOUNT'],
        [{ amount: '₿5' }, 400, 'UNKNOWN_CURRENCY'],
        [{ amount: '$5', to: 'alice' }, 400, 'SELF_PAYMENT'],
        [{ amount: '$5', to: 'bob@elsewhere.example' }, 400, 'UNKNOWN_NETWORK'],
        [{ amount: '$5', network: 'myspace' }, 400, 'UNKNOWN_NETWORK'],
        [{ amount: '$5', from: 'carol' }, 409, 'NOT_LINKED'],
        [{ amount: 5 }, 400, 'INVALID_AMOUNT'],
      ];
      for (const [body, status, code] of cases) {
        const res = await pay(body);
        assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, code, JSON.stringify(body));
        assert.ok(res.body.error.message.length > 10, 'a plain-words message');
      }
      const bobToken = w.accounts.bob!.token;
      assert.equal((await pay({ amount: '$5' }, bobToken)).body.error.code, 'FORBIDDEN');

      await topUp(h, 'alice', 2000);
      const created = await pay({ amount: '10,50 €', memo: 'api' }, w.accounts.alice!.token);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.status, 'awaiting_confirmation');
      assert.equal(created.body.currency, 'EUR');
      await h.app.settle();
      const code = codeIn(
        (await mail(h, 'alice@example.com')).find((m) => /10\.50/.test(m.text))!.text,
      );
      const wrong = await h.request(
        'POST',
        `/v1/handle-payments/${created.body.id}/confirm`,
        { code: '#TPAAAAAAAAAA' },
        ADMIN_KEY,
      );
      assert.equal(wrong.body.error.code, 'INVALID_CODE');
      const confirmed = await h.request(
        'POST',
        `/v1/handle-payments/${created.body.id}/confirm`,
        { code },
        ADMIN_KEY,
        { 'idempotency-key': 'confirm-1' },
      );
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'bob'), { EUR: 1050 });
      const again = await h.request(
        'POST',
        `/v1/handle-payments/${created.body.id}/confirm`,
        { code },
        ADMIN_KEY,
      );
      assert.equal(again.body.error.code, 'PAYMENT_NOT_PENDING');
      const seen = await h.request(
        'GET',
        `/v1/handle-payments/${created.body.id}`,
        undefined,
        bobToken,
      );
      assert.equal(seen.body.status, 'completed');

      // An expired code: the API says so with its own code.
      const late = await pay({ amount: '$30' });
      h.clock.advance(15 * 60 * 1000);
      const expired = await h.request(
        'POST',
        `/v1/handle-payments/${late.body.id}/confirm`,
        { code: '#TPAAAAAAAAAA' },
        ADMIN_KEY,
      );
      assert.equal(expired.status, 410);
      assert.equal(expired.body.error.code, 'CODE_EXPIRED');
      // The same when the clock's tick expired it first: the answer does not depend on who won.
      const ticked = await pay({ amount: '$31' });
      h.clock.advance(15 * 60 * 1000);
      await h.app.settle();
      const afterTick = await h.request(
        'POST',
        `/v1/handle-payments/${ticked.body.id}/confirm`,
        { code: '#TPAAAAAAAAAA' },
        ADMIN_KEY,
      );
      assert.equal(afterTick.status, 410, JSON.stringify(afterTick.body));
      assert.equal(afterTick.body.error.code, 'CODE_EXPIRED');

      const doc = await h.request('GET', '/openapi.json');
      for (const path of [
        '/v1/wallets/{handle}',
        '/v1/wallets/{handle}/top-ups',
        '/v1/wallets/{handle}/withdrawals',
        '/v1/handle-payments',
        '/v1/handle-payments/{id}/confirm',
        '/v1/claims/{id}',
        '/v1/gift-card-offers',
        '/v1/gift-cards/redeem',
        '/v1/gift-cards/check',
        '/v1/shoppers/{network}/{handle}/settings',
      ])
        assert.ok(doc.body.paths[path], `${path} is in the OpenAPI document`);
    });

    test('daily and weekly sending limits per handle', async () => {
      await fresh();
      await topUp(h, 'alice', 200_000);
      // Each payment above $25 is confirmed with the code e-mailed to alice: unconfirmed ones expire
      // and count no more.
      const send = async (amount: string) => {
        const res = await h.request(
          'POST',
          '/v1/handle-payments',
          { from: 'alice', to: 'bob', amount },
          ADMIN_KEY,
        );
        if (res.status !== 201 || res.body.status !== 'awaiting_confirmation') return res;
        await h.app.settle();
        const code = codeIn((await mail(h, 'alice@example.com'))[0]!.text);
        const confirmed = await h.request(
          'POST',
          `/v1/handle-payments/${res.body.id}/confirm`,
          { code },
          ADMIN_KEY,
        );
        assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
        return confirmed;
      };
      const first = await send('$400');
      assert.equal(first.status, 200);
      const over = await send('$100.01');
      assert.equal(over.status, 409);
      assert.equal(over.body.error.code, 'PAYMENT_LIMIT_EXCEEDED');
      assert.match(over.body.error.message, /daily sending limit of \$500\.00/);
      assert.equal((await send('$100')).status, 200, 'up to the limit is fine');
      for (let day = 1; day <= 2; day++) {
        h.clock.advance(DAY);
        assert.equal((await send('$500')).status, 200, `day ${day}`);
      }
      h.clock.advance(DAY);
      const weekly = await send('$1');
      assert.equal(weekly.body.error.code, 'PAYMENT_LIMIT_EXCEEDED');
      assert.match(weekly.body.error.message, /weekly sending limit of \$1,500\.00/);
      await h.restart();
      assert.equal(
        (await send('$1')).body.error.code,
        'PAYMENT_LIMIT_EXCEEDED',
        'after a restart too',
      );
      h.clock.advance(4 * DAY);
      assert.equal((await send('$1')).body.status, 'completed', 'a rolling week');
    });

    test('wallet: withdrawal to the card, insufficient funds, a refused credit is voided; idempotent top-up', async () => {
      await fresh();
      const top = (key: string) =>
        h.request(
          'POST',
          '/v1/wallets/alice/top-ups',
          { amount: 1000, currency: 'USD' },
          w.accounts.alice!.token,
          { 'idempotency-key': key },
        );
      const a = await top('t1');
      const b = await top('t1');
      assert.deepEqual(a.body, b.body);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'alice'), { USD: 1000 }, 'one top-up for one key');
      const withdraw = (handle: string, amount: number) =>
        h.request(
          'POST',
          `/v1/wallets/${handle}/withdrawals`,
          { amount, currency: 'USD' },
          ADMIN_KEY,
        );
      const tooMuch = await withdraw('alice', 1001);
      assert.equal(tooMuch.status, 409);
      assert.equal(tooMuch.body.error.code, 'INSUFFICIENT_FUNDS');
      const out = await withdraw('alice', 600);
      assert.equal(out.status, 202);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'alice'), { USD: 400 });
      const credits = await h.app.db.query<{ amount_minor: string }>(
        'SELECT amount_minor::text FROM sandbox_credits',
      );
      assert.deepEqual(credits.rows, [{ amount_minor: '600' }]);
      const aliceId = await shopperId(h, 'alice');
      assert.equal(await balance(h, `funding:${aliceId}`), -400, 'the card is owed 600 less');

      // Dave's card refuses credits: the withdrawal's hold is voided back to the wallet.
      await h.request(
        'POST',
        '/v1/handle-payments',
        { from: 'alice', to: 'dave', amount: '$2' },
        ADMIN_KEY,
      );
      await h.app.settle();
      const [, code] = [
        null,
        codeIn((await mail(h, 'alice@example.com')).find((m) => /\$2\.00/.test(m.text))!.text),
      ];
      const pid = (await payments(h))[0].id;
      await h.request('POST', `/v1/handle-payments/${pid}/confirm`, { code }, ADMIN_KEY);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'dave'), { USD: 200 });
      assert.equal((await withdraw('dave', 200)).status, 202);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'dave'), { USD: 200 });
      const { rows } = await h.app.db.query(
        'SELECT status, failure FROM wallet_ops WHERE kind = $1',
        ['withdrawal'],
      );
      assert.deepEqual(rows.map((r) => r.status).sort(), ['failed', 'succeeded']);
      assert.equal(
        (await h.request('GET', '/v1/wallets/nobody', undefined, ADMIN_KEY)).status,
        404,
      );
      assert.equal((await h.request('GET', '/v1/wallets/alice')).status, 401);
    });

    test('races: concurrent withdrawals and payments never take a wallet below zero', async () => {
      await fresh();
      await topUp(h, 'alice', 1090);
      // Bob is a known recipient after one confirmed payment, so the next ones need no code.
      const first = await post(h, w.accounts.alice!, '#pay @bob $1');
      await post(h, w.accounts.alice!, codeIn((await repliesTo(h, first))[0]));
      h.app.outbox.paused = true;
      const requests = [];
      for (let i = 0; i < 12; i++) {
        requests.push(
          h.request(
            'POST',
            '/v1/wallets/alice/withdrawals',
            { amount: 300, currency: 'USD' },
            ADMIN_KEY,
          ),
        );
      }
      const results = await Promise.all(requests);
      const accepted = results.filter((r) => r.status === 202).length;
      const refused = results.filter((r) => r.body?.error?.code === 'INSUFFICIENT_FUNDS').length;
      assert.equal(accepted, 3, '990 covers three withdrawals of 300');
      assert.equal(refused, 9);
      assert.equal(await balance(h, `wallet:${await shopperId(h, 'alice')}`), 90);
      h.app.outbox.paused = false;
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'alice'), { USD: 90 });
      // The database refuses a negative wallet on its own (the pair of the engine's assertion).
      await assert.rejects(
        h.app.db.query("UPDATE balances SET balance = -1 WHERE account LIKE 'wallet:%'"),
        /balances_wallet_not_negative/,
      );
    });

    test('gift cards: $25 for $15, the merchant funds $10; the code goes to the buyer once, is redeemed once', async () => {
      await fresh();
      const { alice } = w.accounts;
      const created = await giftCardOffer(h, w);
      assert.equal(created.body.kind, 'gift_card');
      assert.equal(created.body.gift_card_value, 2500);
      const cheap = await h.request(
        'POST',
        '/v1/gift-card-offers',
        {
          title: 'x',
          price: { amount: 1500, currency: 'USD' },
          value: 1000,
          quantity: 1,
          hashtag: 'Xgift',
        },
        w.merchant.api_key,
      );
      assert.equal(cheap.status, 400, 'a card worth less than its price is refused');

      const buy = await post(h, alice!, '#AcmeGift');
      await post(h, alice!, codeIn((await repliesTo(h, buy))[0]));
      const paid = (await repliesTo(h, buy)).at(-1)!;
      assert.match(paid, /Paid: Acme \$25 gift card, \$15\.00\. Your gift card code is on the way/);
      assert.doesNotMatch(paid, /GC-/, 'never in public');
      const mails = (await mail(h, 'alice@example.com')).filter((m) => /GC-/.test(m.text));
      assert.equal(mails.length, 1, 'issued once');
      const code = /GC-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}/.exec(mails[0]!.text)![0];
      const stored = await h.app.db.query<{ code_hash: string }>(
        'SELECT code_hash FROM gift_cards',
      );
      assert.equal(stored.rows.length, 1);
      assert.ok(!stored.rows[0]!.code_hash.includes(code.slice(3, 7)), 'stored hashed');
      assert.equal(await balance(h, 'liability:gift_cards'), 2500);
      assert.equal(await balance(h, `payable:${w.merchant.id}`), -1000, 'the merchant funds $10');

      const check = await h.request('POST', '/v1/gift-cards/check', { code }, ADMIN_KEY);
      assert.equal(check.status, 200);
      assert.equal(check.body.balance, 2500);
      const redeem = () =>
        h.request(
          'POST',
          '/v1/gift-cards/redeem',
          { code: code.toLowerCase(), handle: 'alice' },
          w.accounts.alice!.token,
        );
      const first = await redeem();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(await wallet(h, 'alice'), { USD: 2500 });
      assert.equal(await balance(h, 'liability:gift_cards'), 0);
      const reused = await redeem();
      assert.equal(reused.status, 409);
      assert.equal(reused.body.error.code, 'GIFT_CARD_USED');
      assert.equal(
        (await h.request('POST', '/v1/gift-cards/check', { code }, ADMIN_KEY)).body.balance,
        0,
      );
      const unknown = await h.request(
        'POST',
        '/v1/gift-cards/redeem',
        { code: 'GC-AAAA-AAAA-AAAA-AAAA', handle: 'alice' },
        ADMIN_KEY,
      );
      assert.equal(unknown.body.error.code, 'GIFT_CARD_NOT_FOUND');
      const order = (await h.request('GET', '/v1/orders?handle=alice', undefined, ADMIN_KEY)).body
        .data[0];
      const refund = await h.request('POST', `/v1/orders/${order.id}/refund`, {}, ADMIN_KEY);
      assert.equal(refund.body.error.code, 'ORDER_NOT_REFUNDABLE');
    });

    test('offers are paid from the wallet first, then the card; a refund gives each part back', async () => {
      await fresh();
      const { alice } = w.accounts;
      await topUp(h, 'alice', 1000);
      const buy = await post(h, alice!, '#BuyAcmeTee M');
      await post(h, alice!, codeIn((await repliesTo(h, buy))[0]));
      const [order] = (await h.request('GET', '/v1/orders?handle=alice', undefined, ADMIN_KEY)).body
        .data;
      assert.equal(order.status, 'paid');
      assert.deepEqual(await wallet(h, 'alice'), { USD: 0 });
      const charged = await h.app.db.query<{ amount_minor: string }>(
        'SELECT amount_minor::text FROM sandbox_charges ORDER BY created_at',
      );
      assert.deepEqual(
        charged.rows.map((r) => r.amount_minor),
        ['1000', '1500'],
        'the card pays only what the wallet did not',
      );
      assert.equal(await balance(h, `payable:${w.merchant.id}`), 2500 - 62);
      const refund = await h.request('POST', `/v1/orders/${order.id}/refund`, {}, ADMIN_KEY);
      assert.equal(refund.status, 200, JSON.stringify(refund.body));
      await h.app.settle();
      const refunds = await h.app.db.query<{ amount_minor: string }>(
        'SELECT amount_minor::text FROM sandbox_refunds',
      );
      assert.deepEqual(refunds.rows, [{ amount_minor: '1500' }]);
      assert.deepEqual(
        await wallet(h, 'alice'),
        { USD: 1000 },
        'the wallet part back in the wallet',
      );

      // Paid from the wallet alone: no charge, and the refund needs no processor.
      await topUp(h, 'alice', 2000);
      const again = await post(h, alice!, '#BuyAcmeTee S');
      await post(h, alice!, codeIn((await repliesTo(h, again))[0]));
      assert.match((await repliesTo(h, again)).at(-1)!, /^Paid: Acme Tee \(S\), \$25\.00/);
      assert.deepEqual(await wallet(h, 'alice'), { USD: 500 });
      assert.equal((await h.app.db.query('SELECT * FROM sandbox_charges')).rows.length, 3);
      const second = (
        await h.request('GET', '/v1/orders?handle=alice&status=paid', undefined, ADMIN_KEY)
      ).body.data[0];
      const back = await h.request('POST', `/v1/orders/${second.id}/refund`, {}, ADMIN_KEY);
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.status, 'refunded');
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'alice'), { USD: 3000 });
      assert.equal((await h.app.db.query('SELECT * FROM sandbox_refunds')).rows.length, 1);
    });
  });
}
