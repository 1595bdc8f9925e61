import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHARGE_ATTEMPTS_MAX } from '../core/limits.ts';
import type { InputLog } from '../engine/log.ts';
import type { CardProcessor, ChargeRequest } from '../processors/processor.ts';
import { chargeDeliverer } from './deliverers.ts';

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
