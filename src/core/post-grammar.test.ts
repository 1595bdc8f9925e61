import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HASHTAGS_PER_POST_MAX, QUANTITY_PER_POST_MAX } from './limits.ts';
import {
  mayMatter,
  normalizeHandle,
  OFFER_HASHTAG_RE,
  readBuyOptions,
  readTags,
  RESERVED_HASHTAGS,
} from './post-grammar.ts';

describe('readTags', () => {
  test('reads ASCII hashtags lower-cased, in order, at the start and after spaces or punctuation', () => {
    const read = readTags('#BuyAcmeTee now (#Second) and,#third_3');
    assert.deepEqual(read.tags, ['buyacmetee', 'second', 'third_3']);
    assert.deepEqual(read.foreign, []);
  });

  test('a Cyrillic look-alike is kept as foreign and never as a tag', () => {
    // U+0410 CYRILLIC CAPITAL LETTER A in place of the Latin A.
    const read = readTags('#Buy\u0410cmeTee M');
    assert.deepEqual(read.tags, []);
    assert.deepEqual(read.foreign, ['Buy\u0410cmeTee']);
  });

  test('full-width letters are kept as foreign and never as a tag', () => {
    const read = readTags('#ＢｕｙＡｃｍｅＴｅｅ M');
    assert.deepEqual(read.tags, []);
    assert.deepEqual(read.foreign, ['ＢｕｙＡｃｍｅＴｅｅ']);
  });

  test('a Latin letter with a combining mark is foreign', () => {
    const read = readTags('#Cafe\u0301 #cafe');
    assert.deepEqual(read.tags, ['cafe']);
    assert.deepEqual(read.foreign, ['Cafe\u0301']);
  });

  test('a # inside a word, a URL fragment or an HTML entity is not a hashtag', () => {
    for (const text of [
      'a#tag',
      'mail me at shop#BuyAcmeTee',
      'https://x.example/#tag',
      'it&#39;s',
      '9#tag',
    ]) {
      assert.deepEqual(readTags(text).tags, [], text);
      assert.deepEqual(readTags(text).foreign, [], text);
    }
  });

  test('repeats count once, whatever their case', () => {
    assert.deepEqual(readTags('#Tag #tag #TAG #other #tag').tags, ['tag', 'other']);
  });

  test(`at most HASHTAGS_PER_POST_MAX (${HASHTAGS_PER_POST_MAX}) hashtags are read, foreign ones included`, () => {
    const many = Array.from({ length: HASHTAGS_PER_POST_MAX + 5 }, (_, i) => `#tag${i}`).join(' ');
    const read = readTags(many);
    assert.equal(read.tags.length, HASHTAGS_PER_POST_MAX);
    assert.equal(read.tags.at(-1), `tag${HASHTAGS_PER_POST_MAX - 1}`);

    const foreignFirst =
      Array.from({ length: HASHTAGS_PER_POST_MAX }, (_, i) => `#ｆ${i}`).join(' ') + ' #late';
    const mixed = readTags(foreignFirst);
    assert.equal(mixed.foreign.length, HASHTAGS_PER_POST_MAX);
    assert.deepEqual(mixed.tags, [], 'the limit counts foreign hashtags too');
  });

  test('mentions with and without a server, lower-cased, without a trailing dot or repeats', () => {
    const read = readTags('hi @Bob, @carol@Mastodon.Social and @dave. Again @bob');
    assert.deepEqual(read.mentions, ['bob', 'carol@mastodon.social', 'dave']);
  });

  test('an e-mail address is not a mention', () => {
    assert.deepEqual(readTags('write to alice@example.com').mentions, []);
  });

  test('a post without # or @ reads as nothing', () => {
    assert.deepEqual(readTags('just chatting'), { tags: [], foreign: [], mentions: [] });
  });

  test('mentions are ASCII only: a Kelvin sign K or a long s is not read as a handle', () => {
    const read = readTags('hello @\u212Aate and @\u017Fam');
    assert.deepEqual(read.mentions, []);
  });
});

describe('readBuyOptions', () => {
  const SML = ['S', 'M', 'L'];
  const read = (text: string, variants: readonly string[] = SML) =>
    readBuyOptions(text, 'BuyAcmeTee', variants);

  test('variant then quantity: `#BuyAcmeTee M x2`', () => {
    assert.deepEqual(read('#BuyAcmeTee M x2'), { ok: true, variant: 'M', quantity: 2 });
  });

  test('quantity then variant: `x2 M`', () => {
    assert.deepEqual(read('#BuyAcmeTee x2 M'), { ok: true, variant: 'M', quantity: 2 });
  });

  test('quantity forms: 2x, ×3, X4, qty 2', () => {
    assert.deepEqual(read('#BuyAcmeTee M 2x'), { ok: true, variant: 'M', quantity: 2 });
    assert.deepEqual(read('#BuyAcmeTee ×3 L'), { ok: true, variant: 'L', quantity: 3 });
    assert.deepEqual(read('#BuyAcmeTee S X4'), { ok: true, variant: 'S', quantity: 4 });
    assert.deepEqual(read('#BuyAcmeTee qty 2 S'), { ok: true, variant: 'S', quantity: 2 });
    assert.deepEqual(read('#BuyAcmeTee S qty 5'), { ok: true, variant: 'S', quantity: 5 });
  });

  test('the hashtag is found whatever its case and the variant is given its declared case', () => {
    assert.deepEqual(read('#buyacmetee m'), { ok: true, variant: 'M', quantity: 1 });
  });

  test('without a quantity it is one', () => {
    assert.deepEqual(read('I want one! #BuyAcmeTee L'), { ok: true, variant: 'L', quantity: 1 });
  });

  test('an unknown variant is refused', () => {
    assert.deepEqual(read('#BuyAcmeTee XXL'), { ok: false, reason: 'unknown_variant' });
  });

  test('an offer with variants needs one', () => {
    assert.deepEqual(read('#BuyAcmeTee'), { ok: false, reason: 'variant_required' });
    assert.deepEqual(read('#BuyAcmeTee x2'), { ok: false, reason: 'variant_required' });
  });

  test('an offer without variants takes none and ignores the free text after it', () => {
    assert.deepEqual(read('#BuyAcmeTee', []), { ok: true, variant: null, quantity: 1 });
    assert.deepEqual(read('#BuyAcmeTee x3 please', []), { ok: true, variant: null, quantity: 3 });
    assert.deepEqual(read('#BuyAcmeTee love it', []), { ok: true, variant: null, quantity: 1 });
  });

  test('a quantity that is not a whole number in range is answered, never read as one unit', () => {
    for (const bad of ['x1000000', 'x-1', 'x2.5', '-3', '1,000', '2024', '3.5x']) {
      assert.deepEqual(
        read(`#BuyAcmeTee M ${bad}`),
        { ok: false, reason: 'quantity_invalid' },
        bad,
      );
      assert.deepEqual(
        read(`#BuyAcmeTee ${bad}`, []),
        { ok: false, reason: 'quantity_invalid' },
        bad,
      );
    }
    assert.deepEqual(read('#BuyAcmeTee S 2'), { ok: true, variant: 'S', quantity: 2 });
    assert.deepEqual(read('#BuyAcmeTee 2 S'), { ok: true, variant: 'S', quantity: 2 });
    // A variant that is a number is the variant, not a quantity.
    assert.deepEqual(read('#BuyAcmeTee 42 x2', ['41', '42']), {
      ok: true,
      variant: '42',
      quantity: 2,
    });
  });

  test(`quantity 0 and quantity ${QUANTITY_PER_POST_MAX + 1} are invalid; 1 and ${QUANTITY_PER_POST_MAX} are not`, () => {
    assert.deepEqual(read('#BuyAcmeTee M x0'), { ok: false, reason: 'quantity_invalid' });
    assert.deepEqual(read(`#BuyAcmeTee M x${QUANTITY_PER_POST_MAX + 1}`), {
      ok: false,
      reason: 'quantity_invalid',
    });
    assert.deepEqual(read('#BuyAcmeTee M qty 0'), { ok: false, reason: 'quantity_invalid' });
    assert.deepEqual(read('#BuyAcmeTee M x1'), { ok: true, variant: 'M', quantity: 1 });
    assert.deepEqual(read(`#BuyAcmeTee M x${QUANTITY_PER_POST_MAX}`), {
      ok: true,
      variant: 'M',
      quantity: QUANTITY_PER_POST_MAX,
    });
  });

  test('punctuation after the variant or the quantity is not part of it', () => {
    assert.deepEqual(read('#BuyAcmeTee M!'), { ok: true, variant: 'M', quantity: 1 });
    assert.deepEqual(read('#BuyAcmeTee M, x2.'), { ok: true, variant: 'M', quantity: 2 });
    assert.deepEqual(read('#BuyAcmeTee L?'), { ok: true, variant: 'L', quantity: 1 });
  });

  test('a longer hashtag that starts with the offer one is not it', () => {
    assert.deepEqual(read('#BuyAcmeTeeShirt L #BuyAcmeTee M'), {
      ok: true,
      variant: 'M',
      quantity: 1,
    });
  });

  test('only the words up to the next hashtag or mention are read', () => {
    assert.deepEqual(read('#BuyAcmeTee #gift M'), { ok: false, reason: 'variant_required' });
    assert.deepEqual(read('#BuyAcmeTee M @bob x2'), { ok: true, variant: 'M', quantity: 1 });
  });

  test('`qty 2.` with a full stop buys two, as `x2.` does', () => {
    assert.deepEqual(read('#BuyAcmeTee M qty 2.'), { ok: true, variant: 'M', quantity: 2 });
  });

  test('options are read after the real hashtag, not after a # inside a URL', () => {
    assert.deepEqual(read('see https://shop.example/#BuyAcmeTee L and #BuyAcmeTee M'), {
      ok: true,
      variant: 'M',
      quantity: 1,
    });
  });
});

describe('offer hashtags, handles', () => {
  test('OFFER_HASHTAG_RE: ASCII, a letter first, 3 to 64 characters', () => {
    for (const ok of ['BuyAcmeTee', 'abc', 'a_1', 'A'.repeat(64)])
      assert.ok(OFFER_HASHTAG_RE.test(ok), ok);
    for (const bad of [
      'ab',
      '1abc',
      '_abc',
      'Buy Acme',
      'Buy\u0410cme',
      'A'.repeat(65),
      'tee!',
      '',
    ]) {
      assert.ok(!OFFER_HASHTAG_RE.test(bad), bad);
    }
  });

  test('the grammar keeps its own words', () => {
    for (const word of ['cancel', 'pay', 'cart', 'checkout', 'tagpay'])
      assert.ok(RESERVED_HASHTAGS.has(word));
    assert.ok(!RESERVED_HASHTAGS.has('buyacmetee'));
  });

  test('normalizeHandle and mayMatter', () => {
    assert.equal(normalizeHandle('  @Alice '), 'alice');
    assert.equal(mayMatter('#x'), true);
    assert.equal(mayMatter('no tags here'), false);
  });
});
