import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import {
  CONTENT_HTML_CHARS_MAX,
  compareIds,
  fullAcct,
  htmlToText,
  normalizeStatus,
} from './normalize.ts';

const DOMAIN = 'tagpay.social';

/** A Status entity as docs.joinmastodon.org/entities/Status documents it (the fields read). */
function status(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '113000000000000001',
    uri: 'https://tagpay.social/users/alice/statuses/113000000000000001',
    url: 'https://tagpay.social/@alice/113000000000000001',
    created_at: '2026-11-26T12:00:00.000Z',
    content:
      '<p>I want one! <a href="https://tagpay.social/tags/BuyAcmeTee" class="mention hashtag" rel="tag">#<span>BuyAcmeTee</span></a> M x2</p>',
    account: {
      id: '1',
      username: 'alice',
      acct: 'alice',
      url: 'https://tagpay.social/@alice',
    },
    in_reply_to_id: null,
    visibility: 'public',
    tags: [{ name: 'buyacmetee' }],
    mentions: [],
    edited_at: null,
    ...over,
  };
}

describe('mastodon normalizeStatus', () => {
  test('a local status: full acct, plain text, key by URI, post id for replies', () => {
    const r = normalizeStatus(status(), DOMAIN);
    assert.ok(r.ok);
    assert.equal(
      r.key,
      'post:mastodon:https://tagpay.social/users/alice/statuses/113000000000000001',
    );
    assert.deepEqual(r.event, {
      kind: 'post',
      network: 'mastodon',
      postId: '113000000000000001',
      author: 'alice@tagpay.social',
      text: 'I want one! #BuyAcmeTee M x2',
      replyTo: null,
    });
    assert.equal(r.visibility, 'public');
  });

  test('a remote author keeps its domain, folded to lower case; a reply keeps in_reply_to_id', () => {
    const r = normalizeStatus(
      status({
        account: { id: '9', username: 'Bob', acct: 'Bob@Other.Example' },
        in_reply_to_id: '112999',
        visibility: 'direct',
      }),
      DOMAIN,
    );
    assert.ok(r.ok);
    assert.equal(r.event.author, 'bob@other.example');
    assert.equal(r.event.replyTo, '112999');
    assert.equal(r.visibility, 'direct');
  });

  test("masto's camel-cased REST entities read the same", () => {
    const r = normalizeStatus(
      { ...status({ in_reply_to_id: undefined }), inReplyToId: '42', editedAt: null },
      DOMAIN,
    );
    assert.ok(r.ok);
    assert.equal(r.event.replyTo, '42');
  });

  test('an edited status keeps its key: the first version seen is the one that counts', () => {
    const first = normalizeStatus(status(), DOMAIN);
    const edited = normalizeStatus(
      status({ content: '<p>#BuyAcmeTee L x9</p>', edited_at: '2026-11-26T12:05:00.000Z' }),
      DOMAIN,
    );
    assert.ok(first.ok && edited.ok);
    assert.equal(edited.key, first.key, 'the log drops the edit as a duplicate');
  });

  test('malformed input is a reason, never a throw', () => {
    const cases: [unknown, string][] = [
      [null, 'malformed'],
      ['a string', 'malformed'],
      [[status()], 'malformed'],
      [status({ id: undefined }), 'malformed'],
      [status({ id: 12 }), 'malformed'],
      [status({ id: '' }), 'malformed'],
      [status({ id: '1 OR 1=1' }), 'malformed'],
      [status({ uri: undefined }), 'malformed'],
      [status({ uri: 'x'.repeat(5000) }), 'too_long'],
      [status({ content: undefined }), 'malformed'],
      [status({ content: { html: '#x' } }), 'malformed'],
      [status({ content: '<p>' + 'a'.repeat(CONTENT_HTML_CHARS_MAX) + '</p>' }), 'too_long'],
      [status({ content: 'a'.repeat(POST_TEXT_CHARS_MAX + 1) }), 'too_long'],
      [status({ account: undefined }), 'malformed'],
      [status({ account: 'alice' }), 'malformed'],
      [status({ account: { acct: 7 } }), 'malformed'],
      [status({ account: { acct: '' } }), 'malformed'],
      [status({ account: { acct: 'al ice' } }), 'malformed'],
      [status({ account: { acct: 'a@b@c' } }), 'malformed'],
      [status({ in_reply_to_id: 5 }), 'malformed'],
      [status({ visibility: ['public'] }), 'malformed'],
      [status({ edited_at: 1 }), 'malformed'],
    ];
    for (const [input, reason] of cases) {
      const r = normalizeStatus(input, DOMAIN);
      assert.equal(r.ok, false, JSON.stringify(input)?.slice(0, 120));
      if (!r.ok) {
        assert.equal(r.reason, reason, JSON.stringify(input)?.slice(0, 120));
        assert.ok(r.detail.length > 0);
      }
    }
  });

  test('an object whose fields throw when read is refused, not thrown', () => {
    const hostile = status();
    Object.defineProperty(hostile, 'content', {
      get() {
        throw new Error('boom');
      },
      enumerable: true,
    });
    const r = normalizeStatus(hostile, DOMAIN);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'malformed');
  });
});

describe('mastodon htmlToText', () => {
  test('paragraphs, line breaks, links, mentions and entities', () => {
    assert.equal(
      htmlToText(
        '<p>Hi <span class="h-card"><a href="https://x/@tagpay" class="u-url mention">@<span>tagpay</span></a></span> &amp; co</p><p>line one<br>line two<br/>three</p>',
      ),
      'Hi @tagpay & co\n\nline one\nline two\nthree',
    );
    assert.equal(
      htmlToText('&lt;b&gt; &quot;q&quot; &#39;s&#39; &#x1F600; &#65;&nbsp;x'),
      '<b> "q" \'s\' 😀 A x',
    );
  });

  test('broken markup and unknown entities stay text; nothing is lost or invented', () => {
    assert.equal(htmlToText('a < b and c > d'), 'a < b and c > d');
    assert.equal(htmlToText('5 < 6'), '5 < 6');
    assert.equal(
      htmlToText('&bogus; &amp &#xZZ; &#0; &#55296;'),
      '&bogus; &amp &#xZZ; \uFFFD \uFFFD',
    );
    assert.equal(htmlToText('<script>#BuyAcmeTee</script>ok'), 'ok');
    assert.equal(htmlToText('<P>#BuyAcmeTee M</P>'), '#BuyAcmeTee M');
    assert.equal(htmlToText(''), '');
  });

  test('linear on hostile input (no catastrophic backtracking)', () => {
    // A complexity check with a wide margin, not a speed limit: a million characters take about a
    // second when reading is linear (on a busy 2-core machine too), and minutes when it is quadratic
    // (a `&` reader that searched the whole rest of the text for `;` took 4 s on 200,000).
    for (const unit of ['<', '&', '<a ', '&#', '<p>']) {
      const input = unit.repeat(Math.ceil(1_000_000 / unit.length));
      const started = performance.now();
      htmlToText(input);
      const ms = performance.now() - started;
      assert.ok(ms < 20_000, `${unit} × ${input.length / unit.length} took ${Math.round(ms)} ms`);
    }
  });
});

describe('mastodon fullAcct and compareIds', () => {
  test('acct forms', () => {
    assert.equal(fullAcct('alice', DOMAIN), 'alice@tagpay.social');
    assert.equal(fullAcct('@Alice', DOMAIN), 'alice@tagpay.social');
    assert.equal(fullAcct('alice@Example.COM', DOMAIN), 'alice@example.com');
    assert.equal(fullAcct('alice@', DOMAIN), null);
    assert.equal(fullAcct('ali\u212Ace', DOMAIN), null, 'a Kelvin sign is not a k');
    assert.equal(fullAcct('a'.repeat(400), DOMAIN), null);
  });

  test('snowflake ids compare by length first', () => {
    assert.ok(compareIds('99', '100') < 0);
    assert.ok(compareIds('113000000000000002', '113000000000000001') > 0);
    assert.equal(compareIds('7', '7'), 0);
    assert.ok(compareIds('01HABC', '01HABD') < 0, 'ULIDs sort as strings');
  });
});
