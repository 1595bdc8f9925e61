import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { ConnectorDeps } from '../src/networks/connector.ts';
import { connect } from '../src/networks/bluesky/index.ts';
import { ADMIN_KEY, openHarness, type Harness } from './support/harness.ts';
import {
  getPost,
  openBlueskyNetwork,
  postsOf,
  type BlueskyAccount,
  type BlueskyTestNetwork,
  type PostView,
} from './support/bluesky.ts';
import { CARDS, linkHandle } from './support/world.ts';

const CODE_RE = /#TP[A-Z2-7]{10}/;
const WAIT_MS = 15_000;

/** Runs tagpay's stages and checks `probe` until it answers, for at most WAIT_MS. */
async function until<T>(h: Harness, what: string, probe: () => Promise<T | null | undefined>) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    await h.app.settle();
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('Bluesky, on a real local PDS and PLC', () => {
  let net: BlueskyTestNetwork;
  let bot: BlueskyAccount;
  let merchant: BlueskyAccount;
  let alice: BlueskyAccount;
  let h: Harness;

  const connector = () => h.app.connectors.find((c) => c.network === 'bluesky')!;
  const orders = async () => {
    const res = await h.request('GET', '/v1/orders?handle=alice.test', undefined, ADMIN_KEY);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data as { id: string; status: string; quantity: number }[];
  };
  /** tagpay's replies to a post, as they are on the PDS. */
  const repliesTo = async (uri: string) =>
    (await postsOf(net.pdsUrl, bot.did)).filter((p) => p.reply?.parent.uri === uri);

  before(async () => {
    net = await openBlueskyNetwork();
    bot = await net.account('tagpay.test');
    merchant = await net.account('merch.test');
    alice = await net.account('alice.test');
    h = await openHarness('pglite', {
      env: {
        TAGPAY_BLUESKY_SERVICE: net.pdsUrl,
        TAGPAY_BLUESKY_IDENTIFIER: 'tagpay.test',
        TAGPAY_BLUESKY_APP_PASSWORD: bot.password,
        TAGPAY_BLUESKY_PLC: net.plcUrl,
      },
    });
  });

  after(async () => {
    await h?.close();
    await net?.close();
  });

  test('a wrong app password stops the start with a clear message', async () => {
    const deps = { logger: pino({ level: 'silent' }) } as unknown as ConnectorDeps;
    await assert.rejects(
      connect(
        {
          service: net.pdsUrl,
          identifier: 'tagpay.test',
          appPassword: 'not-the-password',
          firehose: null,
          jetstream: null,
          plc: net.plcUrl,
        },
        deps,
      ),
      /refused the login of tagpay\.test.*TAGPAY_BLUESKY_APP_PASSWORD/,
    );
  });

  test('buy by hashtag end to end: offer post, #BuyTee reply, code reply in thread, code, paid; a restart loses and repeats nothing', async () => {
    assert.equal(h.app.networks.get('bluesky')?.name, 'bluesky');
    await until(h, 'the firehose to connect', async () => connector().health().state === 'live');

    const m = await h.request(
      'POST',
      '/v1/merchants',
      { handle: 'merch.test', network: 'bluesky', name: 'Merch Co' },
      ADMIN_KEY,
    );
    assert.equal(m.status, 201, JSON.stringify(m.body));
    const o = await h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Blue Tee',
        price: { amount: 2000, currency: 'USD' },
        quantity: 5,
        hashtag: 'BuyTee',
      },
      m.body.api_key,
    );
    assert.equal(o.status, 201, JSON.stringify(o.body));
    const offerPost = await until(h, 'the offer post', async () =>
      (await postsOf(net.pdsUrl, bot.did)).find((p) => p.text.includes('#BuyTee')),
    );
    assert.match(offerPost.text, /^Merch Co \(@merch\.test\): /);
    const features = (offerPost.facets ?? []).flatMap((f) => f.features);
    assert.ok(
      features.some((f) => f.$type === 'app.bsky.richtext.facet#tag' && f.tag === 'BuyTee'),
      'the hashtag is a tag facet',
    );
    assert.ok(
      features.some(
        (f) =>
          f.$type === 'app.bsky.richtext.facet#mention' &&
          (f as { did?: string }).did === merchant.did,
      ),
      'the merchant is mentioned by DID',
    );

    const shopper = await linkHandle(h, 'bluesky', 'alice.test', CARDS.ok);
    assert.ok([200, 201].includes(shopper.status), JSON.stringify(shopper.body));

    // Bad records on the firehose are skipped, and the connector reads on.
    await badRecords(alice);

    const buy = await alice.post('#BuyTee', offerPost.uri);
    const codeReply = await until(h, 'the code reply', async () => (await repliesTo(buy.uri))[0]);
    assert.match(codeReply.text, CODE_RE);
    assert.equal(codeReply.reply!.root.uri, offerPost.uri, 'the thread root is the offer post');
    assert.equal(codeReply.reply!.root.cid, offerPost.cid);
    assert.equal(codeReply.reply!.parent.cid, buy.cid);
    assert.equal((await orders())[0]?.status, 'awaiting_confirmation');
    const code = CODE_RE.exec(codeReply.text)![0];

    // The connector goes down; the code is posted meanwhile; tagpay restarts from its saved cursor.
    const cursorBefore = connector().health().cursor;
    assert.ok(cursorBefore !== null, 'a cursor was saved');
    await connector().stop();
    assert.equal(connector().health().state, 'stopped');
    const confirm = await alice.post(`here you go ${code}`);
    await h.restart();
    const paid = await until(h, 'the order to be paid', async () =>
      (await orders()).find((o) => o.status === 'paid'),
    );
    assert.ok(paid);
    const cursorPaid = Number(connector().health().cursor);
    assert.ok(cursorPaid > Number(cursorBefore), 'the cursor moved on');

    // Once more from the saved cursor: nothing is read twice.
    await h.restart();
    await until(h, 'the firehose to connect again', async () =>
      connector().health().state === 'live' ? true : null,
    );
    const check = await alice.post('no hashtag here, just a marker');
    await until(h, 'the cursor to pass the marker post', async () => {
      const saved = await h.app.db.query<{ value: string }>(
        "SELECT value FROM cursors WHERE name = 'connector:bluesky'",
      );
      return Number(saved.rows[0]?.value) > cursorPaid ? true : null;
    });
    assert.ok(check.uri);
    const all = await orders();
    assert.equal(all.length, 1, 'one order');
    assert.equal(all[0]!.status, 'paid');
    const underBuy = await repliesTo(buy.uri);
    assert.equal(underBuy.length, 2, 'one code reply and one paid reply');
    assert.match(underBuy.find((p) => !CODE_RE.test(p.text))!.text, /^Paid: /);
    assert.deepEqual(await repliesTo(confirm.uri), [], 'the paid reply goes under the buy post');
    const charges = await h.app.db.query('SELECT * FROM sandbox_charges');
    assert.equal(charges.rows.length, 1, 'charged once');
    const events = await h.app.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM log WHERE key = 'post:bluesky:' || $1",
      [confirm.uri],
    );
    assert.equal(events.rows[0]!.n, '1');
    const posted: PostView = await getPost(net.pdsUrl, underBuy[0]!.uri);
    assert.equal(posted.reply!.root.uri, offerPost.uri);
  });

  test('replaying never re-posts: every delivery repeated and the firehose read again from seq 0', async () => {
    const botPosts = (await postsOf(net.pdsUrl, bot.did)).map((p) => p.uri);
    assert.ok(botPosts.length >= 3, 'the offer, the code reply and the paid reply are there');
    const count = async (table: string) =>
      (await h.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    const logBefore = await count('log');
    const chargesBefore = await count('sandbox_charges');
    // A crash after the PDS took every post and before the outbox marked it; the cursor rewound.
    await h.app.db.query(
      "UPDATE outbox SET status = 0, next_at = 0, attempts = 0 WHERE kind IN ('post', 'email')",
    );
    await h.app.db.query("UPDATE cursors SET value = '0' WHERE name = 'connector:bluesky'");
    await h.restart();
    const marker = await alice.post('a marker after the replay, no hashtag');
    await until(h, 'the firehose to read up to the marker again', async () => {
      const saved = await h.app.db.query<{ value: string }>(
        "SELECT value FROM cursors WHERE name = 'connector:bluesky'",
      );
      // The buy post and the code post are read again (and dropped at the door as duplicates).
      return connector().health().events >= 2 && Number(saved.rows[0]?.value) > 0
        ? (
            await h.app.db.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM outbox WHERE kind IN ('post', 'email') AND status <> 1",
            )
          ).rows[0]!.n === 0
        : null;
    });
    assert.ok(marker.uri);
    assert.deepEqual(
      (await postsOf(net.pdsUrl, bot.did)).map((p) => p.uri),
      botPosts,
      'not one post more on the PDS',
    );
    assert.equal(await count('sandbox_charges'), chargesBefore);
    // Posts without a hashtag stop at the door, so the log holds what it held before.
    assert.equal(await count('log'), logBefore);
  });

  test('onboarding: handle + app password → a session on the own PDS → a proof that links the handle; a wrong password proves nothing', async () => {
    const carol = await net.account('carol.test');
    const right = await h.request('POST', '/v1/onboarding/bluesky', {
      handle: 'carol.test',
      app_password: carol.password,
    });
    assert.equal(right.status, 200, JSON.stringify(right.body));
    assert.equal(right.body.network, 'bluesky');
    assert.equal(right.body.account, carol.did, 'the proof names the DID, not just the handle');
    assert.equal(right.body.handle, 'carol.test');
    const wrong = await h.request('POST', '/v1/onboarding/bluesky', {
      handle: 'carol.test',
      app_password: 'not-her-password',
    });
    assert.equal(wrong.status, 401, JSON.stringify(wrong.body));
    assert.equal(wrong.body.error.code, 'OWNERSHIP_NOT_PROVEN');
    // Another account's right password is still the wrong one for this handle.
    const others = await h.request('POST', '/v1/onboarding/bluesky', {
      handle: 'carol.test',
      app_password: alice.password,
    });
    assert.equal(others.status, 401);
    const nobody = await h.request('POST', '/v1/onboarding/bluesky', {
      handle: 'nobody.test',
      app_password: 'whatever',
    });
    assert.equal(nobody.status, 400, JSON.stringify(nobody.body));
    assert.equal(nobody.body.error.code, 'INVALID_HANDLE');
    // The password is stored nowhere: not in a table, not in the input log.
    const leaks = await h.app.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM log WHERE body LIKE $1',
      [`%${carol.password}%`],
    );
    assert.equal(leaks.rows[0]!.n, 0);

    const token = await h.request('POST', '/v1/sandbox/tokens', {
      number: CARDS.ok,
      exp_month: 12,
      exp_year: 2030,
      cvc: '123',
    });
    const link = (handle: string) =>
      h.request(
        'POST',
        '/v1/shoppers',
        {
          network: 'bluesky',
          handle,
          email: 'carol@example.com',
          shipping_address: {
            name: 'Carol',
            line1: '1 Main St',
            city: 'Springfield',
            postal_code: '12345',
            country: 'US',
          },
          card_token: token.body.id,
        },
        right.body.proof,
      );
    const linked = await link('carol.test');
    assert.equal(linked.status, 201, JSON.stringify(linked.body));
    assert.equal(linked.body.account, carol.did);
    const notHers = await link('alice.test');
    assert.equal(notHers.status, 403, JSON.stringify(notHers.body));
  });
});

/** Records the PDS accepts without validation, which tagpay must skip: never crash on. */
async function badRecords(alice: BlueskyAccount): Promise<void> {
  const create = (record: Record<string, unknown>) =>
    alice.agent.com.atproto.repo.createRecord({
      repo: alice.did,
      collection: 'app.bsky.feed.post',
      validate: false,
      record: { $type: 'app.bsky.feed.post', createdAt: new Date().toISOString(), ...record },
    });
  await create({ text: `#BuyTee ${'x'.repeat(6_000)}` });
  await create({ text: 42, note: '#BuyTee' });
  await create({ text: '#BuyTee', reply: { parent: 'nope' } });
  await create({
    text: 'odd facets #nothing',
    facets: [{ index: { byteStart: -1, byteEnd: 1e9 }, features: [{ $type: 'x.y#z' }] }, 7],
  });
  const gone = await alice.post('deleted at once #nothing');
  await alice.agent.com.atproto.repo.deleteRecord({
    repo: alice.did,
    collection: 'app.bsky.feed.post',
    rkey: gone.uri.split('/').pop()!,
  });
}
