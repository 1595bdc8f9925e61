import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FakeStatus } from './support/fake-mastodon.ts';
import { ADMIN_KEY } from './support/harness.ts';
import { MastodonWorld } from './support/mastodon-world.ts';
import { CARDS, codeIn, linkHandle } from './support/world.ts';

/**
 * Money by post on Mastodon (the fake server): "private" is a direct message there. A payment to a
 * recipient who chose private carries its amount only in direct messages (`visibility: direct`);
 * the public reply has the code but no amount.
 */

const world = new MastodonWorld();

const waitFor = <T>(what: string, probe: () => T | undefined | null | false): Promise<T> =>
  world.waitFor(what, probe);

const fromTagpay = (s: FakeStatus) => s.account.username === 'tagpay';

describe('money by post on mastodon (fake server)', () => {
  test('private wins: the amount goes by direct message only; the public reply has none', async () => {
    const { fake, h } = await world.start();
    for (const who of ['alice', 'bob']) {
      const linked = await linkHandle(h, 'mastodon', who, CARDS.ok);
      assert.equal(linked.status, 201, JSON.stringify(linked.body));
    }
    const set = await h.request(
      'POST',
      '/v1/shoppers/mastodon/bob/settings',
      { visibility: 'private' },
      ADMIN_KEY,
    );
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const top = await h.request(
      'POST',
      '/v1/wallets/alice/top-ups',
      { network: 'mastodon', amount: 1000, currency: 'USD' },
      ADMIN_KEY,
    );
    assert.equal(top.status, 202, JSON.stringify(top.body));
    await h.app.settle();

    const f = fake;
    // tagpay reads mentions of its account from the user stream: `@tagpay #pay …` reaches it there.
    await waitFor('the user stream', () => f.followsUserStream());
    const payPost = f.post('alice', '@tagpay #pay @bob $5 tea');
    const dmCode = await waitFor('the code by direct message', () =>
      f.statuses.find((s) => fromTagpay(s) && s.visibility === 'direct' && /#TP/.test(s.text)),
    );
    assert.match(dmCode.text, /^@alice@fake\.social To send \$5\.00 to @\u2060bob/);
    assert.deepEqual(
      dmCode.mentions.map((m) => m.acct),
      ['alice'],
      'the direct message reaches alice only',
    );
    const [publicReply] = await waitFor('the public reply', () => {
      const r = f.repliesTo(payPost.id).filter(fromTagpay);
      return r.length > 0 && r;
    });
    assert.doesNotMatch(publicReply!.text, /\$5/, 'no amount in public');

    f.post('alice', `@tagpay ${codeIn(dmCode.text)}`, { replyTo: dmCode.id });
    const received = await waitFor('the direct message to bob', () =>
      f.statuses.find(
        (s) => fromTagpay(s) && s.visibility === 'direct' && /received \$5\.00/.test(s.text),
      ),
    );
    assert.match(
      received.text,
      /^@bob@fake\.social You received \$5\.00 from @\u2060alice for tea/,
    );
    const wallet = await h.request('GET', '/v1/wallets/bob?network=mastodon', undefined, ADMIN_KEY);
    assert.deepEqual(wallet.body.balances, [{ currency: 'USD', amount: 500 }]);
    const publicAmounts = f.statuses.filter(
      (s) => fromTagpay(s) && s.visibility !== 'direct' && /\$5/.test(s.text),
    );
    assert.deepEqual(publicAmounts, [], 'no public status of tagpay shows the amount');
  });
});
