import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  accounts,
  assertTransfer,
  Balances,
  holdTransfer,
  isNonNegativeAccount,
  resolveTransfer,
  type Posting,
  type Transfer,
} from './ledger.ts';

const transfer = (postings: Posting[], id = 'trf_1'): Transfer => ({
  id,
  ref: 'ord_1',
  at: 0,
  postings,
});
const sale = (minor: bigint, fee: bigint): Transfer =>
  transfer([
    { from: accounts.funding('shp_a'), to: accounts.payable('mer_a'), minor, currency: 'USD' },
    { from: accounts.payable('mer_a'), to: accounts.fees(), minor: fee, currency: 'USD' },
  ]);

describe('Balances.apply', () => {
  test('debits the from account, credits the to account, per currency', () => {
    const b = new Balances();
    b.apply(sale(5000n, 125n));
    assert.equal(b.get('funding:shp_a', 'USD'), -5000n);
    assert.equal(b.get('payable:mer_a', 'USD'), 4875n);
    assert.equal(b.get('fees:platform', 'USD'), 125n);
    assert.equal(b.get('payable:mer_a', 'EUR'), 0n, 'another currency is another balance');
    b.assertZeroSum();
  });

  test('accumulates over transfers and currencies, and marks what changed', () => {
    const b = new Balances();
    b.apply(sale(5000n, 125n));
    b.apply(sale(1000n, 25n));
    b.apply(transfer([{ from: 'a', to: 'b', minor: 7n, currency: 'JPY' }]));
    assert.equal(b.get('payable:mer_a', 'USD'), 4875n + 975n);
    assert.equal(b.get('b', 'JPY'), 7n);
    assert.deepEqual(
      b.sums(),
      new Map([
        ['USD', 0n],
        ['JPY', 0n],
      ]),
    );
    assert.deepEqual(
      new Set(b.dirty),
      new Set(['funding:shp_a|USD', 'payable:mer_a|USD', 'fees:platform|USD', 'a|JPY', 'b|JPY']),
    );
    assert.deepEqual(b.entries(['b|JPY', 'a|JPY']), [
      { account: 'b', currency: 'JPY', balance: 7n },
      { account: 'a', currency: 'JPY', balance: -7n },
    ]);
  });

  test('loaded balances are the starting point and are not dirty', () => {
    const b = new Balances();
    b.load('payable:mer_a', 'USD', 100n);
    b.load('funding:shp_a', 'USD', -100n);
    assert.equal(b.dirty.size, 0);
    b.apply(sale(50n, 1n));
    assert.equal(b.get('payable:mer_a', 'USD'), 149n);
    b.assertZeroSum();
  });

  test('a refused transfer changes nothing', () => {
    const b = new Balances();
    b.apply(sale(5000n, 125n));
    const bad = transfer([
      { from: 'a', to: 'b', minor: 10n, currency: 'USD' },
      { from: 'b', to: 'c', minor: 0n, currency: 'USD' },
    ]);
    assert.throws(() => b.apply(bad), /non-positive/);
    assert.equal(b.get('a', 'USD'), 0n, 'no posting of a malformed transfer is applied');
    assert.equal(b.get('b', 'USD'), 0n);
    assert.equal(b.dirty.has('a|USD'), false);
  });
});

describe('assertZeroSum', () => {
  test('throws when a currency does not sum to zero, naming it', () => {
    const b = new Balances();
    b.apply(sale(5000n, 125n));
    b.assertZeroSum();
    b.load('fees:platform', 'USD', 126n);
    assert.throws(() => b.assertZeroSum(), /USD balances sum to 1, not zero/);
  });

  test('a broken currency is caught even when another balances', () => {
    const b = new Balances();
    b.load('x', 'EUR', -5n);
    b.load('y', 'EUR', 5n);
    b.load('z', 'JPY', 3n);
    assert.throws(() => b.assertZeroSum(), /JPY/);
  });

  test('account names with a | are still split on the last one', () => {
    const b = new Balances();
    b.load('odd|name', 'USD', 5n);
    b.load('other', 'USD', -5n);
    b.assertZeroSum();
    assert.deepEqual([...b.sums().keys()], ['USD']);
  });
});

describe('assertTransfer', () => {
  test('a well-formed transfer passes', () => {
    assertTransfer(sale(1n, 1n));
  });

  test('refuses an empty transfer', () => {
    assert.throws(() => assertTransfer(transfer([], 'trf_empty')), /trf_empty is empty/);
  });

  test('refuses zero and negative postings', () => {
    for (const minor of [0n, -1n, -5000n]) {
      assert.throws(
        () => assertTransfer(transfer([{ from: 'a', to: 'b', minor, currency: 'USD' }])),
        /non-positive/,
        String(minor),
      );
    }
  });

  test('refuses a posting from an account to itself', () => {
    assert.throws(
      () => assertTransfer(transfer([{ from: 'a', to: 'a', minor: 1n, currency: 'USD' }])),
      /posts to itself/,
    );
  });

  test('a bad posting anywhere in the transfer is found', () => {
    const good = { from: 'a', to: 'b', minor: 1n, currency: 'USD' };
    assert.throws(() => assertTransfer(transfer([good, good, { ...good, to: 'a' }])), /itself/);
  });
});

describe('account names', () => {
  test('carry their kind and id', () => {
    assert.equal(accounts.funding('shp_x'), 'funding:shp_x');
    assert.equal(accounts.payable('mer_x'), 'payable:mer_x');
    assert.equal(accounts.fees(), 'fees:platform');
  });
});

describe('holds and wallets', () => {
  const hold = {
    id: 'hld_a',
    ref: 'pay_a',
    debit: accounts.wallet('shp_a'),
    minor: 700n,
    currency: 'EUR',
    at: 1,
    expiresAt: 100,
  };

  test('a hold moves money to holds:pending; posting or voiding moves it on, balanced', () => {
    const b = new Balances();
    b.apply({
      id: 'trf_top',
      ref: 'top',
      at: 0,
      postings: [
        { from: accounts.funding('shp_a'), to: hold.debit, minor: 1000n, currency: 'EUR' },
      ],
    });
    b.apply(holdTransfer(hold, 'trf_h'));
    assert.equal(b.get(hold.debit, 'EUR'), 300n);
    assert.equal(b.get(accounts.pending(), 'EUR'), 700n);
    const posted = resolveTransfer(hold, 'post', accounts.wallet('shp_b'), 'trf_p', 2);
    b.apply(posted);
    assert.equal(b.get(accounts.wallet('shp_b'), 'EUR'), 700n);
    assert.equal(b.get(accounts.pending(), 'EUR'), 0n);
    b.assertZeroSum();
    const voided = resolveTransfer(hold, 'void', accounts.wallet('shp_b'), 'trf_v', 2);
    assert.equal(voided.postings[0]!.to, hold.debit, 'a void goes back to the debit account');
  });

  test('a wallet or the pending account never goes below zero: apply throws before changing anything', () => {
    const b = new Balances();
    assert.throws(() => b.apply(holdTransfer(hold, 'trf_h')), /below zero/);
    assert.equal(b.get(hold.debit, 'EUR'), 0n);
    b.load(hold.debit, 'EUR', 500n);
    assert.throws(
      () =>
        b.apply({
          id: 'trf_two',
          ref: 'x',
          at: 0,
          postings: [
            { from: hold.debit, to: accounts.fees(), minor: 300n, currency: 'EUR' },
            { from: hold.debit, to: accounts.fees(), minor: 300n, currency: 'EUR' },
          ],
        }),
      /below zero/,
      'two postings from one wallet count together',
    );
    assert.equal(b.get(hold.debit, 'EUR'), 500n);
    assert.ok(isNonNegativeAccount('wallet:shp_x'));
    assert.ok(!isNonNegativeAccount('funding:shp_x'));
  });
});
