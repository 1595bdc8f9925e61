import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HASHTAGS_PER_POST_MAX, POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import { readTags } from '../../core/post-grammar.ts';
import { cursorOf, fastReject, normalizeJetstream } from './jetstream.ts';

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz';
const PARENT = 'at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.post/3l3qo2vuowo2b';
const TIME_US = 1725911162329308;

/** UTF-8 byte offsets of `part` in `text`, as Bluesky's facets count them. */
function byteIndex(text: string, part: string): { byteStart: number; byteEnd: number } {
  const at = text.indexOf(part);
  assert.ok(at >= 0, `${part} in ${text}`);
  const byteStart = Buffer.byteLength(text.slice(0, at));
  return { byteStart, byteEnd: byteStart + Buffer.byteLength(part) };
}

function tagFacet(text: string, tag: string) {
  return {
    index: byteIndex(text, `#${tag}`),
    features: [{ $type: 'app.bsky.richtext.facet#tag', tag }],
  };
}

function mentionFacet(text: string, handle: string, did: string) {
  return {
    index: byteIndex(text, `@${handle}`),
    features: [{ $type: 'app.bsky.richtext.facet#mention', did }],
  };
}

/** A Jetstream commit message creating a post, as the service writes it; `record` fields override. */
function postMessage(record: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  return JSON.stringify({
    did: DID,
    time_us: TIME_US,
    kind: 'commit',
    commit: {
      rev: '3l3qo2vutsw2b',
      operation: 'create',
      collection: 'app.bsky.feed.post',
      rkey: '3l3qo2vutsw2b',
      record: {
        $type: 'app.bsky.feed.post',
        createdAt: '2024-09-09T19:46:02.102Z',
        langs: ['en'],
        ...record,
      },
      cid: 'bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi',
    },
    ...top,
  });
}

function mustRead(raw: string) {
  const result = normalizeJetstream(raw);
  assert.ok(result.ok, `expected a post, got ${JSON.stringify(result)}`);
  return result;
}

describe('normalizeJetstream', () => {
  test('a post create becomes a bluesky post event with its AT URI, author DID and cursor', () => {
    const text = 'Want one! #BuyTee M x2';
    const read = mustRead(postMessage({ text, facets: [tagFacet(text, 'BuyTee')] }));
    assert.deepEqual(read.event, {
      kind: 'post',
      network: 'bluesky',
      postId: `at://${DID}/app.bsky.feed.post/3l3qo2vutsw2b`,
      author: DID,
      text,
      replyTo: null,
    });
    assert.equal(read.cursor, TIME_US);
    assert.deepEqual(read.tags, ['buytee']);
  });

  test('a reply points at its parent, not its root', () => {
    const root = 'at://did:plc:root/app.bsky.feed.post/3aaaaaaaaaaaa';
    const read = mustRead(
      postMessage({
        text: '#BuyTee',
        reply: { root: { uri: root, cid: 'bafyroot' }, parent: { uri: PARENT, cid: 'bafyparent' } },
      }),
    );
    assert.equal(read.event.replyTo, PARENT);
  });

  test('text hashtags and tag facets merge, lower-cased, without repeats, in order', () => {
    const text = '#Alpha then #BETA and #alpha';
    const read = mustRead(
      postMessage({ text, facets: [tagFacet(text, 'BETA'), tagFacet(text, 'Alpha')] }),
    );
    assert.deepEqual(read.tags, ['alpha', 'beta']);
  });

  test('a tag facet adds a hashtag readTags does not read, when the text shows it', () => {
    // Glued to a word: not a hashtag for readTags, but a client marked it and the post shows `#BuyTee`.
    const text = 'see shop#BuyTee';
    assert.deepEqual(readTags(text).tags, []);
    assert.deepEqual(mustRead(postMessage({ text, facets: [tagFacet(text, 'BuyTee')] })).tags, [
      'buytee',
    ]);
  });

  test('byte offsets are UTF-8 bytes: a tag facet after emoji, CJK and Cyrillic text is read', () => {
    const text = '🔥 日本語 Привет x#BuyTee';
    const facet = tagFacet(text, 'BuyTee');
    assert.ok(facet.index.byteStart > text.indexOf('#BuyTee'), 'bytes, not UTF-16 units');
    assert.deepEqual(mustRead(postMessage({ text, facets: [facet] })).tags, ['buytee']);
  });

  test('a facet index inside a multi-byte character, or past the end, is skipped; a lone surrogate is 3 bytes', () => {
    const text = '日本 x#BuyTee';
    const facet = tagFacet(text, 'BuyTee');
    const inside = { index: { byteStart: 1, byteEnd: 8 }, features: facet.features };
    const pastEnd = {
      index: { byteStart: Buffer.byteLength(text), byteEnd: Buffer.byteLength(text) + 7 },
      features: facet.features,
    };
    assert.deepEqual(mustRead(postMessage({ text, facets: [inside, pastEnd] })).tags, []);
    // JSON can carry a lone surrogate (`\ud83d`); Buffer and TextEncoder count it as U+FFFD.
    const lone = '\ud83d x#BuyTee';
    assert.deepEqual(
      mustRead(postMessage({ text: lone, facets: [tagFacet(lone, 'BuyTee')] })).tags,
      ['buytee'],
    );
  });

  test('a tag facet the text does not show is not taken', () => {
    const text = 'nothing to see here';
    const hidden = {
      index: { byteStart: 0, byteEnd: 7 },
      features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
    };
    const read = mustRead(postMessage({ text, facets: [hidden] }));
    assert.deepEqual(read.tags, []);
    // Right length, wrong place: the bytes under the facet are `#Other`, not `#BuyTee`.
    const text2 = '#Other1 #BuyTee';
    const shifted = {
      index: { byteStart: 0, byteEnd: 7 },
      features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
    };
    assert.deepEqual(mustRead(postMessage({ text: text2, facets: [shifted] })).tags, [
      'other1',
      'buytee',
    ]);
  });

  test('a look-alike tag facet (Cyrillic А) never becomes a tag', () => {
    const text = 'x#Buy\u0410cmeTee';
    const read = mustRead(postMessage({ text, facets: [tagFacet(text, 'Buy\u0410cmeTee')] }));
    assert.deepEqual(read.tags, []);
  });

  test('broken and unknown facets are skipped, the post is still read', () => {
    const text = '@alice.bsky.social #BuyTee https://example.com';
    const good = tagFacet(text, 'BuyTee');
    const facets: unknown[] = [
      null,
      42,
      'facet',
      [],
      {},
      { index: null, features: [] },
      { index: { byteStart: 0, byteEnd: 7 } },
      { index: { byteStart: 0, byteEnd: 7 }, features: 'tag' },
      {
        index: { byteStart: -8, byteEnd: -1 },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
      },
      {
        index: { byteStart: 9000, byteEnd: 9007 },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
      },
      {
        index: { byteStart: '19', byteEnd: '26' },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
      },
      {
        index: { byteStart: 19.5, byteEnd: 26.5 },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
      },
      {
        index: { byteStart: 26, byteEnd: 19 },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
      },
      {
        index: good.index,
        features: [
          null,
          { $type: 'app.bsky.richtext.facet#tag', tag: 42 },
          { $type: 'app.bsky.richtext.facet#tag' },
        ],
      },
      {
        index: good.index,
        features: [{ $type: 'app.bsky.richtext.facet#sparkles', tag: 'Other' }],
      },
      {
        index: { byteStart: 0, byteEnd: 0 },
        features: [{ $type: 'app.bsky.richtext.facet#tag', tag: '' }],
      },
      mentionFacet(text, 'alice.bsky.social', 'did:plc:alice'),
      {
        index: byteIndex(text, 'https://example.com'),
        features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com' }],
      },
    ];
    const read = mustRead(postMessage({ text, facets }));
    assert.deepEqual(read.tags, ['buytee'], 'the text still counts');
    const noTextTag = 'nothing #';
    assert.deepEqual(mustRead(postMessage({ text: noTextTag, facets })).tags, []);
    assert.ok(normalizeJetstream(postMessage({ text, facets: 'not a list' })).ok);
    assert.ok(normalizeJetstream(postMessage({ text, facets: { 0: good } })).ok);
  });

  test(`tags stop at HASHTAGS_PER_POST_MAX (${HASHTAGS_PER_POST_MAX}), facets included`, () => {
    const textTags = Array.from({ length: HASHTAGS_PER_POST_MAX - 2 }, (_, i) => `#t${i}`).join(
      ' ',
    );
    const text = `${textTags} x#f1 x#f2 x#f3 x#f4`;
    const facets = ['f1', 'f2', 'f3', 'f4'].map((tag) => tagFacet(text, tag));
    const read = mustRead(postMessage({ text, facets }));
    assert.equal(read.tags.length, HASHTAGS_PER_POST_MAX);
    assert.deepEqual(read.tags.slice(-2), ['f1', 'f2']);
  });

  test('a post with empty text is a post with no tags', () => {
    const read = mustRead(postMessage({ text: '' }));
    assert.equal(read.event.text, '');
    assert.deepEqual(read.tags, []);
  });

  test(`text of POST_TEXT_CHARS_MAX (${POST_TEXT_CHARS_MAX}) is read; one more character is too_long`, () => {
    assert.ok(normalizeJetstream(postMessage({ text: 'a'.repeat(POST_TEXT_CHARS_MAX) })).ok);
    assert.deepEqual(
      normalizeJetstream(postMessage({ text: 'a'.repeat(POST_TEXT_CHARS_MAX + 1) })),
      {
        ok: false,
        reason: 'too_long',
      },
    );
  });

  test('not JSON is not_json', () => {
    for (const raw of [
      '',
      '{',
      'commit',
      '{"did":"did:plc:x",}',
      "{'kind':'commit'}",
      '\u0000',
      '{"a":1}{"b":2}',
    ]) {
      assert.deepEqual(
        normalizeJetstream(raw),
        { ok: false, reason: 'not_json' },
        JSON.stringify(raw),
      );
    }
  });

  test('identity and account messages, likes, edits and deletions are not_a_post_create', () => {
    const others = [
      {
        did: DID,
        time_us: TIME_US,
        kind: 'identity',
        identity: {
          did: DID,
          handle: 'alice.bsky.social',
          seq: 1,
          time: '2024-09-09T19:46:02.102Z',
        },
      },
      {
        did: DID,
        time_us: TIME_US,
        kind: 'account',
        account: {
          active: false,
          did: DID,
          seq: 2,
          status: 'deactivated',
          time: '2024-09-09T19:46:02.102Z',
        },
      },
      {
        did: DID,
        time_us: TIME_US,
        kind: 'commit',
        commit: {
          rev: 'r',
          operation: 'create',
          collection: 'app.bsky.feed.like',
          rkey: 'k',
          record: {
            $type: 'app.bsky.feed.like',
            subject: { uri: PARENT, cid: 'c' },
            createdAt: 'x',
          },
        },
      },
      {
        did: DID,
        time_us: TIME_US,
        kind: 'commit',
        commit: {
          rev: 'r',
          operation: 'update',
          collection: 'app.bsky.feed.post',
          rkey: 'k',
          record: { text: '#BuyTee' },
        },
      },
      {
        did: DID,
        time_us: TIME_US,
        kind: 'commit',
        commit: { rev: 'r', operation: 'delete', collection: 'app.bsky.feed.post', rkey: 'k' },
      },
      { did: DID, time_us: TIME_US, kind: 'future-kind' },
    ];
    for (const msg of others) {
      assert.deepEqual(
        normalizeJetstream(JSON.stringify(msg)),
        { ok: false, reason: 'not_a_post_create' },
        JSON.stringify(msg),
      );
    }
  });

  test('a message of the wrong shape is malformed, and nothing throws', () => {
    const malformed: string[] = [
      'null',
      '42',
      '"commit"',
      '[]',
      '{}',
      JSON.stringify({ kind: 7 }),
      JSON.stringify({ did: DID, time_us: TIME_US, kind: 'commit' }),
      JSON.stringify({ did: DID, time_us: TIME_US, kind: 'commit', commit: [] }),
      JSON.stringify({
        did: DID,
        time_us: TIME_US,
        kind: 'commit',
        commit: { operation: 'create' },
      }),
      postMessage({ text: '#BuyTee' }, { did: undefined }),
      postMessage({ text: '#BuyTee' }, { did: 42 }),
      postMessage({ text: '#BuyTee' }, { did: 'alice.bsky.social' }),
      postMessage({ text: '#BuyTee' }, { did: 'did:plc:' }),
      postMessage({ text: '#BuyTee' }, { did: `did:web:${'a'.repeat(3000)}` }),
      postMessage({ text: '#BuyTee' }, { time_us: undefined }),
      postMessage({ text: '#BuyTee' }, { time_us: '1725911162329308' }),
      postMessage({ text: '#BuyTee' }, { time_us: -1 }),
      postMessage({ text: '#BuyTee' }, { time_us: 1.5 }),
      postMessage({ text: '#BuyTee' }, { time_us: 2 ** 60 }),
      postMessage({ text: 42 }),
      postMessage({ text: null }),
      postMessage({ text: ['#BuyTee'] }),
      postMessage({ text: '#BuyTee', $type: 'app.bsky.feed.like' }),
      postMessage({ text: '#BuyTee', reply: null }),
      postMessage({ text: '#BuyTee', reply: { parent: { uri: PARENT } } }),
      postMessage({ text: '#BuyTee', reply: { root: { uri: PARENT }, parent: {} } }),
      postMessage({ text: '#BuyTee', reply: { root: { uri: PARENT }, parent: { uri: 42 } } }),
      postMessage({
        text: '#BuyTee',
        reply: { root: { uri: PARENT }, parent: { uri: 'https://bsky.app/x' } },
      }),
    ];
    const noRecord = JSON.parse(postMessage({ text: '' })) as { commit: Record<string, unknown> };
    for (const record of [undefined, null, 'text', [{ text: '#BuyTee' }]]) {
      malformed.push(JSON.stringify({ ...noRecord, commit: { ...noRecord.commit, record } }));
    }
    for (const rkey of [undefined, 42, '', '.', '..', 'a/b', 'a b', 'k'.repeat(513)]) {
      malformed.push(JSON.stringify({ ...noRecord, commit: { ...noRecord.commit, rkey } }));
    }
    for (const raw of malformed) {
      assert.deepEqual(
        normalizeJetstream(raw),
        { ok: false, reason: 'malformed' },
        raw.slice(0, 300),
      );
    }
  });

  test('a record without $type, and unknown extra fields, are tolerated', () => {
    const raw = JSON.stringify({
      did: DID,
      time_us: TIME_US,
      kind: 'commit',
      extra: { any: ['thing'] },
      commit: {
        rev: 'r',
        operation: 'create',
        collection: 'app.bsky.feed.post',
        rkey: '3l3qo2vutsw2b',
        record: { text: '#BuyTee', tags: ['x'], embed: {} },
      },
    });
    assert.deepEqual(mustRead(raw).tags, ['buytee']);
  });

  test('random mutations of a valid message never throw', () => {
    const text = 'ok 🔥 #BuyTee M x2 @alice.bsky.social';
    const base = postMessage({
      text,
      facets: [tagFacet(text, 'BuyTee'), mentionFacet(text, 'alice.bsky.social', 'did:plc:alice')],
      reply: { root: { uri: PARENT, cid: 'c' }, parent: { uri: PARENT, cid: 'c' } },
    });
    let seed = 0x9e3779b9;
    const next = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const alphabet = '{}[]":,#\\0123456789abcdefnrtu -.\u00e9\ud83d';
    let parsed = 0;
    for (let i = 0; i < 3_000; i++) {
      const chars = [...base];
      for (let k = 1 + Math.floor(next() * 4); k > 0; k--) {
        const at = Math.floor(next() * chars.length);
        const op = next();
        if (op < 0.4) chars[at] = alphabet[Math.floor(next() * alphabet.length)]!;
        else if (op < 0.7) chars.splice(at, 1);
        else chars.splice(at, 0, alphabet[Math.floor(next() * alphabet.length)]!);
      }
      const raw = chars.join('');
      const result = normalizeJetstream(raw);
      if (result.ok) {
        parsed++;
        assert.equal(typeof result.event.text, 'string');
        assert.ok(result.tags.every((tag) => /^[a-z0-9_]+$/.test(tag)));
      }
      fastReject(raw);
      cursorOf(raw);
    }
    assert.ok(parsed > 0, 'some mutations keep the message valid');
  });
});

describe('fastReject', () => {
  test('a message without # is rejected', () => {
    assert.equal(fastReject(postMessage({ text: 'just chatting about tees' })), true);
    assert.equal(
      fastReject('{"did":"did:plc:x","time_us":1,"kind":"identity","identity":{"handle":"a.b"}}'),
      true,
    );
    assert.equal(fastReject(''), true);
  });

  test('NSID fragments, URL fragments, C#, HTML entities and foreign hashtags are rejected', () => {
    const text =
      'hi @alice.bsky.social see https://example.com/#top and https://x.example/page#s2, C# and F#! it&#39;s #日本 #Привет 9#1';
    const raw = postMessage({
      text,
      facets: [
        mentionFacet(text, 'alice.bsky.social', 'did:plc:alice'),
        {
          index: byteIndex(text, 'https://example.com/#top'),
          features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/#top' }],
        },
      ],
      labels: { $type: 'com.atproto.label.defs#selfLabels', values: [] },
    });
    assert.deepEqual(readTags(text).tags, [], 'readTags agrees there is nothing to act on');
    assert.equal(fastReject(raw), true);
  });

  test('a hashtag anywhere in the text keeps the message', () => {
    for (const text of [
      '#BuyTee',
      'x #BuyTee',
      'x (#BuyTee)',
      'line\n#BuyTee',
      'tab\t#BuyTee',
      'quote "#BuyTee"',
      'back\\#BuyTee',
      '\u3000#BuyTee',
      '🔥#BuyTee',
      '\u0001#BuyTee',
      '\ud83d#BuyTee',
      '<b>#BuyTee',
      '#1',
      '#_x',
      'confirm #TP7K2QX4MZBA',
    ]) {
      const raw = postMessage({ text });
      assert.equal(fastReject(raw), false, JSON.stringify(text));
    }
  });

  test('Go escapes <, > and &: a hashtag after an escaped > is kept and read', () => {
    // As Go's encoding/json writes `>#BuyTee`; JSON.stringify would leave the `>` as it is.
    const raw = postMessage({ text: 'PLACEHOLDER' }).replace(
      'PLACEHOLDER',
      '\\u003e#BuyTee \\u0026 more',
    );
    assert.equal(fastReject(raw), false);
    const read = mustRead(raw);
    assert.equal(read.event.text, '>#BuyTee & more');
    assert.deepEqual(read.tags, ['buytee']);
  });

  test('never drops a post whose text readTags finds an ASCII hashtag in', () => {
    // Random texts over the characters that decide hashtag boundaries, through JSON escaping.
    const pieces = [
      '#',
      '#Tag',
      '#t',
      'a',
      '9',
      '_',
      '&',
      '/',
      ' ',
      '\n',
      '\t',
      '"',
      '\\',
      '\u0001',
      '\u2028',
      '\ud83d',
      'é',
      '日',
      '🔥',
      '\u00a0',
      'facet',
      'x#',
    ];
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    let kept = 0;
    for (let i = 0; i < 5_000; i++) {
      let text = '';
      for (let k = Math.floor(next() * 8); k >= 0; k--)
        text += pieces[Math.floor(next() * pieces.length)]!;
      const raw = postMessage({ text });
      if (readTags(text).tags.length > 0) {
        kept++;
        assert.equal(fastReject(raw), false, JSON.stringify(text));
      }
    }
    assert.ok(kept > 500, `enough cases with tags (${kept})`);
  });

  test('a tag facet whose text is not a hashtag for readTags may be rejected: the engine reads the text', () => {
    const text = 'no hashtag here';
    const raw = postMessage({
      text,
      facets: [
        {
          index: { byteStart: 0, byteEnd: 2 },
          features: [{ $type: 'app.bsky.richtext.facet#tag', tag: 'BuyTee' }],
        },
      ],
    });
    assert.equal(fastReject(raw), true);
  });
});

describe('cursorOf', () => {
  test('reads time_us without parsing, for every kind of message', () => {
    assert.equal(cursorOf(postMessage({ text: 'hello' })), TIME_US);
    assert.equal(cursorOf(`{"did":"${DID}","time_us":${TIME_US},"kind":"identity"}`), TIME_US);
  });

  test('missing, empty or not a number is null; a quoted key inside text is not read', () => {
    assert.equal(cursorOf('{"did":"x","kind":"commit"}'), null);
    assert.equal(cursorOf('{"time_us":"123"}'), null);
    assert.equal(cursorOf('{"time_us":}'), null);
    assert.equal(cursorOf(`{"time_us":${'9'.repeat(20)}}`), null);
    assert.equal(cursorOf(JSON.stringify({ text: '"time_us":5' })), null);
  });
});
