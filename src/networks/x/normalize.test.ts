import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareIds, normalizeStreamLine, normalizeStreamMessage, postKey } from './normalize.ts';

/** A filtered-stream message as the v2 docs show one, with the expansions tagpay asks for. */
function message(data: Record<string, unknown> = {}, users?: unknown[]) {
  return {
    data: {
      id: '1860000000000000123',
      edit_history_tweet_ids: ['1860000000000000123'],
      text: '#BuyAcmeTee M x2',
      author_id: '2244994945',
      conversation_id: '1860000000000000123',
      entities: { hashtags: [{ start: 0, end: 11, tag: 'BuyAcmeTee' }] },
      ...data,
    },
    includes: { users: users ?? [{ id: '2244994945', name: 'Alice', username: 'Alice_W' }] },
    matching_rules: [{ id: '1', tag: 'tagpay:buyacmetee' }],
  };
}

describe('normalizeStreamMessage', () => {
  test('a tweet becomes a post event: the numeric user id as author, the tweet id as post id', () => {
    const r = normalizeStreamMessage(message());
    assert.deepEqual(r, {
      ok: true,
      event: {
        kind: 'post',
        network: 'x',
        postId: '1860000000000000123',
        author: '2244994945',
        text: '#BuyAcmeTee M x2',
        replyTo: null,
      },
      authorId: '2244994945',
    });
    assert.equal(postKey('1860000000000000123'), 'post:x:1860000000000000123');
  });

  test('a reply names the replied-to tweet; a quote is read as the quoter’s own post', () => {
    const reply = normalizeStreamMessage(
      message({
        text: '@tagpay #TPABCDEFGHIJ',
        referenced_tweets: [{ type: 'replied_to', id: '1860000000000000100' }],
        entities: { mentions: [{ start: 0, end: 7, username: 'tagpay', id: '99' }] },
      }),
    );
    assert.ok(reply.ok);
    assert.equal(reply.event.replyTo, '1860000000000000100');
    const quote = normalizeStreamMessage(
      message({ referenced_tweets: [{ type: 'quoted', id: '1860000000000000100' }] }),
    );
    assert.ok(quote.ok);
    assert.equal(quote.event.replyTo, null);
  });

  test('retweets are ignored', () => {
    const r = normalizeStreamMessage(
      message({
        text: 'RT @acme: #BuyAcmeTee',
        referenced_tweets: [{ type: 'retweeted', id: '1860000000000000100' }],
      }),
    );
    assert.deepEqual(r, { ok: false, reason: 'retweet' });
  });

  test('HTML entities X puts in text are decoded once', () => {
    const r = normalizeStreamMessage(message({ text: '#BuyAcmeTee M &amp;&lt;3 &amp;amp;' }));
    assert.ok(r.ok);
    assert.equal(r.event.text, '#BuyAcmeTee M &<3 &amp;');
  });

  test('an author missing from includes.users cannot be attributed', () => {
    assert.deepEqual(normalizeStreamMessage(message({}, [])), {
      ok: false,
      reason: 'unknown_author',
    });
    assert.deepEqual(
      normalizeStreamMessage(message({}, [{ id: '2244994945', username: 'no spaces allowed' }])),
      { ok: false, reason: 'unknown_author' },
    );
    const noIncludes = { data: message().data };
    assert.deepEqual(normalizeStreamMessage(noIncludes), { ok: false, reason: 'unknown_author' });
  });

  test('an errors envelope is a stream error with its title and detail', () => {
    const r = normalizeStreamMessage({
      errors: [
        {
          title: 'operational-disconnect',
          disconnect_type: 'UpstreamOperationalDisconnect',
          detail: 'This stream has been disconnected upstream for operational reasons.',
          type: 'https://api.twitter.com/2/problems/operational-disconnect',
        },
      ],
    });
    assert.deepEqual(r, {
      ok: false,
      reason: 'stream_error',
      detail:
        'operational-disconnect: This stream has been disconnected upstream for operational reasons.',
    });
  });

  test('an edited tweet (a new id whose edit history starts with the original) is an edit, not a new post', () => {
    const edited = message({
      id: '1860000000000000999',
      edit_history_tweet_ids: ['1860000000000000123', '1860000000000000999'],
      text: '#BuyAcmeTee L x5',
    });
    assert.deepEqual(normalizeStreamMessage(edited), { ok: false, reason: 'edit' });
    // The original, with its one-entry history, is read as usual.
    assert.equal(normalizeStreamMessage(message()).ok, true);
    // Without the field (an older payload), the tweet is read as itself.
    assert.equal(normalizeStreamMessage(message({ edit_history_tweet_ids: undefined })).ok, true);
  });

  test('too long a text is refused', () => {
    assert.deepEqual(normalizeStreamMessage(message({ text: '#a '.repeat(2000) })), {
      ok: false,
      reason: 'too_long',
    });
  });
});

describe('bad input never throws', () => {
  const malformed: [string, unknown][] = [
    ['null', null],
    ['an array', [message()]],
    ['a string', 'hello'],
    ['no data', { includes: {} }],
    ['data is a list', { data: [message().data] }],
    ['id is a number', message({ id: 1860000000 })],
    ['id is not digits', message({ id: '18600000000000001x3' })],
    ['id too long', message({ id: '1'.repeat(20) })],
    ['id empty', message({ id: '' })],
    ['text missing', message({ text: undefined })],
    ['text is an object', message({ text: { a: 1 } })],
    ['author_id missing', message({ author_id: undefined })],
    ['author_id is a number', message({ author_id: 2244994945 })],
    ['referenced_tweets is an object', message({ referenced_tweets: { type: 'replied_to' } })],
    ['a reference without id', message({ referenced_tweets: [{ type: 'replied_to' }] })],
    ['a reference with a bad id', message({ referenced_tweets: [{ type: 'quoted', id: 'x' }] })],
    ['a reference that is null', message({ referenced_tweets: [null] })],
    ['errors that are not a list', { errors: 'boom' }],
    ['edit history that is not a list', message({ edit_history_tweet_ids: '1860000000000000123' })],
    ['edit history with a bad id', message({ edit_history_tweet_ids: ['x'] })],
  ];
  for (const [name, input] of malformed) {
    test(name, () => {
      const r = normalizeStreamMessage(input);
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.reason, 'malformed');
    });
  }

  test('lines that are not JSON', () => {
    for (const line of ['{', 'not json', '{"data":', '\u0000', '}{']) {
      assert.deepEqual(normalizeStreamLine(line), { ok: false, reason: 'not_json' });
    }
    assert.equal(normalizeStreamLine(JSON.stringify(message())).ok, true);
  });

  test('a prototype key in the JSON changes nothing', () => {
    const raw = JSON.stringify(message()).replace(
      '"includes"',
      '"__proto__":{"ok":true},"includes"',
    );
    const r = normalizeStreamLine(raw);
    assert.ok(r.ok);
    assert.equal(r.event.author, '2244994945');
  });
});

test('compareIds orders snowflakes as numbers, not strings', () => {
  assert.equal(compareIds('999', '1000'), -1);
  assert.equal(compareIds('1860000000000000124', '1860000000000000123'), 1);
  assert.equal(compareIds(null, '1'), -1);
  assert.equal(compareIds('1', null), 1);
  assert.equal(compareIds('5', '5'), 0);
});
