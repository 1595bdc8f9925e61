import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { HOUR_MS, RELINK_COOL_DOWN_MS } from '../src/core/limits.ts';
import { createHttpApp } from '../src/http/app.ts';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  createAccount,
  linkHandle,
  linkShopper,
  offerState,
  orders,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';

/** The fraud controls on, as an operator runs them (the harness turns them off for other tests). */
const ON = {
  TAGPAY_PURCHASES_PER_HOUR_MAX: '10',
  TAGPAY_CARD_DAILY_MAX: '2000',
  TAGPAY_ANOMALY_STEP_UP: '1',
};

async function mails(h: Harness, to: string): Promise<{ subject: string; text: string }[]> {
  await h.app.settle();
  const res = await h.request('GET', `/v1/mailbox?to=${to}&limit=100`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200);
  return res.body.data;
}

function linkIn(text: string | undefined, path: '/step-up' | '/not-me'): string {
  const match = new RegExp(`http://tagpay\\.test${path}\\?t=([A-Za-z0-9_.-]+)`).exec(text ?? '');
  assert.ok(match, `no ${path} link in: ${text}`);
  return match[1]!;
}

async function auditActions(h: Harness, subject?: string): Promise<string[]> {
  const q = subject === undefined ? '' : `&subject=${subject}`;
  const res = await h.request('GET', `/v1/audit?limit=100${q}`, undefined, ADMIN_KEY);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data.map((e: { action: string }) => e.action).reverse();
}

/** Presses the button of an e-mailed page, as a browser would (a form POST). */
async function press(h: Harness, path: '/step-up' | '/not-me', token: string) {
  const res = await createHttpApp(h.app).request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `t=${encodeURIComponent(token)}`,
  });
  await h.app.settle();
  return { status: res.status, text: await res.text() };
}

for (const storage of storages()) {
  describe(`fraud controls (${storage})`, () => {
    let h: Harness;
    let w: World;
    afterEach(async () => {
      await assertLedgerBalanced(h);
      await h.close();
    });

    async function fresh(env: Record<string, string> = {}, opts = {}) {
      h = await openHarness(storage, { env: { ...ON, ...env } });
      w = await setupWorld(h, opts);
    }

    test('step-up above the shopper threshold: the order waits for the e-mailed link, then is paid', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, {
        limits: { step_up_above: 3000, currency: 'USD' },
      });
      const buy = await post(h, alice!, '#BuyAcmeTee M x2');
      assert.match(
        (await repliesTo(h, buy))[0]!,
        /approve 2 × Acme Tee \(M\) for \$50\.00 from the link/,
      );
      const [order] = await orders(h, 'alice');
      assert.equal(order.status, 'awaiting_step_up');
      assert.equal((await offerState(h, w)).available, 8, 'the units are held meanwhile');
      const mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      assert.match(mail!.text, /above the amount you asked us to double-check/);
      const token = linkIn(mail!.text, '/step-up');
      linkIn(mail!.text, '/not-me');

      // A code-shaped guess or a forged link does nothing.
      const forged = await h.request('POST', '/v1/step-up', { token: `${order.id}.AAAA` });
      assert.equal(forged.status, 400);
      assert.equal(forged.body.error.code, 'INVALID_LINK');
      const other = await h.request('POST', '/v1/step-up', { token: token.replace(/.$/, 'x') });
      assert.equal(other.status, 400);

      const shown = await h.request('GET', `/step-up?t=${token}`);
      assert.equal(shown.status, 200);
      assert.match(String(shown.body), /Approve this purchase\?[\s\S]*\$50\.00/);
      assert.equal(
        (await orders(h, 'alice'))[0].status,
        'awaiting_step_up',
        'a GET changes nothing',
      );
      const pressed = await press(h, '/step-up', token);
      assert.equal(pressed.status, 200, pressed.text);
      assert.equal((await orders(h, 'alice'))[0].status, 'paid');
      const again = await h.request('POST', '/v1/step-up', { token });
      assert.equal(again.status, 200, 'the same link twice is one approval');
      const charges = await h.app.db.query('SELECT 1 FROM sandbox_charges');
      assert.equal(charges.rows.length, 1, 'charged once');
      const actions = await auditActions(h, order.id);
      assert.deepEqual(actions, ['step_up.asked', 'step_up.passed']);

      // Below the threshold no step-up: the usual code.
      const small = await post(h, alice!, '#BuyAcmeTee S');
      codeIn((await repliesTo(h, small))[0]);
    });

    test('a step-up not approved expires with the window and releases the stock', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, {
        limits: { step_up_above: 1000, currency: 'USD' },
      });
      await post(h, alice!, '#BuyAcmeTee M');
      const mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      const token = linkIn(mail!.text, '/step-up');
      h.clock.advance(16 * 60 * 1000);
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'expired');
      assert.equal((await offerState(h, w)).available, 10);
      const late = await h.request('POST', '/v1/step-up', { token });
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'STEP_UP_NOT_PENDING');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 0);
    });

    test('anomalies ask for a step-up: first spend after linking, a new address, an unusual amount', async () => {
      await fresh({}, { price: 1000, quantity: 100 });
      const { alice } = w.accounts;
      const first = await post(h, alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, first))[0]!, /approve/);
      let mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      assert.match(mail!.text, /first purchase since this handle was linked/);
      await press(h, '/step-up', linkIn(mail!.text, '/step-up'));
      // Approved once, the next purchases take the usual code.
      for (let i = 0; i < 2; i++) {
        const next = await post(h, alice!, '#BuyAcmeTee M');
        await post(h, alice!, codeIn((await repliesTo(h, next))[0]));
      }
      assert.equal((await orders(h, 'alice')).filter((o) => o.status === 'paid').length, 3);
      // Unusual: more than five times the largest of three paid purchases.
      const big = await post(h, alice!, '#BuyAcmeTee M x6');
      assert.match((await repliesTo(h, big))[0]!, /approve/);
      mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject)); // newest first
      assert.match(mail!.text, /much larger than your usual purchases/);
      // A new shipping address, then a purchase.
      h.clock.advance(60_000);
      await linkShopper(h, alice!, CARDS.ok, {
        shipping_address: {
          name: 'A',
          line1: '9 Elsewhere Rd',
          city: 'Shelbyville',
          postal_code: '54321',
          country: 'US',
        },
      });
      const moved = await post(h, alice!, '#BuyAcmeTee S');
      assert.match((await repliesTo(h, moved))[0]!, /approve/);
      mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject)); // newest first
      assert.match(mail!.text, /shipping address changed recently/);
      assert.ok((await auditActions(h)).includes('shopper.relinked'));
    });

    test('a handle linked before to another account: cool-down, then a step-up', async () => {
      await fresh();
      // The handle zed first belonged to another account (as a Bluesky handle can move to a new DID).
      const zed = await createAccount(h, 'zed');
      const local = h.app.networks.get('local')!;
      const resolve = local.resolveAccount!.bind(local);
      local.resolveAccount = async (handle) => (handle === 'zed' ? 'zed-old' : resolve(handle));
      assert.equal((await linkHandle(h, 'local', 'zed', CARDS.ok)).status, 201);
      local.resolveAccount = resolve;
      const relinked = await linkHandle(h, 'local', 'zed', CARDS.ok);
      assert.equal(relinked.status, 201, 'a new shopper: another account');
      await h.app.settle();
      const early = await post(h, zed, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, early))[0]!, /re-linked recently; .* buy again from /);
      assert.deepEqual(await orders(h, 'zed'), []);
      const owner = (await auditActions(h)).filter((a) => a === 'handle.owner_changed');
      assert.equal(owner.length, 1);
      h.clock.advance(RELINK_COOL_DOWN_MS);
      const later = await post(h, zed, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, later))[0]!, /approve/);
      const mail = (await mails(h, 'zed@example.com')).filter((m) => /Approve/.test(m.subject));
      assert.match(mail[0]!.text, /linked to a different account before/);
    });

    test('re-linking another card or e-mail starts a cool-down and tells the old e-mail', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice, bob } = w.accounts;
      // Same card (a new token of the same number): no cool-down.
      await linkShopper(h, bob!, CARDS.ok);
      const fine = await post(h, bob!, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, fine))[0]);
      await linkShopper(h, alice!, '5555555555554444');
      await h.app.settle();
      const notice = (await mails(h, 'alice@example.com')).find((m) => /changed/.test(m.subject));
      assert.match(notice!.text, /card of alice/);
      linkIn(notice!.text, '/not-me');
      const blocked = await post(h, alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, blocked))[0]!, /re-linked recently/);
      h.clock.advance(RELINK_COOL_DOWN_MS);
      const after = await post(h, alice!, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, after))[0]);
    });

    test('"not me" freezes: pending checkouts canceled, stock released, no purchase until the operator unfreezes', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      const buy = await post(h, alice!, '#BuyAcmeTee M x2');
      const code = codeIn((await repliesTo(h, buy))[0]);
      assert.equal((await offerState(h, w)).available, 8);
      const mail = (await mails(h, 'alice@example.com')).find((m) => /Confirm/.test(m.subject));
      const token = linkIn(mail!.text, '/not-me');
      assert.equal((await h.request('GET', `/not-me?t=${token}`)).status, 200);
      assert.equal((await h.request('GET', '/not-me?t=shp_x.bad')).status, 400);
      const pressed = await press(h, '/not-me', token);
      assert.equal(pressed.status, 200, pressed.text);
      assert.equal((await orders(h, 'alice'))[0].status, 'canceled');
      assert.equal((await offerState(h, w)).available, 10, 'stock released');
      const late = await post(h, alice!, code);
      assert.match((await repliesTo(h, late))[0]!, /canceled/);
      const refused = await post(h, alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, refused))[0]!, /frozen/);
      assert.equal((await orders(h, 'alice')).length, 1);
      // A re-link does not unfreeze; only the operator does.
      await linkShopper(h, alice!, CARDS.ok);
      assert.match((await repliesTo(h, await post(h, alice!, '#BuyAcmeTee M')))[0]!, /frozen/);
      const asMerchant = await h.request(
        'POST',
        '/v1/shoppers/local/alice/unfreeze',
        {},
        w.merchant.api_key,
      );
      assert.equal(asMerchant.status, 403);
      const unfrozen = await h.request('POST', '/v1/shoppers/local/alice/unfreeze', {}, ADMIN_KEY);
      assert.equal(unfrozen.status, 200, JSON.stringify(unfrozen.body));
      assert.equal(unfrozen.body.frozen, false);
      codeIn((await repliesTo(h, await post(h, alice!, '#BuyAcmeTee M')))[0]);
      const actions = await auditActions(h);
      assert.ok(actions.indexOf('shopper.frozen') < actions.indexOf('shopper.unfrozen'));
    });

    test('the web flows run the same check: a frozen account cannot pay by a buy-now link', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      const posts = await h.app.local.listPosts({ author: 'acme', limit: 10 });
      const link = new URL(/Buy now: (\S+)/.exec(posts[0]!.text)![1]!);
      const body = {
        offer_id: link.pathname.split('/').pop(),
        exp: link.searchParams.get('exp'),
        sig: link.searchParams.get('sig'),
        variant: 'M',
      };
      const frozen = await h.request('POST', '/v1/shoppers/local/alice/freeze', {}, ADMIN_KEY);
      assert.equal(frozen.status, 200, JSON.stringify(frozen.body));
      const refused = await h.request('POST', '/v1/checkout/buy_now', body, alice!.token);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'PURCHASE_REFUSED');
      assert.match(refused.body.error.message, /frozen/);
      await h.request('POST', '/v1/shoppers/local/alice/unfreeze', {}, ADMIN_KEY);
      const paid = await h.request('POST', '/v1/checkout/buy_now', body, alice!.token);
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
    });

    test('the web flows ask for the same step-up and count toward the same card day as posts', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0', TAGPAY_CARD_DAILY_MAX: '60' });
      const { alice, bob } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, {
        limits: { step_up_above: 3000, currency: 'USD' },
      });
      const posts = await h.app.local.listPosts({ author: 'acme', limit: 10 });
      const link = new URL(/Buy now: (\S+)/.exec(posts[0]!.text)![1]!);
      const body = (extra: Record<string, unknown>) => ({
        offer_id: link.pathname.split('/').pop(),
        exp: link.searchParams.get('exp'),
        sig: link.searchParams.get('sig'),
        ...extra,
      });
      // $50 by a buy-now link, above alice's $30: held for the e-mailed approval, nothing charged.
      const held = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        body({ variant: 'M', quantity: 2 }),
        alice!.token,
      );
      assert.equal(held.status, 201, JSON.stringify(held.body));
      assert.equal(held.body.status, 'awaiting_step_up');
      await h.app.settle();
      assert.equal((await orders(h, 'alice'))[0].status, 'awaiting_step_up');
      assert.equal((await offerState(h, w)).available, 8, 'the units are held meanwhile');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 0);
      const mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      assert.match(mail!.text, /above the amount you asked us to double-check/);
      const token = linkIn(mail!.text, '/step-up');
      const pressed = await press(h, '/step-up', token);
      assert.equal(pressed.status, 200, pressed.text);
      assert.equal((await orders(h, 'alice'))[0].status, 'paid');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 1);
      assert.deepEqual(await auditActions(h, held.body.id), ['step_up.asked', 'step_up.passed']);
      const again = await h.request('POST', '/v1/step-up', { token });
      assert.equal(again.status, 200, 'the same link twice is one approval');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 1);

      // The card's day ($60): alice's $50 by the web counts, before and after a restart, for the
      // web and for posts alike (bob has the same card number).
      await h.restart();
      const web = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        body({ variant: 'S' }),
        bob!.token,
      );
      assert.equal(web.status, 403, JSON.stringify(web.body));
      assert.equal(web.body.error.code, 'PURCHASE_REFUSED');
      assert.match(web.body.error.message, /daily amount allowed on this card \(\$60\.00\)/);
      const byPost = await post(h, bob!, '#BuyAcmeTee S');
      assert.match(
        (await repliesTo(h, byPost))[0]!,
        /daily amount allowed on this card \(\$60\.00\)/,
      );

      // A step-up never approved expires with the window: the units come back, nothing is charged.
      h.clock.advance(24 * HOUR_MS);
      const late = await h.request(
        'POST',
        '/v1/checkout/buy_now',
        body({ variant: 'L', quantity: 2 }),
        alice!.token,
      );
      assert.equal(late.body.status, 'awaiting_step_up', JSON.stringify(late.body));
      await h.app.settle();
      assert.equal((await offerState(h, w)).available, 6);
      h.clock.advance(16 * 60 * 1000);
      await h.app.settle();
      assert.equal((await offerState(h, w)).available, 8);
      const lateMail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      const refused = await h.request('POST', '/v1/step-up', {
        token: linkIn(lateMail!.text, '/step-up'),
      });
      assert.equal(refused.status, 409);
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 1);
    });

    test('pay with tagpay asks for the same step-up: the shop is paid once the shopper approves', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      await linkShopper(h, alice!, CARDS.ok, {
        limits: { step_up_above: 1000, currency: 'USD' },
      });
      const redirect = 'http://localhost:4000/callback';
      const reg = await h.request(
        'POST',
        '/v1/shop_clients',
        { name: 'Sample Shop', redirect_uris: [redirect] },
        w.merchant.api_key,
      );
      assert.equal(reg.status, 201, JSON.stringify(reg.body));
      const basic =
        'Basic ' + Buffer.from(`${reg.body.id}:${reg.body.client_secret}`).toString('base64');
      const prq = await h.request(
        'POST',
        '/v1/pay_requests',
        { amount: 1999, currency: 'USD', description: 'Desk lamp' },
        undefined,
        { authorization: basic },
      );
      assert.equal(prq.status, 201, JSON.stringify(prq.body));
      const approved = await h.request(
        'POST',
        '/v1/oauth/authorize',
        {
          response_type: 'code',
          client_id: reg.body.id,
          redirect_uri: redirect,
          state: 'st',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
          pay_request: prq.body.id,
          decision: 'approve',
        },
        alice!.token,
      );
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      await h.app.settle();
      const payment = async () =>
        (
          await h.app.db.query<{ id: string; status: string }>(
            "SELECT id, status FROM payments WHERE kind = 'oauth'",
          )
        ).rows[0]!;
      assert.equal((await payment()).status, 'awaiting_step_up');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 0);
      const mail = (await mails(h, 'alice@example.com')).find((m) => /Approve/.test(m.subject));
      assert.match(mail!.text, /\$19\.99/);
      const pressed = await press(h, '/step-up', linkIn(mail!.text, '/step-up'));
      assert.equal(pressed.status, 200, pressed.text);
      assert.equal((await payment()).status, 'paid');
      assert.equal((await h.app.db.query('SELECT 1 FROM sandbox_charges')).rows.length, 1);
      assert.deepEqual(await auditActions(h, (await payment()).id), [
        'step_up.asked',
        'step_up.passed',
      ]);
    });

    test('velocity: purchases per hour per handle and per card, amount per day per card; they survive a restart', async () => {
      await fresh({
        TAGPAY_PURCHASES_PER_HOUR_MAX: '2',
        TAGPAY_CARD_DAILY_MAX: '60',
        TAGPAY_ANOMALY_STEP_UP: '0',
      });
      const { alice, bob } = w.accounts;
      // alice and bob use the same test card number: one card fingerprint.
      const a1 = await post(h, alice!, '#BuyAcmeTee M');
      await post(h, alice!, codeIn((await repliesTo(h, a1))[0]));
      const b1 = await post(h, bob!, '#BuyAcmeTee M');
      codeIn((await repliesTo(h, b1))[0]);
      const b2 = await post(h, bob!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, b2))[0]!, /Too many purchases with this card/);
      await h.restart();
      const a2 = await post(h, alice!, '#BuyAcmeTee M');
      assert.match(
        (await repliesTo(h, a2))[0]!,
        /Too many purchases with this card/,
        'counted again from the orders after a restart',
      );
      h.clock.advance(HOUR_MS);
      // A card of its own for carol: per handle, two an hour.
      const { carol } = w.accounts;
      await linkShopper(h, carol!, '5555555555554444');
      for (let i = 0; i < 2; i++) {
        const c = await post(h, carol!, '#BuyAcmeTee S');
        codeIn((await repliesTo(h, c))[0]);
      }
      const c3 = await post(h, carol!, '#BuyAcmeTee S');
      assert.match((await repliesTo(h, c3))[0]!, /Too many purchases from this account/);
      // The card's day: $25 charged (alice) + $25 + $25 would pass $60.
      const b3 = await post(h, bob!, '#BuyAcmeTee M');
      await post(h, bob!, codeIn((await repliesTo(h, b3))[0]));
      const a3 = await post(h, alice!, '#BuyAcmeTee M');
      assert.match((await repliesTo(h, a3))[0]!, /daily amount allowed on this card \(\$60\.00\)/);
    });

    test('wrong-code counters and pauses survive a restart', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const { alice } = w.accounts;
      const buy = await post(h, alice!, '#BuyAcmeTee M');
      const code = codeIn((await repliesTo(h, buy))[0]);
      for (let i = 0; i < 3; i++) await post(h, alice!, '#TPAAAAAAAAA' + 'BCDEFGHIJ'[i]);
      await h.restart();
      await post(h, alice!, '#TPAAAAAAAAAK');
      const fifth = await post(h, alice!, '#TPAAAAAAAAAL');
      assert.match((await repliesTo(h, fifth))[0]!, /paused for an hour/);
      await h.restart();
      const right = await post(h, alice!, code);
      assert.match((await repliesTo(h, right))[0]!, /paused/, 'still paused after a restart');
      assert.equal((await orders(h, 'alice'))[0].status, 'awaiting_confirmation');
      assert.ok((await auditActions(h)).includes('codes.paused'));
    });

    test('the audit log: admin only, paginated, append-only', async () => {
      await fresh({ TAGPAY_ANOMALY_STEP_UP: '0' });
      const asMerchant = await h.request('GET', '/v1/audit', undefined, w.merchant.api_key);
      assert.equal(asMerchant.status, 403);
      assert.equal((await h.request('GET', '/v1/audit')).status, 401);
      const all = await auditActions(h);
      assert.ok(all.includes('api_key.created') && all.includes('shopper.linked'));
      const page1 = await h.request('GET', '/v1/audit?limit=2', undefined, ADMIN_KEY);
      assert.equal(page1.body.data.length, 2);
      assert.equal(page1.body.has_more, true);
      const page2 = await h.request(
        'GET',
        `/v1/audit?limit=2&starting_after=${page1.body.data[1].id}`,
        undefined,
        ADMIN_KEY,
      );
      assert.notEqual(page2.body.data[0].id, page1.body.data[1].id);
      assert.ok(Number(page2.body.data[0].id.slice(4)) < Number(page1.body.data[1].id.slice(4)));
      const bad = await h.request('GET', '/v1/audit?starting_after=1', undefined, ADMIN_KEY);
      assert.equal(bad.status, 400);
      const before = await h.app.db.query('SELECT * FROM audit_log ORDER BY id');
      await h.app.db.query("UPDATE audit_log SET action = 'nothing'");
      await h.app.db.query('DELETE FROM audit_log');
      const after = await h.app.db.query('SELECT * FROM audit_log ORDER BY id');
      assert.deepEqual(after.rows, before.rows, 'rows can be neither changed nor deleted');
    });
  });
}
