import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashGiftCode, newGiftCode, normalizeGiftCode } from './gift-codes.ts';
import { GIFT_CODE_BITS } from './limits.ts';

describe('gift card codes', () => {
  test('GC- and four groups of four base32 letters, at least 64 bits', () => {
    let n = 0;
    const random = (count: number) => new Uint8Array(count).map(() => (n++ * 37) & 0xff);
    const code = newGiftCode(random);
    assert.match(code, /^GC-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/);
    assert.ok(GIFT_CODE_BITS >= 64);
  });

  test('codes from different randomness differ; the same randomness gives the same code', () => {
    const fixed = (b: number) => (count: number) => new Uint8Array(count).fill(b);
    assert.equal(newGiftCode(fixed(1)), newGiftCode(fixed(1)));
    assert.notEqual(newGiftCode(fixed(1)), newGiftCode(fixed(2)));
  });

  test('typed codes are normalized; malformed ones are refused; the hash is of the canonical form', () => {
    const code = 'GC-ABCD-EFGH-IJKL-MN23';
    assert.equal(normalizeGiftCode(' gc abcd-efgh ijkl-mn23 '), 'GCABCDEFGHIJKLMN23');
    assert.equal(normalizeGiftCode('GC-ABCD'), null);
    assert.equal(normalizeGiftCode('GC-ABCD-EFGH-IJKL-MN01'), null, '0 and 1 are not base32');
    assert.equal(
      hashGiftCode(normalizeGiftCode(code)!),
      hashGiftCode(normalizeGiftCode(code.toLowerCase())!),
    );
    assert.ok(!hashGiftCode('GCABCDEFGHIJKLMN23').includes('ABCD'));
  });
});
