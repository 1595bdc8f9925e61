import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  base32,
  CODE_PREFIX,
  displayCode,
  hashCode,
  looksLikeCode,
  newCode,
  newId,
  newSecret,
  sha256,
  type RandomBytes,
} from './codes.ts';
import { CODE_BITS, CODE_CHARS } from './limits.ts';

/** A deterministic byte source (xorshift32), and a record of how many bytes were asked for. */
function bytes(seed: number): RandomBytes & { asked: number[] } {
  let state = seed >>> 0 || 1;
  const asked: number[] = [];
  const fn = (count: number) => {
    asked.push(count);
    const out = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      out[i] = state & 0xff;
    }
    return out;
  };
  return Object.assign(fn, { asked });
}

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('base32', () => {
  test('RFC 4648 test vectors, lower case, without padding', () => {
    assert.equal(base32(utf8('f'), 1), 'm');
    assert.equal(base32(utf8('fo'), 3), 'mzx');
    assert.equal(base32(utf8('foo'), 4), 'mzxw');
    assert.equal(base32(utf8('foob'), 6), 'mzxw6y');
    assert.equal(base32(utf8('fooba'), 8), 'mzxw6ytb');
    assert.equal(base32(utf8('foobar'), 9), 'mzxw6ytbo');
  });

  test('all zeros and all ones use the first and last letters', () => {
    assert.equal(base32(new Uint8Array(5), 8), 'aaaaaaaa');
    assert.equal(base32(new Uint8Array(5).fill(0xff), 8), '77777777');
  });

  test('stops at the letters asked for', () => {
    assert.equal(base32(utf8('fooba'), 2), 'mz');
  });

  test('throws when the bytes do not hold enough bits', () => {
    assert.throws(() => base32(utf8('fooba'), 9), /not enough random bytes/);
    assert.throws(() => base32(new Uint8Array(0), 1), /not enough random bytes/);
  });
});

describe('confirmation codes', () => {
  test(`a new code is the prefix and ${CODE_CHARS} base32 letters, at least 40 bits`, () => {
    assert.ok(CODE_BITS >= 40);
    assert.equal(CODE_CHARS * 5, CODE_BITS);
    const random = bytes(7);
    for (let i = 0; i < 200; i++) {
      const code = newCode(random);
      assert.match(code, new RegExp(`^${CODE_PREFIX}[a-z2-7]{${CODE_CHARS}}$`));
      assert.ok(looksLikeCode(code), code);
    }
    assert.ok(
      random.asked.every((n) => n * 8 >= CODE_BITS),
      `each code draws at least ${CODE_BITS} random bits`,
    );
  });

  test('codes come from the random bytes: different bytes, different codes; same bytes, same code', () => {
    const seen = new Set<string>();
    const random = bytes(42);
    for (let i = 0; i < 1000; i++) seen.add(newCode(random));
    assert.equal(seen.size, 1000);
    assert.equal(newCode(bytes(9)), newCode(bytes(9)));
    assert.notEqual(newCode(bytes(9)), newCode(bytes(10)));
  });

  test('every letter of a code depends on the random bytes (all 32 letters appear)', () => {
    const letters = new Set<string>();
    const random = bytes(3);
    for (let i = 0; i < 500; i++)
      for (const ch of newCode(random).slice(CODE_PREFIX.length)) letters.add(ch);
    assert.equal(letters.size, 32);
  });

  test('looksLikeCode takes exactly the lower-case shape', () => {
    assert.equal(looksLikeCode('tpabcdefghij'), true);
    assert.equal(looksLikeCode('tp234567abcd'), true);
    for (const not of [
      'tpabcdefghi',
      'tpabcdefghijk',
      'TPABCDEFGHIJ',
      'tpabcdefgh18',
      'tpabcdefgh09',
      'xxabcdefghij',
      'abcdefghij',
      ' tpabcdefghij',
      'tpabcdefghij\n',
    ]) {
      assert.equal(looksLikeCode(not), false, JSON.stringify(not));
    }
  });

  test('hashCode is case-insensitive, not the code, and differs between codes', () => {
    const code = 'tp7k2qx4mzba';
    assert.equal(hashCode(code), hashCode(code.toUpperCase()));
    assert.notEqual(hashCode(code), code);
    assert.ok(!hashCode(code).toLowerCase().includes(code));
    assert.match(hashCode(code), /^[A-Za-z0-9_-]{43}$/, 'sha256 in base64url');
    assert.notEqual(hashCode(code), hashCode('tp7k2qx4mzbb'));
  });

  test('displayCode is upper case with a #', () => {
    assert.equal(displayCode('tp7k2qx4mzba'), '#TP7K2QX4MZBA');
  });
});

describe('ids and secrets', () => {
  test('ids carry their prefix and 12 letters; secrets 40', () => {
    assert.match(newId('ord', bytes(1)), /^ord_[a-z2-7]{12}$/);
    assert.match(newSecret('sk', bytes(1)), /^sk_[a-z2-7]{40}$/);
  });

  test('sha256 is hex', () => {
    assert.equal(sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
