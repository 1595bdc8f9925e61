import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHARGE_ATTEMPTS_MAX } from '../core/limits.ts';
import type { InputLog } from '../engine/log.ts';
import type { CardProcessor, ChargeRequest } from '../processors/processor.ts';
import { chargeDeliverer, refundDeliverer } from './deliverers.ts';

/**
 * A charge row given up after its last attempt is reversed at the processor — unless an earlier
 * delivery of the same row already put its result in the log (it crashed after the log append and
 * before the row was marked done): that result is what the engine acted on, so a charge it was told
 * succeeded must stay. Found by the simulation (seed 20261127: an order paid, its charge reversed).
 */

const item = {
  id: 1n,
  key: 'charge:ord_1',
  kind: 'charge',
  body: {
    order_id: 'ord_1',
    card_token: 'tok_1',
    amount: '2500',
    currency: 'USD',
    description: 'Acme Tee',
  },
  attempt: CHARGE_ATTEMPTS_MAX,
  lastError: 'sandbox: simulated processor error',
};

function world(logged: boolean) {
  const reversed: ChargeRequest[] = [];
  const appended: unknown[] = [];
  const processor = {
    chargeMany: async (requests: ChargeRequest[]) =>
      requests.map(() => ({
        ok: false as const,
        reason: 'processor_error' as const,
        retryable: true,
        message: 'timeout',
      })),
    reverse: async (req: ChargeRequest) => {
      reversed.push(req);
      return { ok: true };
    },
  } as unknown as CardProcessor;
  const log = {
    findByKey: async (key: string) =>
      logged && key === 'charge:ord_1'
        ? {
            seq: 7n,
            key,
            at: 0,
            body: { kind: 'charge_result', orderId: 'ord_1', ok: true, chargeId: 'ch_1' },
          }
        : null,
    append: async (events: unknown[]) => {
      appended.push(...events);
      return events.map(() => null);
    },
  } as unknown as InputLog;
  return { deliver: chargeDeliverer(processor, log), reversed, appended };
}

test('giving up a charge whose result is already in the log reverses nothing', async () => {
  const w = world(true);
  assert.deepEqual(await w.deliver([item]), [{ done: true }]);
  assert.deepEqual(w.reversed, [], 'the charge the engine was told succeeded stays');
  assert.deepEqual(w.appended, []);
});

test('giving up a charge with no result in the log reverses it, then fails the order', async () => {
  const w = world(false);
  assert.deepEqual(await w.deliver([item]), [{ done: true }]);
  assert.equal(w.reversed.length, 1);
  assert.equal(w.reversed[0]!.idempotencyKey, 'ord_1:charge');
  assert.deepEqual(w.appended, [
    {
      key: 'charge:ord_1',
      body: {
        kind: 'charge_result',
        orderId: 'ord_1',
        ok: false,
        reason: 'processor_error',
        chargeId: null,
      },
    },
  ]);
});

/**
 * A refund given up after errors is looked up first: an earlier attempt may have refunded the card
 * and been killed before its answer was recorded (no "outcome unknown" mark survives that).
 */
function refundWorld(found: { refundId: string } | null | 'fails', { inLog = false } = {}) {
  const appended: { key: string; body: { ok: boolean; refundId: string | null } }[] = [];
  let asked = 0;
  const processor = {
    refund: async () => {
      asked++;
      return { ok: false, message: 'processor down' };
    },
    findRefund: async () => {
      if (found === 'fails') throw new Error('timeout');
      return found;
    },
  } as unknown as CardProcessor;
  // inLog: an earlier delivery of the row put its result in the log before it was killed.
  const log = {
    findByKey: async (key: string) =>
      inLog && key === 'refund:ord_1:9'
        ? { seq: 3n, key, at: 0, body: { kind: 'refund_result', ok: false } }
        : null,
    append: async (events: typeof appended) => {
      appended.push(...events);
      return events.map(() => 1n);
    },
  } as unknown as InputLog;
  const deliver = refundDeliverer(processor, log);
  const refundItem = {
    id: 2n,
    key: 'refund:ord_1:9',
    kind: 'refund',
    body: { order_id: 'ord_1', attempt: '9', charge_id: 'ch_1', amount: '500', restock: false },
    attempt: CHARGE_ATTEMPTS_MAX,
    lastError: 'processor down',
  };
  return { deliver: () => deliver([refundItem]), appended, asked: () => asked };
}

test('a refund given up after errors, but made by an earlier attempt, is recorded as made', async () => {
  const w = refundWorld({ refundId: 're_1' });
  assert.deepEqual(await w.deliver(), [{ done: true }]);
  assert.equal(w.appended.length, 1);
  assert.equal(w.appended[0]!.body.ok, true);
  assert.equal(w.appended[0]!.body.refundId, 're_1');
});

test('a refund given up after errors and never made fails; one that cannot be looked up waits', async () => {
  const none = refundWorld(null);
  assert.deepEqual(await none.deliver(), [{ done: true }]);
  assert.equal(none.appended[0]!.body.ok, false);
  const unknown = refundWorld('fails');
  const [delivery] = await unknown.deliver();
  assert.equal(delivery!.done, false);
  assert.match(String((delivery as { error: string }).error), /^outcome unknown:/);
  assert.deepEqual(unknown.appended, []);
});

test('a refund delivered again after its result is in the log asks the processor nothing', async () => {
  const w = refundWorld({ refundId: 're_2' }, { inLog: true });
  assert.deepEqual(await w.deliver(), [{ done: true }]);
  assert.equal(w.asked(), 0, 'the log already holds its result: no second refund');
  assert.deepEqual(w.appended, []);
});
