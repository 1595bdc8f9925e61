import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHARGE_ATTEMPTS_MAX } from '../core/limits.ts';
import type { InputLog, NewEvent } from '../engine/log.ts';
import type { PayoutBank } from '../processors/sandbox/bank.ts';
import { SandboxBank } from '../processors/sandbox/bank.ts';
import type { SandboxProcessor } from '../processors/sandbox/sandbox.ts';
import { openMigratedDb } from '../../tests/support/plans.ts';
import { cardCreditDeliverer } from './money-deliverers.ts';
import { payoutDeliverer } from './statement-deliverers.ts';
import type { Delivery } from './worker.ts';

/**
 * A withdrawal to a card or a payout to a bank given up after errors on its last attempt is written
 * down as failed, and the engine gives the money back (to the wallet, to the merchant's balance). An
 * earlier attempt, killed after the other side paid and before its answer reached the log, leaves no
 * mark: so before giving up, the other side is asked for the movement under its idempotency key.
 */

type Found<T> = T | null | 'fails';

function logOf(appended: NewEvent[]): InputLog {
  return {
    append: async (events: NewEvent[]) => {
      appended.push(...events);
      return events.map(() => null);
    },
  } as unknown as InputLog;
}

const lookup =
  <T>(found: Found<T>) =>
  async () => {
    if (found === 'fails') throw new Error('timeout');
    return found;
  };

async function withdraw(found: Found<{ creditId: string }>, attempt = CHARGE_ATTEMPTS_MAX) {
  const appended: NewEvent[] = [];
  const processor = {
    credit: async () => ({ ok: false, retryable: true, message: 'processor error' }),
    findCredit: lookup(found),
  } as unknown as SandboxProcessor;
  const [delivery] = await cardCreditDeliverer(
    processor,
    logOf(appended),
  )([
    {
      id: 1n,
      key: 'credit:op_1',
      kind: 'card_credit',
      body: { op_id: 'op_1', card_token: 'tok_1', amount: '1500', currency: 'USD' },
      attempt,
      lastError: 'processor error',
    },
  ]);
  return {
    delivery: delivery!,
    results: appended.map((e) => e.body as unknown as Record<string, unknown>),
  };
}

async function payOut(found: Found<{ ref: string }>) {
  const appended: NewEvent[] = [];
  const bank: PayoutBank = {
    payout: async () => ({ ok: false, message: 'bank unavailable' }),
    findPayout: lookup(found) as PayoutBank['findPayout'],
  };
  const [delivery] = await payoutDeliverer(
    bank,
    logOf(appended),
  )([
    {
      id: 2n,
      key: 'payout:po_1',
      kind: 'payout',
      body: { payout_id: 'po_1', merchant_id: 'mer_1', amount: '9000', currency: 'USD' },
      attempt: CHARGE_ATTEMPTS_MAX,
      lastError: 'bank unavailable',
    },
  ]);
  return {
    delivery: delivery!,
    results: appended.map((e) => e.body as unknown as Record<string, unknown>),
  };
}

type Outcome = { delivery: Delivery; results: Record<string, unknown>[] };

/** Given up and written down as failed: the engine gives the money back. */
function failed({ delivery, results }: Outcome): void {
  assert.deepEqual(delivery, { done: true });
  assert.deepEqual(
    results.map((r) => r.ok),
    [false],
  );
}

/** Tried again later, nothing written down. */
function waits({ delivery, results }: Outcome): void {
  assert.ok(!delivery.done && delivery.retryInMs !== null, JSON.stringify(delivery));
  assert.deepEqual(results, []);
}

test('a withdrawal given up after errors, but credited by an earlier attempt, is recorded as made', async () => {
  const { delivery, results } = await withdraw({ creditId: 'cre_1' });
  assert.deepEqual(delivery, { done: true });
  assert.deepEqual(
    results.map((r) => [r.ok, r.creditId]),
    [[true, 'cre_1']],
  );
});

test('a withdrawal given up and never credited fails; one that cannot be looked up waits', async () => {
  failed(await withdraw(null));
  waits(await withdraw('fails'));
  // Before the last attempt nothing is looked up: the row is simply tried again.
  waits(await withdraw('fails', 1));
});

test('a payout given up after errors, but paid by an earlier attempt, is recorded as paid', async () => {
  const paid = await payOut({ ref: 'bank_1' });
  assert.deepEqual(
    paid.results.map((r) => [r.ok, r.bankRef]),
    [[true, 'bank_1']],
  );
  failed(await payOut(null));
  waits(await payOut('fails'));
});

test('the sandbox bank answers a payout asked again as it first did, even after the account closed', async () => {
  const db = await openMigratedDb('pglite', 'bank');
  const bank = new SandboxBank(db, { now: () => 1_000 });
  const first = await bank.payout('mer_1', 9_000n, 'USD', 'payout:po_1');
  assert.equal(first.ok, true);
  bank.refusing.add('mer_1');
  assert.deepEqual(await bank.payout('mer_1', 9_000n, 'USD', 'payout:po_1'), first);
  assert.equal((await bank.payout('mer_1', 9_000n, 'USD', 'payout:po_2')).ok, false);
  assert.deepEqual(await bank.findPayout('payout:po_1'), { ref: (first as { ref: string }).ref });
});
