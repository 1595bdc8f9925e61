import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { HOUR_MS } from '../src/core/limits.ts';
import type { State } from '../src/engine/state.ts';
import { createHttpApp } from '../src/http/app.ts';
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

/**
 * Money by post and the fraud controls (issue 7 with issue 3's safety.ts): a payment passes the
 * same spending check as a purchase; `#cancel` ends pending payments; wallets, gift cards and
 * claims are rebuilt from the tables after a restart, identical to what the engine held.
 */

const MINUTE = 60 * 1000;

async function wallet(h: Harness, handle: string): Promise<Record<string, number>> {
  const res = await h.request('GET', `/v1/wallets/${handle}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return Object.fromEntries(
    res.body.balances.map((b: { currency: string; amount: number }) => [b.currency, b.amount]),
  );
}

async function topUp(h: Harness, handle: string, amount: number) {
  const res = await h.request(
    'POST',
    `/v1/wallets/${handle}/top-ups`,
    { amount, currency: 'USD' },
    ADMIN_KEY,
  );
  await h.app.settle();
  return res;
}

async function mails(h: Harness, to: string): Promise<{ subject: string; text: string }[]> {
  await h.app.settle();
  const res = await h.request('GET', `/v1/mailbox?to=${to}&limit=100`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200);
  return res.body.data;
}

async function payments(h: Harness): Promise<any[]> {
  const { rows } = await h.app.db.query('SELECT * FROM handle_payments ORDER BY created_at, id');
  return rows;
}

function stepUpToken(text: string | undefined): string {
  const match = /http:\/\/tagpay\.test\/step-up\?t=([A-Za-z0-9_.-]+)/.exec(text ?? '');
  assert.ok(match, `no step-up link in: ${text}`);
  return match[1]!;
}

/** Presses the button of the e-mailed approval page, as a browser would (a form POST). */
async function approve(h: Harness, token: string) {
  const res = await createHttpApp(h.app).request('/step-up', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `t=${encodeURIComponent(token)}`,
  });
  await h.app.settle();
  return { status: res.status, text: await res.text() };
}

async function auditOf(h: Harness, subject: string): Promise<string[]> {
  const res = await h.request(
    'GET',
    `/v1/audit?limit=100&subject=${subject}`,
    undefined,
    ADMIN_KEY,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((e: { action: string }) => e.action).reverse();
}

/** Pays with a post, confirming with the code if one is asked for; answers tagpay's replies. */
async function pay(h: Harness, w: World, from: string, text: string): Promise<string[]> {
  const p = await post(h, w.accounts[from]!, text);
  const first = (await repliesTo(h, p))[0] ?? '';
  if (/reply with #TP/.test(first)) await post(h, w.accounts[from]!, codeIn(first));
  return repliesTo(h, p);
}

/**
 * What the engine holds of money and of the fraud controls' counters, in a comparable form: after a
 * restart, the state read back from the tables must be this, entry for entry.
 */
function moneySnapshot(state: State) {
  const m = state.money;
  const sorted = <T>(xs: Iterable<T>) => [...xs].map((x) => JSON.stringify(x, big)).sort();
  return {
    balances: sorted(state.balances.all()),
    payments: sorted([...m.payments.values()]),
    byCode: sorted([...m.paymentByCode.entries()].map(([k, p]) => [k, p.id])),
    claims: sorted([...m.claims.entries()].map(([k, ps]) => [k, ps.map((p) => p.id)])),
    holds: sorted([...m.holds.values()]),
    pairs: sorted(m.pairs),
    sent: sorted(m.sent.entries()),
    walletOps: sorted([...m.walletOps.values()]),
    settings: sorted(m.settings.entries()),
    giftValues: sorted(m.giftValues.entries()),
    giftCards: sorted([...m.giftCards.values()]),
    orderWallet: sorted(m.orderWallet.entries()),
    shopperByHandle: sorted([...m.shopperByHandle.entries()].map(([k, s]) => [k, s.id])),
    deadlines: m.deadlines.peek(),
    cardSpent: sorted(state.safety.cardSpent.entries()),
    recent: sorted(state.safety.recent.entries()),
    retiredCodes: sorted([...state.retiredCodes].map(([k, c]) => [k, c.handleKey, c.reason])),
  };
}
const big = (_: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

for (const storage of storages()) {
  describe(`money by post and the fraud controls (${storage})`, () => {
    let h: Harness;
    let w: World;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      const { rows } = await h.app.db.query(
        "SELECT account FROM balances WHERE (account LIKE 'wallet:%' OR account = 'holds:pending') AND balance < 0",
      );
      assert.deepEqual(rows, [], 'no wallet below zero');
      await h.close();
    });

    async function fresh(env: Record<string, string> = {}) {
      // The fraud controls on, as an operator runs them; anomalies only where a test asks.
      h = await openHarness(storage, {
        env: {
          TAGPAY_PURCHASES_PER_HOUR_MAX: '10',
          TAGPAY_CARD_DAILY_MAX: '2000',
          TAGPAY_ANOMALY_STEP_UP: '0',
          ...env,
        },
      });
      w = await setupWorld(h);
    }

    test('a frozen account cannot send money: #pay, paying a request, top-ups and withdrawals are refused; its pending payments end', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      assert.equal((await topUp(h, 'alice', 1000)).status, 202);
      const waiting = await post(h, alice!, '#pay @bob $30 rent');
      const code = codeIn((await repliesTo(h, waiting))[0]);
      const request = await post(h, bob!, '#request @alice $5 lunch');
      const requestCode = codeIn((await repliesTo(h, request))[0]);

      // The code's e-mail carries the "not me" link, as a purchase's does: alice presses it.
      const codeMail = (await mails(h, 'alice@example.com')).find(
        (m) => m.subject === 'Confirm: send $30.00 to @bob',
      );
      const notMe = /http:\/\/tagpay\.test\/not-me\?t=([A-Za-z0-9_.-]+)/.exec(codeMail!.text);
      assert.ok(notMe, `no "not me" link in: ${codeMail?.text}`);
      const frozen = await h.request('POST', '/v1/not-me', { token: notMe[1] });
      assert.equal(frozen.status, 200, JSON.stringify(frozen.body));
      await h.app.settle();
      assert.deepEqual(
        (await payments(h)).map((p) => [p.kind, p.status, p.failure]).sort(),
        [
          ['pay', 'canceled', 'frozen'],
          ['request', 'canceled', 'frozen'],
        ],
        'the payments waiting for her code end with the freeze',
      );
      await post(h, alice!, code);
      await post(h, alice!, requestCode);
      assert.deepEqual(await wallet(h, 'bob'), {}, 'her codes no longer send anything');

      const refused = await post(h, alice!, '#pay @bob $5');
      assert.match(
        (await repliesTo(h, refused))[0]!,
        /This account is frozen after a "not me" report, so it cannot send money/,
      );
      const api = await h.request(
        'POST',
        '/v1/handle-payments',
        { from: 'alice', to: 'bob', amount: '$5' },
        ADMIN_KEY,
      );
      assert.equal(api.status, 403, JSON.stringify(api.body));
      assert.equal(api.body.error.code, 'PAYMENT_REFUSED');
      const top = await topUp(h, 'alice', 500);
      assert.equal(top.body.error?.code, 'PAYMENT_REFUSED', JSON.stringify(top.body));
      const withdraw = await h.request(
        'POST',
        '/v1/wallets/alice/withdrawals',
        { amount: 500, currency: 'USD' },
        ADMIN_KEY,
      );
      assert.equal(withdraw.body.error?.code, 'PAYMENT_REFUSED');
      // A request made while she is frozen: confirming it is refused, and says why.
      const again = await post(h, bob!, '#request @alice $6');
      const againCode = codeIn((await repliesTo(h, again))[0]);
      const answer = await post(h, alice!, againCode);
      assert.match((await repliesTo(h, answer))[0]!, /frozen .* cannot send money/);
      assert.equal(
        (await payments(h)).find((p) => String(p.amount_minor) === '600').status,
        'failed',
      );
      assert.deepEqual(await wallet(h, 'alice'), { USD: 1000 }, 'nothing left her wallet');
      assert.deepEqual(await wallet(h, 'bob'), {});

      await h.request('POST', '/v1/shoppers/local/alice/unfreeze', {}, ADMIN_KEY);
      await h.app.settle();
      const sent = await pay(h, w, 'alice', '#pay @bob $5');
      assert.match(sent.at(-1)!, /Done: @alice sent \$5\.00 to @bob/);
    });

    test('above the payer threshold a payment waits for the e-mailed approval link; approving sends it once, also after a restart', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, { limits: { step_up_above: 2000, currency: 'USD' } });
      assert.equal((await topUp(h, 'alice', 1000)).status, 202, 'a top-up asks no step-up');

      const p = await post(h, alice!, '#pay @bob $30 pizza');
      assert.match(
        (await repliesTo(h, p))[0]!,
        /For your safety, approve sending \$30\.00 to @bob from the link we just e-mailed you, within 15 minutes\. Nothing is sent until then\./,
      );
      const [payment] = await payments(h);
      assert.equal(payment.status, 'awaiting_step_up');
      assert.deepEqual(await wallet(h, 'bob'), {}, 'nothing moves before the approval');
      const mail = (await mails(h, 'alice@example.com')).find((m) =>
        /^Approve your payment: \$30\.00 to @bob$/.test(m.subject),
      );
      assert.ok(mail, 'the approval link is e-mailed');
      assert.match(mail.text, /above the amount you asked us to double-check/);
      assert.match(mail.text, /http:\/\/tagpay\.test\/not-me\?t=/, 'with a "not me" link');
      const token = stepUpToken(mail.text);
      const page = await h.request('GET', `/step-up?t=${token}`);
      assert.match(String(page.body), /Approve this payment\?[\s\S]*\$30\.00[\s\S]*@bob/);
      assert.equal((await payments(h))[0].status, 'awaiting_step_up', 'a GET changes nothing');

      const approved = await approve(h, token);
      assert.equal(approved.status, 200, approved.text);
      assert.match(approved.text, /Your payment is being sent/);
      assert.deepEqual(await wallet(h, 'bob'), { USD: 3000 });
      assert.deepEqual(await wallet(h, 'alice'), { USD: 0 }, 'the wallet first, the card the rest');
      assert.match((await repliesTo(h, p)).at(-1)!, /Done: @alice sent \$30\.00 to @bob for pizza/);
      assert.equal((await approve(h, token)).status, 200, 'the same link twice is one approval');
      assert.deepEqual(await wallet(h, 'bob'), { USD: 3000 });
      assert.deepEqual(await auditOf(h, payment.id), ['step_up.asked', 'step_up.passed']);

      // Below the threshold, to a known recipient: at once.
      assert.match((await pay(h, w, 'alice', '#pay @bob $5')).at(-1)!, /^Done/);

      // Paying a request above the threshold: the code, then the approval.
      const r = await post(h, bob!, '#request @alice $25 tickets');
      const answer = await post(h, alice!, codeIn((await repliesTo(h, r))[0]));
      assert.match((await repliesTo(h, answer))[0]!, /approve sending \$25\.00 to @bob/);
      const requestMail = (await mails(h, 'alice@example.com')).find((m) =>
        /\$25\.00 to @bob/.test(m.subject),
      );
      // Restarted in between: the payment waiting for its approval is read back from the tables.
      await h.restart();
      assert.equal((await approve(h, stepUpToken(requestMail!.text))).status, 200);
      assert.deepEqual(await wallet(h, 'bob'), { USD: 3000 + 500 + 2500 });

      // Not approved in time: it expires, nothing is sent, the link no longer works.
      const late = await post(h, alice!, '#pay @bob $21');
      assert.match((await repliesTo(h, late))[0]!, /approve sending \$21\.00/);
      const lateMail = (await mails(h, 'alice@example.com')).find((m) =>
        /\$21\.00 to @bob/.test(m.subject),
      );
      h.clock.advance(15 * MINUTE);
      await h.app.settle();
      assert.equal(
        (await payments(h)).find((p) => String(p.amount_minor) === '2100').status,
        'expired',
      );
      const tooLate = await h.request('POST', '/v1/step-up', {
        token: stepUpToken(lateMail!.text),
      });
      assert.equal(tooLate.status, 409);
      assert.equal(tooLate.body.error.code, 'STEP_UP_NOT_PENDING');
      assert.deepEqual(await wallet(h, 'bob'), { USD: 6000 });
    });

    test('anomalies ask for a step-up too: the first payment soon after linking', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '1' });
      const zoe = await createAccount(h, 'zoe');
      await linkShopper(h, zoe, CARDS.ok);
      await h.app.settle();
      const p = await post(h, zoe, '#pay @bob $3');
      assert.match((await repliesTo(h, p))[0]!, /approve sending \$3\.00 to @bob/);
      const mail = (await mails(h, 'zoe@example.com')).find((m) => /^Approve/.test(m.subject));
      assert.match(mail!.text, /first time this handle spends since it was linked/);
      assert.equal((await approve(h, stepUpToken(mail!.text))).status, 200);
      assert.deepEqual(await wallet(h, 'bob'), { USD: 300 });
    });

    test('velocity per handle counts payments and purchases together, and survives a restart', async () => {
      await fresh({ TAGPAY_PURCHASES_PER_HOUR_MAX: '3', TAGPAY_CARD_DAILY_MAX: '0' });
      const { alice } = w.accounts;
      for (let i = 0; i < 2; i++)
        assert.match((await pay(h, w, 'alice', '#pay @bob $1')).at(-1)!, /^Done/);
      const buy = await post(h, alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, buy))[0]!, /reply with #TP/, 'the third spend of the hour');
      const fourth = await post(h, alice!, '#pay @bob $1');
      assert.match(
        (await repliesTo(h, fourth))[0]!,
        /Too many payments and purchases from this account in the last hour \(at most 3\)/,
      );
      await h.restart();
      const api = await h.request(
        'POST',
        '/v1/handle-payments',
        { from: 'alice', to: 'bob', amount: '$1' },
        ADMIN_KEY,
      );
      assert.equal(api.body.error?.code, 'PAYMENT_REFUSED', 'after a restart too');
      h.clock.advance(HOUR_MS);
      assert.match((await pay(h, w, 'alice', '#pay @bob $1')).at(-1)!, /^Done/, 'an hour later');
    });

    test("the card's daily amount counts what payments and top-ups charge to it, not what the wallet pays", async () => {
      await fresh({ TAGPAY_CARD_DAILY_MAX: '50', TAGPAY_PURCHASES_PER_HOUR_MAX: '0' });
      const { alice } = w.accounts;
      assert.match((await pay(h, w, 'alice', '#pay @bob $30')).at(-1)!, /^Done/);
      assert.equal((await topUp(h, 'alice', 1000)).status, 202, '$40 on the card today');
      const over = await post(h, alice!, '#pay @bob $25');
      assert.match(
        (await repliesTo(h, over))[0]!,
        /This would pass the daily amount allowed on your card \(\$50\.00\)/,
        '$10 from the wallet, $15 more on the card is too much',
      );
      assert.match((await pay(h, w, 'alice', '#pay @bob $20')).at(-1)!, /^Done/, 'exactly $50');
      assert.deepEqual(await wallet(h, 'bob'), { USD: 5000 });
      await h.restart();
      const after = await post(h, alice!, '#pay @bob $1');
      assert.match((await repliesTo(h, after))[0]!, /daily amount allowed on your card/);
      const top = await topUp(h, 'alice', 100);
      assert.equal(top.body.error?.code, 'PAYMENT_REFUSED', 'a top-up is a card charge too');
    });

    test('#cancel ends pending payment codes and says what it canceled; the other side of a request hears of it', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      const payPost = await post(h, alice!, '#pay @bob $30');
      const payCode = codeIn((await repliesTo(h, payPost))[0]);
      const request = await post(h, bob!, '#request @alice $5');
      const buy = await post(h, alice!, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, buy))[0]);
      const cancel = await post(h, alice!, '#cancel');
      assert.equal(
        (await repliesTo(h, cancel))[0],
        'Canceled: your pending checkout is dropped and nothing was charged. ' +
          'Canceled: your payment to @bob; the request from @bob. Nothing was sent.',
      );
      assert.deepEqual(
        (await payments(h)).map((p) => p.status),
        ['canceled', 'canceled'],
      );
      const late = await post(h, alice!, payCode);
      assert.match(
        (await repliesTo(h, late))[0]!,
        /That was canceled, so its code no longer works/,
      );
      assert.deepEqual(await wallet(h, 'bob'), {});
      assert.ok(
        (await mails(h, 'bob@example.com')).some((m) =>
          /@alice declined your request/.test(m.text),
        ),
      );
      void request;

      // The requester withdraws their own request.
      await post(h, bob!, '#request @alice $6');
      const withdrawn = await post(h, bob!, '#cancel');
      assert.equal(
        (await repliesTo(h, withdrawn))[0],
        'Canceled: your request to @alice. Nothing was sent.',
      );
      assert.ok(
        (await mails(h, 'alice@example.com')).some((m) =>
          /@bob withdrew their request/.test(m.text),
        ),
      );
      const nothing = await post(h, alice!, '#cancel');
      assert.match((await repliesTo(h, nothing))[0]!, /no pending checkout to cancel/);
      // What was canceled counts no more against the sending limits.
      const { rows } = await h.app.db.query(
        "SELECT 1 FROM handle_payments WHERE status <> 'canceled'",
      );
      assert.equal(rows.length, 0);
      assert.equal(h.app.engine.view.money.sent.size, 0);
    });

    test('#request to a handle that has not linked: a plain answer with the sign-up link to pass on, PAYER_NOT_LINKED in the API', async () => {
      await fresh();
      const r = await post(h, w.accounts.bob!, '#request @carol $4 pizza');
      assert.equal(
        (await repliesTo(h, r))[0],
        '@carol has not linked tagpay yet, so we cannot ask them for money. Once they link their ' +
          'account at http://tagpay.test/signup?network=local&handle=carol, post your request again.',
      );
      const api = await h.request(
        'POST',
        '/v1/handle-payments',
        { from: 'bob', to: 'carol', amount: '$4', kind: 'request' },
        ADMIN_KEY,
      );
      assert.equal(api.status, 409);
      assert.equal(api.body.error.code, 'PAYER_NOT_LINKED');
      assert.match(api.body.error.message, /signup\?network=local&handle=carol/);
      assert.deepEqual(await payments(h), []);
    });

    test('wallets, gift cards (issued, redeemed, balances) and pending claims are read back from the tables after a restart', async () => {
      await fresh({ TAGPAY_CARD_DAILY_MAX: '0', TAGPAY_PURCHASES_PER_HOUR_MAX: '0' });
      const { alice } = w.accounts;
      await giftCardOffer(h, w);
      const buy = await post(h, alice!, '#AcmeGift x2');
      await post(h, alice!, codeIn((await repliesTo(h, buy))[0]));
      const mail = (await mails(h, 'alice@example.com')).find((m) => /GC-/.test(m.text))!;
      const codes = mail.text.match(/GC-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}/g)!;
      assert.equal(codes.length, 2);
      const redeem = (code: string, handle: string) =>
        h.request('POST', '/v1/gift-cards/redeem', { code, handle }, ADMIN_KEY);
      assert.equal((await redeem(codes[0]!, 'alice')).status, 200);
      await topUp(h, 'bob', 700);
      await h.request(
        'POST',
        '/v1/shoppers/local/bob/settings',
        { visibility: 'private', default_currency: 'EUR' },
        ADMIN_KEY,
      );
      // Two claims for handles that have not linked, and a payment waiting for its code.
      await pay(h, w, 'alice', '#pay @zed $4');
      await pay(h, w, 'alice', '#pay @carol $3');
      await post(h, alice!, '#pay @bob $20');
      // A withdrawal in flight: its hold is open while the processor is away.
      h.app.outbox.paused = true;
      await h.request(
        'POST',
        '/v1/wallets/bob/withdrawals',
        { amount: 200, currency: 'USD' },
        ADMIN_KEY,
      );
      await h.app.settle();

      const before = moneySnapshot(h.app.engine.view);
      assert.equal(h.app.engine.view.money.claims.size, 2);
      assert.equal(h.app.engine.view.money.giftCards.size, 2);
      await h.restart({ outboxPaused: true });
      assert.deepEqual(moneySnapshot(h.app.engine.view), before, 'the same state, from the tables');
      h.app.outbox.paused = false;
      await h.app.settle();
      const zedPost = (await h.app.local.listPosts({ author: 'alice', limit: 100 })).find((p) =>
        /^#TP/.test(p.text),
      )!;
      const reused = await post(h, alice!, zedPost.text);
      assert.match(
        (await repliesTo(h, reused))[0]!,
        /already used/,
        'a used code, after a restart',
      );

      assert.deepEqual(await wallet(h, 'alice'), { USD: 2500 - 400 - 300 });
      assert.deepEqual(await wallet(h, 'bob'), { USD: 500 }, 'the withdrawal went through');
      const check = (code: string) =>
        h.request('POST', '/v1/gift-cards/check', { code }, ADMIN_KEY).then((r) => r.body);
      assert.equal((await check(codes[0]!)).status, 'redeemed');
      assert.equal((await check(codes[1]!)).balance, 2500);
      assert.equal((await redeem(codes[0]!, 'bob')).body.error.code, 'GIFT_CARD_USED');
      // The owner's own token (or web session) redeems into their own wallet without naming it.
      const own = await h.request(
        'POST',
        '/v1/gift-cards/redeem',
        { code: codes[1] },
        w.accounts.bob!.token,
      );
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.deepEqual(await wallet(h, 'bob'), { USD: 3000 });
      const zed = await createAccount(h, 'zed');
      await linkShopper(h, zed, CARDS.ok);
      await h.app.settle();
      assert.deepEqual(await wallet(h, 'zed'), { USD: 400 }, 'the claim is paid after the restart');
      const settings = await h.request('POST', '/v1/shoppers/local/bob/settings', {}, ADMIN_KEY);
      assert.deepEqual(
        [settings.body.visibility, settings.body.default_currency],
        ['private', 'EUR'],
      );
      const { rows } = await h.app.db.query<{ b: string }>(
        "SELECT balance::text AS b FROM balances WHERE account = 'liability:gift_cards'",
      );
      assert.equal(rows[0]!.b, '0', 'both cards redeemed: no liability left');
    });
  });
}
