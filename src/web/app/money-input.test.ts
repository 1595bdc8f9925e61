import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readPrice } from './money-input.ts';

/**
 * The merchant dashboard's price field. Its old parser dropped every comma, so "10,50" became
 * 105000 minor units ($1,050.00) and "1,250" became $1,250.00 where 12.50 may have been meant.
 */
test('a price field reads amounts exactly and refuses an ambiguous comma', () => {
  assert.deepEqual(readPrice('10,50', 'USD'), { ok: true, minor: '1050' });
  assert.deepEqual(readPrice('24.99', 'USD'), { ok: true, minor: '2499' });
  assert.deepEqual(readPrice('$1,250.00', 'USD'), { ok: true, minor: '125000' });
  assert.deepEqual(readPrice('25', 'USD'), { ok: true, minor: '2500' });
  const ambiguous = readPrice('1,250', 'USD');
  assert.equal(ambiguous.ok, false);
  assert.match(!ambiguous.ok ? ambiguous.problem : '', /thousands or a decimal comma/);
  for (const bad of ['0', '10,5,0', '10.999', '-5', 'ten', ''])
    assert.equal(readPrice(bad, 'USD').ok, false, bad);
});
