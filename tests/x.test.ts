import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { ConnectorDeps } from '../src/networks/connector.ts';
import { XApi } from '../src/networks/x/api.ts';
import type { XConnector } from '../src/networks/x/connector.ts';
import { connect } from '../src/networks/x/index.ts';
import { startFakeX, type FakeTweet, type FakeX } from './support/fake-x.ts';
import { ADMIN_KEY, openHarness, type Harness } from './support/harness.ts';
import { CARDS, linkHandle } from './support/world.ts';

// tagpay on X, end to end, against a FAKE X API v2 (tests/support/fake-x.ts): not the real X.

const CREDS = {
  bearerToken: 'AAAAAAAAAAAAAAAAAAAAAfake-bearer',
  consumerKey: 'fake-consumer-key',
  consumerSecret: 'fake consumer secret!*()',
  accessToken: '1000-fake-access-token',
  accessSecret: 'fake-access-secret',
};

async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  ms = 8_000,
): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('X (API v2) through a fake X', () => {
  let fake: FakeX;
  let h: Harness;
  let connector: XConnector;
  let merchantKey: string;
  let offerId: string;

  before(async () => {
    fake = await startFakeX({
      ...CREDS,
      self: 'TagPay',
      users: ['alice', 'Bob', 'acme'],
      keepAliveMs: 200,
    });
    h = await openHarness('pglite', {
      env: {
        TAGPAY_X_BEARER_TOKEN: CREDS.bearerToken,
        TAGPAY_X_API_KEY: CREDS.consumerKey,
        TAGPAY_X_API_SECRET: CREDS.consumerSecret,
        TAGPAY_X_ACCESS_TOKEN: CREDS.accessToken,
        TAGPAY_X_ACCESS_SECRET: CREDS.accessSecret,
        TAGPAY_X_API_BASE: fake.url,
      },
    });
    connector = h.app.connectors.find((c) => c.network === 'x') as XConnector;
    assert.ok(connector, 'the X connector is connected at start');
  });

  after(async () => {
    await h?.close();
    await fake?.close();
    assert.deepEqual(fake.authFailures, [], 'every request carried valid credentials');
  });

  /** Waits until the connector has put the tweet into the log, then lets tagpay act on it. */
  async function seen(tweetId: string): Promise<void> {
    await waitFor(`tweet ${tweetId} in the log`, () => h.app.log.findByKey(`post:x:${tweetId}`));
    await h.app.settle();
  }

  /** tagpay's replies on X under a tweet, oldest first. */
  function repliesTo(tweetId: string): FakeTweet[] {
    const self = fake.user('tagpay').id;
    return fake.tweets.filter(
      (t) =>
        t.author_id === self &&
        t.referenced_tweets?.some((r) => r.type === 'replied_to' && r.id === tweetId),
    );
  }

  const link = (handle: string) => linkHandle(h, 'x', handle, CARDS.ok);

  async function ordersOf(handle: string): Promise<any[]> {
    const res = await h.request('GET', `/v1/orders?handle=${handle}`, undefined, ADMIN_KEY);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.data;
  }

  test('flow 1 on X: offer tweeted by tagpay, hashtag → code in a reply → code → paid', async () => {
    assert.equal(h.app.networks.get('x')?.name, 'x');
    const m = await h.request(
      'POST',
      '/v1/merchants',
      { handle: 'acme', network: 'x', name: 'Acme Goods' },
      ADMIN_KEY,
    );
    assert.equal(m.status, 201, JSON.stringify(m.body));
    merchantKey = m.body.api_key;
    const o = await h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Acme Tee',
        price: { amount: 2500, currency: 'USD' },
        quantity: 10,
        hashtag: 'BuyAcmeTee',
        variants: ['S', 'M', 'L'],
      },
      merchantKey,
    );
    assert.equal(o.status, 201, JSON.stringify(o.body));
    offerId = o.body.id;
    await h.app.settle();
    const offerTweet = await waitFor('the offer tweet', () =>
      fake.tweetsBy('tagpay').find((t) => t.text.includes('#BuyAcmeTee')),
    );
    assert.match(offerTweet.text, /^Acme Goods \(@acme\): .*Reply #BuyAcmeTee to buy/);
    assert.equal(offerTweet.referenced_tweets, undefined, 'the offer is a tweet of its own');

    const rule = await waitFor('the hashtag rule', () =>
      fake.rules().find((r) => r.tag === 'tagpay:buyacmetee'),
    );
    assert.equal(rule.value, '#buyacmetee -is:retweet -from:tagpay');
    assert.ok(
      fake.rules().some((r) => r.value === '(@tagpay OR to:tagpay) -is:retweet -from:tagpay'),
    );

    const unknown = await link('nobody_here');
    assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
    assert.equal(unknown.body.error.code, 'INVALID_HANDLE');
    const linked = await link('alice');
    assert.equal(linked.status, 201, JSON.stringify(linked.body));

    const buy = fake.tweet('alice', '#BuyAcmeTee M');
    await seen(buy);
    const reply = await waitFor('the code reply', () => repliesTo(buy)[0]);
    assert.match(reply.text, /reply with #TP[A-Z2-7]{10} within 15 minutes/);
    const code = /#(TP[A-Z2-7]{10})\b/.exec(reply.text)![0];
    assert.equal((await ordersOf('alice'))[0].status, 'awaiting_confirmation');

    // On X a shopper answers tagpay's reply; the leading mention is part of a v2 reply's text.
    const confirm = fake.tweet('alice', `@TagPay ${code}`, { replyTo: reply.id });
    await seen(confirm);
    const [order] = await ordersOf('alice');
    assert.equal(order.status, 'paid');
    assert.equal(order.variant, 'M');
    const paid = await waitFor('the paid reply', () =>
      repliesTo(buy).find((t) => /^Paid:/.test(t.text)),
    );
    assert.match(paid.text, /^Paid: Acme Tee \(M\), \$25\.00\. Order ord_/);
    assert.deepEqual(repliesTo(confirm), [], 'the answer goes under the buy tweet');

    const health = connector.health();
    assert.equal(health.state, 'live');
    assert.equal(health.cursor, confirm, 'the cursor is the newest tweet read');
    assert.equal(health.events, 2);
    assert.ok(health.lastEventAt !== null);
    const saved = await h.app.db.query<{ value: string }>(
      "SELECT value FROM cursors WHERE name = 'connector:x'",
    );
    assert.equal(saved.rows[0]?.value, confirm, 'the cursor is saved with the posts');
  });

  test('X has no idempotency key: a tweet made whose answer was lost is found by its marker, not made again', async () => {
    // The connection drops after X made the code reply: the outbox cannot tell, and retries.
    fake.dropAfterCreate(1);
    const buy = fake.tweet('alice', '#BuyAcmeTee S');
    await seen(buy);
    await waitFor('the code reply made once', () => repliesTo(buy).length === 1);
    const failed = await h.app.db.query<{ attempts: number; status: number }>(
      "SELECT attempts, status FROM outbox WHERE kind = 'post' AND body LIKE $1",
      [`%"reply_to":"${buy}"%`],
    );
    assert.equal(failed.rows[0]?.status, 0, 'the row is not done: its answer was lost');
    h.clock.advance(60_000);
    await h.app.settle();
    const done = await h.app.db.query<{ attempts: number; status: number }>(
      "SELECT attempts, status FROM outbox WHERE kind = 'post' AND body LIKE $1",
      [`%"reply_to":"${buy}"%`],
    );
    assert.equal(done.rows[0]?.status, 1, 'the retry found the tweet and marked the row done');
    assert.equal(repliesTo(buy).length, 1, 'one reply, not two');
    assert.match(repliesTo(buy)[0]!.text, / ref:[a-z2-7]{8}$/, 'the tweet carries its marker');
    assert.ok(
      fake.requests.some((r) => /^GET \/2\/users\/[0-9]+\/tweets$/.test(r)),
      "the retry read tagpay's own timeline",
    );

    // A crash between X making every tweet and the outbox marking the rows: all of them are due
    // again in a new process. Nothing is tweeted twice; the log replayed from the tables re-posts nothing.
    const before = fake.tweetsBy('tagpay').length;
    await h.app.db.query("UPDATE outbox SET status = 0, next_at = 0 WHERE kind = 'post'");
    await h.restart();
    await h.app.settle();
    const redone = await h.app.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE kind = 'post' AND status <> 1",
    );
    assert.equal(redone.rows[0]!.n, 0, 'every row delivered again');
    assert.equal(fake.tweetsBy('tagpay').length, before, 'and not one tweet more');
    connector = h.app.connectors.find((c) => c.network === 'x') as XConnector;
    await waitFor('the stream after the restart', () => connector.health().state === 'live');
  });

  test('an edited tweet changes nothing: X sends it as a new id, tagpay keeps the first version', async () => {
    const before = (await ordersOf('alice')).length;
    const buy = fake.tweet('alice', '#BuyAcmeTee L');
    await seen(buy);
    await waitFor('the code reply', () => repliesTo(buy)[0]);
    const skipped = connector.skipped.get('edit') ?? 0;
    const edited = fake.edit(buy, '#BuyAcmeTee L x5');
    await waitFor('the edit to be read', () => (connector.skipped.get('edit') ?? 0) > skipped);
    await h.app.settle();
    assert.equal(await h.app.log.findByKey(`post:x:${edited}`), null, 'the edit is not a post');
    const after = await ordersOf('alice');
    assert.equal(after.length, before + 1, 'one order for the tweet, none for its edit');
    assert.equal(after[0].quantity, 1);
    assert.equal(repliesTo(edited).length, 0);
  });

  test('a dropped stream reconnects and backfills what it missed, once', async () => {
    assert.equal((await link('bob')).status, 201);
    const reconnects = connector.health().reconnects;
    fake.dropStreams({ hold: true });
    await waitFor('the connector to reconnect', () => fake.heldStreams() === 1);
    const missed = fake.tweet('bob', 'one for me #BuyAcmeTee S');
    assert.equal(fake.openStreams(), 0, 'nobody heard it live');
    fake.releaseStreams();
    await seen(missed);
    assert.ok(fake.requests.includes('GET /2/tweets/search/recent'), 'found by recent search');
    // The same tweet arriving on the stream as well is one event.
    fake.redeliver(missed);
    const marker = fake.tweet('alice', '@tagpay thanks #nothing');
    await seen(marker);
    await waitFor('the reply to bob', () => repliesTo(missed).length > 0);
    assert.equal(repliesTo(missed).length, 1, 'one reply');
    assert.equal((await ordersOf('bob')).length, 1, 'one order');
    assert.ok(connector.health().reconnects > reconnects);
  });

  test('a 429 on the stream is waited out until x-rate-limit-reset', async () => {
    const waits = connector.health().rateLimitWaits;
    fake.rateLimitStreams(1);
    fake.dropStreams();
    await waitFor('a rate-limit wait', () => connector.health().rateLimitWaits > waits);
    assert.match(connector.health().lastError ?? '', /429/);
    await waitFor(
      'the stream back',
      () => fake.openStreams() === 1 && connector.health().state === 'live',
    );
    const after429 = fake.tweet('bob', '#BuyAcmeTee L');
    await seen(after429);
    await waitFor('a reply after the wait', () => repliesTo(after429).length === 1);
  });

  test('malformed stream lines are skipped; the stream goes on', async () => {
    const reconnects = connector.health().reconnects;
    fake.sendRaw('{not json');
    fake.sendRaw('[]');
    fake.sendRaw('{"data":{"id":"12ab","text":"#BuyAcmeTee","author_id":"1"}}');
    fake.sendRaw(JSON.stringify({ data: { id: '1', text: '#BuyAcmeTee', author_id: '999' } }));
    fake.sendRaw('x'.repeat(70_000));
    fake.sendRaw(
      JSON.stringify({
        errors: [{ title: 'operational-disconnect', detail: 'not really', type: 'about:blank' }],
      }),
    );
    const ok = fake.tweet('alice', '@tagpay still here #nothing');
    await seen(ok);
    assert.equal(connector.health().reconnects, reconnects, 'no reconnect');
    assert.equal(connector.health().state, 'live');
    assert.ok((connector.skipped.get('not_json') ?? 0) >= 2);
    assert.ok((connector.skipped.get('malformed') ?? 0) >= 2);
    assert.ok((connector.skipped.get('unknown_author') ?? 0) >= 1);
    assert.ok((connector.skipped.get('stream_error') ?? 0) >= 1);
  });

  test('rules follow offers: a new offer adds its rule, an ended one loses it', async () => {
    const mug = await h.request(
      'POST',
      '/v1/offers',
      {
        title: 'Acme Mug',
        price: { amount: 1200, currency: 'USD' },
        quantity: 5,
        hashtag: 'AcmeMug',
      },
      merchantKey,
    );
    assert.equal(mug.status, 201, JSON.stringify(mug.body));
    await h.app.settle();
    await waitFor('the mug rule', () => fake.rules().some((r) => r.tag === 'tagpay:acmemug'));
    const ended = await h.request('POST', `/v1/offers/${offerId}/end`, {}, merchantKey);
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    await h.app.settle();
    await waitFor(
      'the tee rule gone',
      () => !fake.rules().some((r) => r.tag === 'tagpay:buyacmetee'),
    );
    assert.deepEqual(
      fake
        .rules()
        .map((r) => r.tag)
        .sort(),
      ['tagpay:@tagpay', 'tagpay:acmemug'],
    );
  });
});

test('connect refuses to start without the user context, naming the variables', async () => {
  const deps = { logger: pino({ level: 'silent' }) } as unknown as ConnectorDeps;
  await assert.rejects(
    connect(
      {
        bearerToken: 'b',
        apiKey: 'k',
        apiSecret: null,
        accessToken: null,
        accessSecret: 's',
        apiBase: 'http://127.0.0.1:9',
      },
      deps,
    ),
    /set TAGPAY_X_API_SECRET, TAGPAY_X_ACCESS_TOKEN \(/,
  );
});

// Opt-in, against the real X API: only lists the stream rules (reads nothing, changes nothing).
test(
  'live X: the stream rules can be listed',
  {
    skip: process.env.TAGPAY_X_LIVE_BEARER_TOKEN ? false : 'set TAGPAY_X_LIVE_BEARER_TOKEN to run',
  },
  async () => {
    const api = new XApi('https://api.x.com', process.env.TAGPAY_X_LIVE_BEARER_TOKEN!, null);
    const res = await api.json<{ meta?: { result_count?: unknown } }>(
      'GET',
      '2/tweets/search/stream/rules',
      { auth: 'app' },
    );
    assert.equal(typeof res.meta?.result_count, 'number');
  },
);
