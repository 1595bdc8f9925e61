import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FakeMastodon } from './support/fake-mastodon.ts';
import { ADMIN_KEY, openHarness, storages, type Harness } from './support/harness.ts';
import {
  assertLedgerBalanced,
  CARDS,
  codeIn,
  linkHandle,
  orders,
  post,
  repliesTo,
  setupWorld,
} from './support/world.ts';

/**
 * Replaying never re-posts. The worst case is made on purpose: every reply and e-mail already
 * delivered is marked undelivered again (a crash after the network took each post and before the
 * outbox marked it), and the connector's cursor is rewound to the beginning (every post read again),
 * then tagpay restarts. The networks must end up with exactly the posts they had. Bluesky's and X's
 * versions of this are in tests/bluesky.test.ts and tests/x.test.ts (a real PDS; the fake X).
 */

interface Snapshot {
  log: number;
  charges: number;
  mails: number;
}

async function snapshot(h: Harness): Promise<Snapshot> {
  const n = async (sql: string) =>
    (await h.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0]!.n;
  return { log: await n('log'), charges: await n('sandbox_charges'), mails: await n('mailbox') };
}

/** A crash after every delivery, and a connector that reads everything again, then a restart. */
async function replayEverything(h: Harness, cursor: string, value: string): Promise<void> {
  await h.app.db.query(
    "UPDATE outbox SET status = 0, next_at = 0, attempts = 0 WHERE kind IN ('post', 'email')",
  );
  await h.app.db.query('UPDATE cursors SET value = $2 WHERE name = $1', [cursor, value]);
  await h.restart();
  await h.app.settle();
  const left = await h.app.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM outbox WHERE kind IN ('post', 'email') AND status <> 1",
  );
  assert.equal(left.rows[0]!.n, 0, 'every row was delivered again');
}

for (const storage of storages()) {
  describe(`replaying never re-posts (${storage})`, () => {
    test('local network: the same posts, replies, e-mails and charge after a full replay', async () => {
      const h = await openHarness(storage);
      try {
        const w = await setupWorld(h);
        const alice = w.accounts.alice!;
        const buy = await post(h, alice, '#BuyAcmeTee M');
        const [codeReply] = await repliesTo(h, buy);
        await post(h, alice, codeIn(codeReply));
        assert.equal((await orders(h, 'alice'))[0].status, 'paid');
        const posts = await h.app.local.listPosts({ limit: 1000 });
        const before = await snapshot(h);
        const cursor = await h.app.db.query<{ value: string }>(
          "SELECT value FROM cursors WHERE name = 'connector:local'",
        );
        assert.ok(cursor.rows[0], 'the local connector saved a cursor');

        await replayEverything(h, 'connector:local', '0');

        const after = await h.app.local.listPosts({ limit: 1000 });
        assert.deepEqual(
          after.map((p) => p.id),
          posts.map((p) => p.id),
          'not one post more on the local network',
        );
        assert.deepEqual(await snapshot(h), before, 'no event, charge or e-mail more');
        assert.equal((await orders(h, 'alice')).length, 1);
        await assertLedgerBalanced(h);
      } finally {
        await h.close();
      }
    });
  });
}

describe('replaying never re-posts (Mastodon, fake server)', () => {
  test('the same statuses after every delivery is repeated and the connector reads from the start', async () => {
    const fake = await FakeMastodon.start('fake.social');
    fake.addAccount('tagpay', 'tok_tagpay_0123456789');
    fake.addAccount('acme', 'tok_acme_0123456789');
    fake.addAccount('alice', 'tok_alice_0123456789');
    const h = await openHarness('pglite', {
      env: { TAGPAY_MASTODON_URL: fake.url, TAGPAY_MASTODON_TOKEN: 'tok_tagpay_0123456789' },
    });
    const until = async <T>(what: string, probe: () => T | undefined | false | null) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        await h.app.settle();
        const v = probe();
        if (v !== undefined && v !== null && v !== false) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const m = await h.request(
        'POST',
        '/v1/merchants',
        { handle: 'acme', network: 'mastodon', name: 'Acme' },
        ADMIN_KEY,
      );
      const o = await h.request(
        'POST',
        '/v1/offers',
        { title: 'Tee', price: { amount: 900, currency: 'USD' }, quantity: 3, hashtag: 'BuyTee' },
        m.body.api_key,
      );
      assert.equal(o.status, 201, JSON.stringify(o.body));
      assert.equal((await linkHandle(h, 'mastodon', 'alice', CARDS.ok)).status, 201);
      const offerPost = await until('the offer status', () =>
        fake.statuses.find((s) => s.account.username === 'tagpay' && s.text.includes('#BuyTee')),
      );
      await until('the hashtag stream', () => fake.subscribedHashtags().includes('buytee'));
      const buy = fake.post('alice', '#BuyTee', { replyTo: offerPost.id });
      const codeReply = await until('the code reply', () =>
        fake.repliesTo(buy.id).find((s) => s.account.username === 'tagpay'),
      );
      fake.post('alice', `@tagpay ${codeIn(codeReply.text)}`, { replyTo: codeReply.id });
      await until('the paid reply', () =>
        fake
          .repliesTo(buy.id)
          .find((s) => s.account.username === 'tagpay' && /^@\S+ Paid/.test(s.text)),
      );
      const statuses = fake.statuses.map((s) => s.id);
      const before = await snapshot(h);

      await replayEverything(h, 'connector:mastodon', '{"status":"0","notification":"0"}');
      // Let the connector catch up from the start over REST (the fake serves the whole history).
      await until(
        'the connector to read again',
        () => fake.requests.filter((r) => r === 'GET /api/v1/notifications').length > 1,
      );
      await h.app.settle();

      assert.deepEqual(
        fake.statuses.map((s) => s.id),
        statuses,
        'not one status more on the server',
      );
      assert.deepEqual(await snapshot(h), before, 'no event, charge or e-mail more');
      await assertLedgerBalanced(h);
    } finally {
      await h.close();
      await fake.close();
    }
  });
});
