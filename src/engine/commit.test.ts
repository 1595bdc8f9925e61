import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEffects } from './commit.ts';
import { Effects, type Order, type WaitEntry } from './state.ts';

const order = (id: string): Order =>
  ({
    id,
    offerId: 'ofr_1',
    merchantId: 'mer_1',
    shopperId: null,
    network: 'local',
    handle: 'alice',
    variant: null,
    quantity: 1,
    amountMinor: 2500n,
    feeMinor: 0n,
    currency: 'USD',
    status: 'awaiting_signup',
    codeHash: null,
    expiresAt: 1,
    createdAt: 0,
    updatedAt: 0,
    postId: 'p1',
    shippingAddress: null,
    failure: null,
    chargeId: null,
    refundedMinor: 0n,
  }) as Order;

const wait = (id: string): WaitEntry => ({
  id,
  offerId: 'ofr_1',
  network: 'local',
  handle: 'bob',
  variant: null,
  quantity: 1,
  postId: 'p2',
  joinedAt: 0,
  seq: 7n,
  status: 'waiting',
});

test('orders and waitlist entries new in the batch are plain inserts; changed ones upserts', async () => {
  const fx = new Effects();
  const created = order('ord_new');
  fx.orders.add(created);
  fx.newOrders.add(created);
  fx.orders.add(order('ord_old'));
  const joined = wait('wai_new');
  fx.waitlist.add(joined);
  fx.newWaitlist.add(joined);
  fx.waitlist.add({ ...wait('wai_old'), status: 'served' });
  const plan = await planEffects(fx, []);
  for (const table of ['orders', 'waitlist']) {
    const statements = plan.filter(([text]) => text.startsWith(`INSERT INTO ${table} `));
    assert.equal(statements.length, 2, table);
    const [fresh, changed] = statements;
    assert.ok(!fresh![0].includes('ON CONFLICT'), `${table}: a new row is a plain insert`);
    assert.match(
      changed![0],
      /ON CONFLICT \(id\) DO UPDATE/,
      `${table}: a changed row is upserted`,
    );
    assert.match(String(fresh![1]![0]), /_new/);
    assert.match(String(changed![1]![0]), /_old/);
  }
});
