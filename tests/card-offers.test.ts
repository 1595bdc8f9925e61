import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { signTransaction } from '../src/processors/transactions.ts';
import { verifyLedger } from '../src/engine/ledger-store.ts';
import {
  ADMIN_KEY,
  openHarness,
  START_MS,
  storages,
  webhookReceiver,
  type Harness,
} from './support/harness.ts';
import { schemaOf, tagpay } from './support/money.ts';
import {
  assertLedgerBalanced,
  createAccount,
  linkShopper,
  CARDS,
  post,
  repliesTo,
  setupWorld,
  type World,
} from './support/world.ts';

const SECRET = 'whsec_processor_test_secret_0123456789';
const DAY = 24 * 60 * 60 * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

for (const storage of storages()) {
  describe(`card-linked offers (${storage})`, () => {
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
      assert.equal((await verifyLedger(h.app.db)).ok, true, 'the hash chain verifies');
      await h.close();
    });

    async function fresh(offer: Record<string, unknown> = {}) {
      h = await openHarness(storage, { env: { TAGPAY_PROCESSOR_WEBHOOK_SECRET: SECRET } });
      w = await setupWorld(h, { webhookUrl: hooks.url });
      const res = await h.request(
        'POST',
        '/v1/card-offers',
        {
          title: 'Acme $10 back',
          hashtag: 'AcmeSave10',
          credit: { amount: 1000, currency: 'USD' },
          min_spend: { amount: 5000, currency: 'USD' },
          ends_at: iso(START_MS + 30 * DAY),
          max_enrolments: 2,
          ...offer,
        },
        w.merchant.api_key,
      );
      assert.equal(res.status, 201, JSON.stringify(res.body));
      await h.app.settle();
      return res.body;
    }

    async function cardOf(handle: string): Promise<string> {
      const { rows } = await h.app.db.query<{ card_token: string }>(
        'SELECT card_token FROM shoppers WHERE handle = $1',
        [handle],
      );
      return rows[0]!.card_token;
    }

    /** Sends one transaction to the processor webhook, signed (or as told). */
    async function send(txn: Record<string, unknown>, signature?: string) {
      const body = JSON.stringify(txn);
      const header = signature ?? signTransaction(SECRET, body, Math.floor(h.clock.now() / 1000));
      const res = await h.request('POST', '/v1/processor/transactions', body, undefined, {
        'processor-signature': header,
      });
      await h.app.settle();
      return res;
    }

    const purchase = (id: string, card: string, amount: number, extra = {}) => ({
      transaction_id: id,
      type: 'purchase',
      card_token: card,
      merchant_id: w.merchant.id,
      amount,
      currency: 'USD',
      occurred_at: iso(h.clock.now()),
      ...extra,
    });

    async function credits() {
      const { rows } = await h.app.db.query<{ txn_id: string; status: string; credit: string }>(
        'SELECT txn_id, status, credit_minor::text AS credit FROM card_credits ORDER BY txn_id',
      );
      return rows;
    }

    async function balance(account: string): Promise<number> {
      const res = await h.request(
        'GET',
        `/v1/ledger/balances?account=${encodeURIComponent(account)}`,
        undefined,
        ADMIN_KEY,
      );
      return res.body.data[0]?.balance ?? 0;
    }

    test('the offer is published; its hashtag adds it to a linked card once, within its enrolments and dates', async () => {
      const offer = await fresh();
      assert.equal(offer.status, 'live');
      assert.equal(offer.enrolled, 0);
      const published = await h.app.local.listPosts({ author: 'acme', limit: 10 });
      assert.ok(published.some((p) => /Post #AcmeSave10 to add it to your card/.test(p.text)));
      const { alice, bob, carol } = w.accounts;
      const first = await post(h, alice!, 'Yes please #AcmeSave10');
      assert.match(
        (await repliesTo(h, first))[0]!,
        /^Added to your card: Acme \$10 back is on your visa ending 4242/,
      );
      const again = await post(h, alice!, '#AcmeSave10');
      assert.match((await repliesTo(h, again))[0]!, /already on your card ending 4242/);
      const unlinked = await post(h, carol!, '#AcmeSave10');
      assert.match(
        (await repliesTo(h, unlinked))[0]!,
        /link your card once at http:\/\/tagpay\.test\/signup/,
      );
      await post(h, bob!, '#acmesave10');
      const zed = await createAccount(h, 'zed');
      await linkShopper(h, zed, CARDS.ok);
      const late = await post(h, zed, '#AcmeSave10');
      assert.match((await repliesTo(h, late))[0]!, /reached its number of enrolments/);
      const list = await h.request('GET', '/v1/card-offers', undefined, w.merchant.api_key);
      assert.equal(list.body.data[0].enrolled, 2);
      // The merchant's own post never enrols it.
      const enrolments = await h.app.db.query('SELECT handle FROM card_enrolments ORDER BY handle');
      assert.deepEqual(
        enrolments.rows.map((r) => r.handle),
        ['alice', 'bob'],
      );
      // Ended: nobody enrols any more, and the hashtag is free again.
      const ended = await h.request(
        'POST',
        `/v1/card-offers/${offer.id}/end`,
        {},
        w.merchant.api_key,
      );
      assert.equal(ended.status, 200);
      assert.equal(ended.body.status, 'ended');
      const after = await post(h, zed, '#AcmeSave10');
      assert.deepEqual(await repliesTo(h, after), []);
    });

    test('an offer not started yet answers so; its dates and terms are checked when it is created', async () => {
      await fresh({ starts_at: iso(START_MS + DAY) });
      const early = await post(h, w.accounts.alice!, '#AcmeSave10');
      assert.match((await repliesTo(h, early))[0]!, /is not running right now/);
      const bad = async (body: Record<string, unknown>, code: string, param?: string) => {
        const res = await h.request(
          'POST',
          '/v1/card-offers',
          {
            title: 'x',
            hashtag: 'AcmeOther',
            credit: { amount: 1000, currency: 'USD' },
            min_spend: { amount: 5000, currency: 'USD' },
            ends_at: iso(START_MS + DAY),
            max_enrolments: 5,
            ...body,
          },
          w.merchant.api_key,
        );
        assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
        if (param) assert.equal(res.body.error.param, param);
      };
      await bad({ hashtag: 'AcmeSave10' }, 'HASHTAG_TAKEN', 'hashtag');
      await bad({ hashtag: 'BuyAcmeTee' }, 'HASHTAG_TAKEN', 'hashtag');
      await bad({ hashtag: 'pay' }, 'INVALID_HASHTAG', 'hashtag');
      await bad({ credit: { amount: -5, currency: 'USD' } }, 'INVALID_AMOUNT', 'credit.amount');
      await bad({ credit: { amount: 10.5, currency: 'USD' } }, 'INVALID_AMOUNT', 'credit.amount');
      await bad({ credit: { amount: 1000, currency: 'XYZ' } }, 'UNKNOWN_CURRENCY');
      await bad({ min_spend: { amount: 500, currency: 'USD' } }, 'INVALID_AMOUNT');
      await bad({ min_spend: { amount: 5000, currency: 'EUR' } }, 'UNKNOWN_CURRENCY');
      await bad({ ends_at: iso(START_MS - DAY) }, 'INVALID_REQUEST', 'ends_at');
      await bad({ max_enrolments: 0 }, 'INVALID_REQUEST', 'max_enrolments');
      // A buy offer cannot take a live card-linked offer's hashtag either.
      const offer = await h.request(
        'POST',
        '/v1/offers',
        { title: 'T', price: { amount: 100, currency: 'USD' }, quantity: 1, hashtag: 'AcmeSave10' },
        w.merchant.api_key,
      );
      assert.equal(offer.body.error.code, 'HASHTAG_TAKEN');
      const noKey = await h.request('POST', '/v1/card-offers', {});
      assert.equal(noKey.status, 401);
      const admin = await h.request('POST', '/v1/card-offers', {}, ADMIN_KEY);
      assert.equal(admin.status, 403);
    });

    test('a matching purchase by signed webhook earns one credit, funded by the merchant; repeats and other purchases do not', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      await post(h, alice!, '#AcmeSave10');
      await post(h, bob!, '#AcmeSave10');
      const aliceCard = await cardOf('alice');
      const bobCard = await cardOf('bob');
      const payableBefore = await balance(`payable:${w.merchant.id}`);

      const res = await send(purchase('txn_a1', aliceCard, 6000));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, { received: true, duplicate: false });
      const repeat = await send(purchase('txn_a1', aliceCard, 6000));
      assert.deepEqual(repeat.body, { received: true, duplicate: true });
      await send(purchase('txn_a2', aliceCard, 9000)); // the enrolment is used up
      await send(purchase('txn_b1', bobCard, 4999)); // below the minimum
      await send(purchase('txn_b2', bobCard, 5000, { merchant_id: 'mer_other' })); // another shop
      await send(purchase('txn_b3', bobCard, 5000, { currency: 'EUR' }));
      await send(purchase('txn_b4', bobCard, 5000, { occurred_at: iso(START_MS + 31 * DAY) }));
      await send(purchase('txn_b5', bobCard, 5000));
      assert.deepEqual(await credits(), [
        { txn_id: 'txn_a1', status: 'credited', credit: '1000' },
        { txn_id: 'txn_b5', status: 'credited', credit: '1000' },
      ]);
      const outcomes = await h.app.db.query<{ id: string; outcome: string }>(
        'SELECT id, outcome FROM card_transactions ORDER BY id',
      );
      assert.deepEqual(Object.fromEntries(outcomes.rows.map((r) => [r.id, r.outcome])), {
        txn_a1: 'credited',
        txn_a2: 'no_offer',
        txn_b1: 'below_minimum',
        txn_b2: 'no_offer',
        txn_b3: 'other_currency',
        txn_b4: 'outside_dates',
        txn_b5: 'credited',
      });
      assert.equal(await balance(`payable:${w.merchant.id}`), payableBefore - 2000);
      const processor = await h.app.db.query<{ card_token: string; kind: string; amount: string }>(
        'SELECT card_token, kind, amount_minor::text AS amount FROM sandbox_card_credits ORDER BY card_token',
      );
      assert.deepEqual(
        processor.rows.map((r) => [r.card_token, r.kind, r.amount]).sort(),
        [
          [aliceCard, 'credit', '1000'],
          [bobCard, 'credit', '1000'],
        ].sort(),
      );
      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      assert.ok(
        mail.body.data.some((m: { subject: string }) =>
          /^Statement credit: \$10\.00/.test(m.subject),
        ),
      );
      const types = hooks.received.map((r) => JSON.parse(r.body).type);
      assert.equal(types.filter((t) => t === 'card_offer.credited').length >= 2, true);
    });

    test('a refund of the purchase reverses its credit once it falls below the minimum spend', async () => {
      await fresh();
      await post(h, w.accounts.alice!, '#AcmeSave10');
      const card = await cardOf('alice');
      await send(purchase('txn_p', card, 8000));
      const refund = (id: string, amount: number, original = 'txn_p') => ({
        ...purchase(id, card, amount),
        type: 'refund',
        original_transaction_id: original,
      });
      await send(refund('txn_r1', 2000)); // 6,000 left: the terms still hold
      assert.equal((await credits())[0]!.status, 'credited');
      await send(refund('txn_r_other', 8000, 'txn_unknown'));
      await send(refund('txn_r2', 2000)); // 4,000 left: below 5,000
      assert.equal((await credits())[0]!.status, 'reversed');
      await send(refund('txn_r3', 4000)); // nothing more to reverse
      const outcomes = await h.app.db.query<{ id: string; outcome: string }>(
        "SELECT id, outcome FROM card_transactions WHERE type = 'refund' ORDER BY id",
      );
      assert.deepEqual(
        outcomes.rows.map((r) => [r.id, r.outcome]),
        [
          ['txn_r1', 'credit_kept'],
          ['txn_r2', 'reversed'],
          ['txn_r3', 'no_credit'],
          ['txn_r_other', 'no_credit'],
        ],
      );
      assert.equal(await balance(`payable:${w.merchant.id}`), 0, 'credit and reversal cancel out');
      const kinds = await h.app.db.query<{ kind: string }>(
        'SELECT kind FROM sandbox_card_credits ORDER BY created_at, kind',
      );
      assert.deepEqual(kinds.rows.map((r) => r.kind).sort(), ['credit', 'reverse']);
      const mail = await h.request('GET', '/v1/mailbox?to=alice@example.com', undefined, ADMIN_KEY);
      assert.ok(mail.body.data.some((m: { subject: string }) => /reversed/.test(m.subject)));
      // After a restart the engine still knows the credit is reversed (and the one-per-card rule).
      await h.restart();
      await send(refund('txn_r4', 1000));
      const again = await post(h, w.accounts.alice!, '#AcmeSave10');
      assert.match((await repliesTo(h, again))[0]!, /already on your card/);
    });

    test('the webhook refuses bad signatures, stale timestamps and bad transactions with stable codes', async () => {
      await fresh();
      const card = await cardOf('alice');
      const txn = purchase('txn_x', card, 6000);
      const body = JSON.stringify(txn);
      const now = Math.floor(h.clock.now() / 1000);
      for (const header of [
        '',
        'garbage',
        `t=${now},v1=${'0'.repeat(64)}`,
        signTransaction('another_secret_entirely_0123456', body, now),
        signTransaction(SECRET, body, now - 600), // replayed after the tolerance
        signTransaction(SECRET, body + ' ', now),
      ]) {
        const res = await send(txn, header);
        assert.equal(res.status, 400, header);
        assert.equal(res.body.error.code, 'WEBHOOK_SIGNATURE_INVALID');
      }
      for (const [change, code, param] of [
        [{ amount: -5 }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: '10.50' }, 'INVALID_AMOUNT', 'amount'],
        [{ amount: '1e9' }, 'INVALID_AMOUNT', 'amount'],
        [{ currency: 'ZZZ' }, 'UNKNOWN_CURRENCY', 'currency'],
        [{ occurred_at: 'yesterday' }, 'INVALID_REQUEST', 'occurred_at'],
        [{ type: 'refund' }, 'INVALID_REQUEST', 'original_transaction_id'],
      ] as const) {
        const res = await send({ ...txn, ...change });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, code, JSON.stringify(res.body));
        assert.equal(res.body.error.param, param);
      }
      assert.deepEqual(await credits(), []);
      const log = await h.app.db.query("SELECT 1 FROM log WHERE key LIKE 'txn:%'");
      assert.equal(log.rows.length, 0, 'nothing refused reached the log');
    });

    test('tagpay import-transactions: a bad file is refused whole with its line numbers; a good one credits once, re-runs add nothing', async () => {
      await fresh();
      const { alice, bob } = w.accounts;
      await post(h, alice!, '#AcmeSave10');
      await post(h, bob!, '#AcmeSave10');
      const aliceCard = await cardOf('alice');
      const bobCard = await cardOf('bob');
      // The webhook saw bob's purchase already; the file has it too.
      await send(purchase('txn_f2', bobCard, 7000));
      const dir = mkdtempSync(join(tmpdir(), 'tagpay-import-'));
      const header =
        'transaction_id,type,card_token,merchant_id,amount,currency,occurred_at,original_transaction_id';
      const at = iso(h.clock.now());
      const m = w.merchant.id;
      const good = [
        header,
        `txn_f1,purchase,${aliceCard},${m},6000,USD,${at},`,
        `txn_f2,purchase,${bobCard},${m},7000,USD,${at},`,
        `txn_f3,purchase,${aliceCard},${m},100,usd,${at},`,
        `"txn_f4",refund,${bobCard},${m},7000,USD,${at},txn_f2`,
      ].join('\n');
      const bad = [
        header,
        `txn_g1,purchase,${aliceCard},${m},6000,USD,${at},`,
        `txn_g2,purchase,${aliceCard},${m},-1,USD,${at},`,
        `txn_g3,purchase,${aliceCard},${m},6000,USD,${at}`,
        `txn_g4,bought,${aliceCard},${m},6000,USD,${at},`,
        `txn_g5,purchase,${aliceCard},${m},6000,XYZ,not-a-date,`,
      ].join('\n');
      writeFileSync(join(dir, 'good.csv'), good);
      writeFileSync(join(dir, 'bad.csv'), bad);
      try {
        const target =
          storage === 'postgres'
            ? ({ storage: 'postgres', schema: await schemaOf(h) } as const)
            : null;
        if (target === null) {
          // PGlite in memory belongs to this process: run the command's own functions on it.
          const { readSettlementFile, appendTransactions } =
            await import('../src/processors/transactions.ts');
          const refused = readSettlementFile(bad, 1000);
          assert.deepEqual(
            refused.problems.map((p) => p.line),
            [3, 4, 5, 6],
          );
          const read = readSettlementFile(good, 1000);
          assert.deepEqual(read.problems, []);
          assert.deepEqual(await appendTransactions(h.app.log, read.events), {
            added: 3,
            duplicates: 1,
          });
          assert.deepEqual(await appendTransactions(h.app.log, read.events), {
            added: 0,
            duplicates: 4,
          });
        } else {
          const refused = tagpay(['import-transactions', join(dir, 'bad.csv')], target);
          assert.equal(refused.status, 1, refused.stderr);
          assert.match(refused.stderr, /bad\.csv:3: amount is a whole number/);
          assert.match(refused.stderr, /bad\.csv:4: 7 fields, expected 8/);
          assert.match(refused.stderr, /bad\.csv:5: type is "purchase" or "refund"/);
          assert.match(refused.stderr, /bad\.csv:6: currency/);
          assert.match(refused.stderr, /4 bad rows; nothing imported/);
          const imported = tagpay(['import-transactions', join(dir, 'good.csv')], target);
          assert.equal(imported.status, 0, imported.stderr);
          assert.match(imported.stderr, /\[#+\] 4\/4/);
          assert.match(
            imported.stdout,
            /4 transactions \(3 purchases, 1 refunds\); 3 new, 1 already imported/,
          );
          const rerun = tagpay(['import-transactions', join(dir, 'good.csv')], target);
          assert.equal(rerun.status, 0);
          assert.match(rerun.stdout, /0 new, 4 already imported/);
          const missing = tagpay(['import-transactions', join(dir, 'nope.csv')], target);
          assert.equal(missing.status, 1);
        }
        const log = await h.app.db.query("SELECT 1 FROM log WHERE key LIKE 'txn:txn_g%'");
        assert.equal(log.rows.length, 0, 'nothing of the bad file was imported');
        await h.app.settle();
        assert.deepEqual(await credits(), [
          { txn_id: 'txn_f1', status: 'credited', credit: '1000' },
          { txn_id: 'txn_f2', status: 'reversed', credit: '1000' },
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
