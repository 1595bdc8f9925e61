import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashRun } from './crash/crash.ts';
import { storages } from './support/harness.ts';

// Real `tagpay start` processes killed with SIGKILL under load, ten times on each storage (20 cycles in
// all); `npm run crash -- --cycles 1000` is the long run. A violation names its seed and cycle.
const seed = BigInt(Date.now());

for (const storage of storages()) {
  test(`crash: ${storage}, 10 kills -9 under load, nothing acknowledged lost (seed ${seed})`, async () => {
    const stats = await crashRun({ cycles: 10, storage, seed, loadMs: [200, 1_200] });
    assert.equal(stats.violations, 0);
    assert.equal(stats.kills, 10);
    assert.ok(stats.acknowledged > 0, JSON.stringify(stats));
  });
}
