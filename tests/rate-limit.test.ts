import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { serve } from '@hono/node-server';
import { createHttpApp } from '../src/http/app.ts';
import { ADMIN_KEY, openHarness } from './support/harness.ts';

test('rate limits per key and per address: a burst, then 429 with Retry-After, refilled over time', async () => {
  const h = await openHarness('pglite', { env: { TAGPAY_RATE_LIMIT_PER_S: '2' } });
  const server = serve({ fetch: createHttpApp(h.app).fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    // Per key (in-process requests have no address): a burst of 4 seconds' worth, 8 requests.
    const statuses = [];
    for (let i = 0; i < 9; i++)
      statuses.push((await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 429]);
    const limited = await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    const other = await h.request(
      'GET',
      '/v1/offers',
      undefined,
      'sk_other_key_not_valid_0123456789',
    );
    assert.equal(other.status, 401, 'another key has its own bucket');
    h.clock.advance(1_000);
    assert.equal(
      (await h.request('GET', '/v1/ledger/balances', undefined, ADMIN_KEY)).status,
      200,
      'refilled',
    );

    // Per address, over a real socket, with no key at all.
    let last: Response | null = null;
    for (let i = 0; i < 9; i++) {
      last = await fetch(`${base}/v1/local/posts?limit=1`);
      await last.arrayBuffer();
    }
    assert.equal(last!.status, 429);
    assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'health checks are never limited');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await h.close();
  }
});
