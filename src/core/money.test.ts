import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AMOUNT_MINOR_MAX } from './limits.ts';
import { exponentOf, feeOf, formatMoney, isCurrency, minorPerMajor, parseMinor } from './money.ts';

describe('parseMinor', () => {
  test('a positive safe integer or a string of digits', () => {
    assert.deepEqual(parseMinor(2500), { ok: true, minor: 2500n });
    assert.deepEqual(parseMinor('2500'), { ok: true, minor: 2500n });
    assert.deepEqual(parseMinor(1), { ok: true, minor: 1n });
    assert.deepEqual(parseMinor('0012'), { ok: true, minor: 12n });
  });

  test('AMOUNT_MINOR_MAX is the largest amount, as a number and as a string', () => {
    assert.deepEqual(parseMinor(Number(AMOUNT_MINOR_MAX)), { ok: true, minor: AMOUNT_MINOR_MAX });
    assert.deepEqual(parseMinor(AMOUNT_MINOR_MAX.toString()), {
      ok: true,
      minor: AMOUNT_MINOR_MAX,
    });
    assert.deepEqual(parseMinor(Number(AMOUNT_MINOR_MAX) + 1), { ok: false, reason: 'range' });
    assert.deepEqual(parseMinor((AMOUNT_MINOR_MAX + 1n).toString()), {
      ok: false,
      reason: 'range',
    });
    assert.deepEqual(parseMinor('9999999999999999999'), { ok: false, reason: 'range' });
  });

  test('zero and negative amounts are out of range', () => {
    assert.deepEqual(parseMinor(0), { ok: false, reason: 'range' });
    assert.deepEqual(parseMinor('0'), { ok: false, reason: 'range' });
    assert.deepEqual(parseMinor(-1), { ok: false, reason: 'range' });
  });

  test('fractions, floats, unsafe integers, signs, blanks and other types are invalid', () => {
    for (const value of [
      1.5,
      0.1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      '1.5',
      '-1',
      '+1',
      ' 1',
      '1e3',
      '',
      '12345678901234567890',
      null,
      undefined,
      true,
      {},
      [1],
      10n,
    ]) {
      assert.deepEqual(parseMinor(value), { ok: false, reason: 'invalid' }, String(value));
    }
  });
});

describe('formatMoney', () => {
  test('USD with a symbol and two decimals', () => {
    assert.equal(formatMoney({ minor: 2500n, currency: 'USD' }), '$25.00');
    assert.equal(formatMoney({ minor: 5n, currency: 'USD' }), '$0.05');
    assert.equal(formatMoney({ minor: 123456789n, currency: 'USD' }), '$1,234,567.89');
    assert.equal(formatMoney({ minor: 0n, currency: 'USD' }), '$0.00');
  });

  test('JPY has no minor unit', () => {
    assert.equal(formatMoney({ minor: 1200n, currency: 'JPY' }), '¥1,200');
    assert.equal(formatMoney({ minor: 102500n, currency: 'USD' }), '$1,025.00');
    assert.equal(formatMoney({ minor: -100000n, currency: 'USD' }), '-$1,000.00');
    assert.equal(formatMoney({ minor: 120000n, currency: 'CHF' }), '1,200.00 CHF');
  });

  test('a currency without a symbol is written after the amount', () => {
    assert.equal(formatMoney({ minor: 1200n, currency: 'CHF' }), '12.00 CHF');
    assert.equal(formatMoney({ minor: 7n, currency: 'KRW' }), '7 KRW');
  });

  test('EUR and GBP symbols', () => {
    assert.equal(formatMoney({ minor: 350n, currency: 'EUR' }), '€3.50');
    assert.equal(formatMoney({ minor: 1n, currency: 'GBP' }), '£0.01');
  });

  test('negative amounts put the sign first', () => {
    assert.equal(formatMoney({ minor: -2550n, currency: 'USD' }), '-$25.50');
    assert.equal(formatMoney({ minor: -5n, currency: 'USD' }), '-$0.05');
    assert.equal(formatMoney({ minor: -1200n, currency: 'CHF' }), '-12.00 CHF');
    assert.equal(formatMoney({ minor: -3n, currency: 'JPY' }), '-¥3');
  });

  test('an unknown currency throws', () => {
    assert.throws(() => formatMoney({ minor: 1n, currency: 'XYZ' }), /unknown currency XYZ/);
  });
});

describe('feeOf', () => {
  test('basis points of the amount', () => {
    assert.equal(feeOf(5000n, 250), 125n);
    assert.equal(feeOf(10_000n, 10_000), 10_000n);
    assert.equal(feeOf(5000n, 0), 0n);
  });

  test('rounds down, never up', () => {
    assert.equal(feeOf(99n, 250), 2n, '2.475 → 2');
    assert.equal(feeOf(39n, 250), 0n, '0.975 → 0');
    assert.equal(feeOf(40n, 250), 1n, '1.0 → 1');
    assert.equal(feeOf(1n, 9_999), 0n);
  });

  test('exact on the largest amount, where a float would not be', () => {
    assert.equal(feeOf(999_999_999n, 333), 33_299_999n);
  });
});

describe('currencies', () => {
  test('known currencies and their exponents', () => {
    assert.equal(isCurrency('USD'), true);
    assert.equal(isCurrency('usd'), false, 'codes are upper case');
    assert.equal(isCurrency('XYZ'), false);
    assert.equal(isCurrency('toString'), false, 'no prototype keys');
    assert.equal(exponentOf('JPY'), 0);
    assert.equal(minorPerMajor('USD'), 100n);
    assert.equal(minorPerMajor('JPY'), 1n);
    assert.throws(() => exponentOf('XYZ'));
  });
});
