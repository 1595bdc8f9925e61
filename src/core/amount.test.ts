import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAmountText, readAmount, readPayCommand } from './amount.ts';

const ok = (minor: bigint, currency: string) => ({ minor, currency });

describe('readAmount', () => {
  test('the five written forms and a bare number in the default currency', () => {
    const cases: [string, bigint, string][] = [
      ['$10', 1000n, 'USD'],
      ['10 USD', 1000n, 'USD'],
      ['€10', 1000n, 'EUR'],
      ['10,50 €', 1050n, 'EUR'],
      ['EUR 10', 1000n, 'EUR'],
      ['10€', 1000n, 'EUR'],
      ['$0.05', 5n, 'USD'],
      ['£3.5', 350n, 'GBP'],
      ['¥1200', 1200n, 'JPY'],
      ['10 usd', 1000n, 'USD'],
      ['12.34', 1234n, 'CHF'],
    ];
    for (const [text, minor, currency] of cases) {
      const r = readAmount(text.split(' '), 'CHF');
      assert.ok(r.ok, `${text}: ${!r.ok && r.reason}`);
      assert.deepEqual(r.money, ok(minor, currency), text);
    }
    const bare = readAmount(['7'], 'EUR');
    assert.ok(bare.ok && !bare.explicit && bare.money.currency === 'EUR');
  });

  test('malformed amounts each have their reason', () => {
    const cases: [string, string][] = [
      ['$-5', 'negative'],
      ['-5 USD', 'negative'],
      ['$1e9', 'invalid'],
      ['$10.999', 'too_many_decimals'],
      ['¥10.5', 'too_many_decimals'],
      ['$1,000', 'too_many_decimals'],
      ['₿10', 'unknown_currency'],
      ['10 XYZ', 'unknown_currency'],
      ['XYZ 10', 'unknown_currency'],
      ['$0', 'zero'],
      ['$99999999999', 'too_large'],
      ['pizza', 'missing'],
      ['$10.5.5', 'invalid'],
      ['$€10', 'unknown_currency'],
    ];
    for (const [text, reason] of cases) {
      const r = readAmount(text.split(' '), 'USD');
      assert.equal(r.ok, false, text);
      assert.equal(!r.ok && r.reason, reason, `${text}: ${JSON.stringify(r)}`);
    }
    assert.equal(readAmount([], 'USD').ok, false);
  });

  test('the largest amount passes, one more minor unit does not', () => {
    assert.ok(readAmount(['$10000000'], 'USD').ok);
    const over = readAmount(['$10000000.01'], 'USD');
    assert.ok(!over.ok && over.reason === 'too_large');
  });

  test('parseAmountText takes a whole amount and nothing after it', () => {
    assert.deepEqual(parseAmountText(' 10,50 € ', 'USD'), {
      ok: true,
      money: ok(1050n, 'EUR'),
      explicit: true,
      consumed: 2,
    });
    assert.equal(parseAmountText('$10 pizza', 'USD').ok, false);
    assert.equal(parseAmountText('', 'USD').ok, false);
    assert.equal(parseAmountText('10 USD EUR', 'USD').ok, false);
  });
});

describe('readPayCommand', () => {
  test('#pay @bob $10 pizza', () => {
    assert.deepEqual(readPayCommand('#pay @bob $10 pizza', 'pay', 'USD', 'local'), {
      ok: true,
      kind: 'pay',
      counterparty: 'bob',
      money: ok(1000n, 'USD'),
      memo: 'pizza',
    });
  });

  test('#request @Alice 10,50 € lunch, the amount before the mention, a bare amount', () => {
    const r = readPayCommand(
      'hey #Request @Alice 10,50 € lunch at noon',
      'request',
      'USD',
      'local',
    );
    assert.ok(r.ok);
    assert.equal(r.counterparty, 'alice');
    assert.deepEqual(r.money, ok(1050n, 'EUR'));
    assert.equal(r.memo, 'lunch at noon');
    const before = readPayCommand('#pay $5 @bob', 'pay', 'USD', 'local');
    assert.ok(before.ok && before.counterparty === 'bob' && before.money.minor === 500n);
    const bare = readPayCommand('#pay @bob 3', 'pay', 'GBP', 'local');
    assert.ok(bare.ok && bare.money.currency === 'GBP');
  });

  test('a Mastodon recipient keeps its server; elsewhere a server is an unknown network', () => {
    const m = readPayCommand('#pay @bob@social.example $1', 'pay', 'USD', 'mastodon');
    assert.ok(m.ok && m.counterparty === 'bob@social.example');
    const l = readPayCommand('#pay @bob@social.example $1', 'pay', 'USD', 'local');
    assert.ok(!l.ok && l.reason === 'unknown_network');
  });

  test('refusals: no recipient, bad amounts, a memo too long', () => {
    const cases: [string, string][] = [
      ['#pay $10', 'no_recipient'],
      ['#pay @bob', 'missing'],
      ['#pay @bob $-5', 'negative'],
      ['#pay @bob $1e9', 'invalid'],
      ['#pay @bob $10.999', 'too_many_decimals'],
      ['#pay @bob ₿5', 'unknown_currency'],
      [`#pay @bob $1 ${'x'.repeat(201)}`, 'memo_too_long'],
    ];
    for (const [text, reason] of cases) {
      const r = readPayCommand(text, 'pay', 'USD', 'local');
      assert.ok(!r.ok, text);
      assert.equal(r.reason, reason, text);
    }
  });
});
