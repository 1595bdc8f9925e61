import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { DEAD_LETTERS_SQL, Metrics } from '../src/metrics.ts';
import {
  OUTBOX_LANES,
  OutboxWorker,
  type Deliverer,
  type OutboxItem,
} from '../src/outbox/worker.ts';
import type { Db } from '../src/store/db.ts';
import { ManualClock, START_MS, storages } from './support/harness.ts';
import { openMigratedDb, planOf, planOfScript } from './support/plans.ts';

/**
 * The outbox lanes read their rows from their own index. The outbox is filled as a busy tagpay fills
 * it: a long delivered history of charges, thousands of replies and e-mails waiting, and only a few
 * charges due. After ANALYZE the planner sees mostly charges delivered and mostly effects pending;
 * each lane's poll, exactly as the worker sends it, must be planned on that lane's partial index
 * (0011-outbox-lanes.sql), never on the primary key, which filters past every other row. A kind added
 * to a lane without the index knowing it fails here.
 */

const DELIVERED_CHARGES = 5_000;
const PENDING_EFFECTS = 20_000;

/** A worker whose deliverers record what they were given and succeed. */
function recordingWorker(db: Db, clock: ManualClock, delivered: OutboxItem[]): OutboxWorker {
  const record: Deliverer = async (items) => {
    delivered.push(...items);
    return items.map(() => ({ done: true }));
  };
  const kinds = [...OUTBOX_LANES.charges, ...OUTBOX_LANES.effects];
  return new OutboxWorker(
    db,
    clock,
    Object.fromEntries(kinds.map((k) => [k, record])),
    pino({ level: 'silent' }),
  );
}

/** The poll script a lane's pass sends; answered with no rows, so the pass ends there. */
async function pollOf(db: Db, kinds: readonly string[]): Promise<string> {
  const polls: string[] = [];
  const spy: Db = {
    ...db,
    script: async (text: string) => {
      polls.push(text);
      return text.split(';\n').map(() => ({ rows: [] }));
    },
  };
  await recordingWorker(spy, new ManualClock(START_MS + 1), []).runOnce(kinds, 2_000);
  assert.equal(polls.length, 1);
  return polls[0]!;
}

for (const storage of storages()) {
  describe(`outbox lanes (${storage})`, () => {
    test('each lane polls its own index of waiting rows, whatever else the outbox holds', async () => {
      const db = await openMigratedDb(storage, 'lanes');
      const at = START_MS;
      await db.query(
        `INSERT INTO outbox (key, kind, body, status, attempts, next_at, delivered_at)
         SELECT 'charge:' || i, 'charge', '{}', 1, 1, $1, $1 FROM generate_series(1, $2::int) AS i`,
        [at, DELIVERED_CHARGES],
      );
      await db.query(
        `INSERT INTO outbox (key, kind, body, next_at)
         SELECT 'reply:' || i, CASE WHEN i % 2 = 0 THEN 'post' ELSE 'email' END, '{}', $1
         FROM generate_series(1, $2::int) AS i`,
        [at, PENDING_EFFECTS],
      );
      await db.query(
        `INSERT INTO outbox (key, kind, body, next_at)
         SELECT 'charge:new' || i, 'charge', '{}', $1 FROM generate_series(1, 3) AS i`,
        [at],
      );
      await db.query(
        `INSERT INTO outbox (key, kind, body, status, attempts, next_at)
         SELECT 'webhook:dead' || i, 'webhook', '{}', 2, 12, $1 FROM generate_series(1, 2) AS i`,
        [at],
      );
      await db.query('ANALYZE outbox');
      // /metrics counts the dead letters from their own index, not by reading the whole outbox.
      assert.deepEqual(await planOf(db, DEAD_LETTERS_SQL, []), ['outbox_dead']);

      for (const [kinds, index] of [
        [OUTBOX_LANES.charges, 'outbox_charges_due'],
        [['charge'], 'outbox_charges_due'],
        [OUTBOX_LANES.effects, 'outbox_effects_due'],
      ] as const) {
        const poll = await pollOf(db, kinds);
        const plan = await planOfScript(db, poll);
        assert.deepEqual(plan.indexes, [index], `${kinds.join(',')}: ${poll}`);
        // A plain index scan, which marks the entries of delivered rows dead as it passes them (a
        // bitmap scan would read each of them again at every pass until a VACUUM).
        assert.ok(
          plan.nodes.includes('Index Scan'),
          `${kinds.join(',')}: ${plan.nodes.join(', ')}`,
        );
      }
      const delivered: OutboxItem[] = [];
      const worker = recordingWorker(db, new ManualClock(at + 1), delivered);
      // And the passes themselves: the charge lane takes the three charges and nothing else.
      assert.equal(await worker.runOnce(OUTBOX_LANES.charges, 2_000), 3);
      assert.deepEqual(
        delivered.map((d) => d.key),
        ['charge:new1', 'charge:new2', 'charge:new3'],
      );
      assert.equal(await worker.runOnce(OUTBOX_LANES.charges, 2_000), 0);
      // The backlog in /metrics, counted lane by lane from the same indexes.
      const metrics = await new Metrics(db, () => null).registry.metrics();
      const backlog = (kind: string) =>
        Number(
          new RegExp(`^tagpay_outbox_backlog\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(metrics)?.[1],
        );
      assert.equal(backlog('post'), PENDING_EFFECTS / 2);
      assert.equal(backlog('email'), PENDING_EFFECTS / 2);
      assert.ok(Number.isNaN(backlog('charge')), 'no charge waits');
      assert.match(metrics, /^tagpay_outbox_dead_letters 2$/m);
    });

    test('a pass takes the longest due first: a retry due before newer rows goes before them', async () => {
      const db = await openMigratedDb(storage, 'lanes');
      const clock = new ManualClock(START_MS);
      // Committed in this order: a charge that failed once and is due again at START_MS - 500, then
      // two new charges from a batch at START_MS - 1000 and START_MS, and one retry not due yet.
      await db.query(
        `INSERT INTO outbox (key, kind, body, attempts, next_at) VALUES
           ('charge:retry', 'charge', '{}', 1, $1),
           ('charge:older', 'charge', '{}', 0, $2),
           ('charge:newer', 'charge', '{}', 0, $3),
           ('charge:later', 'charge', '{}', 1, $4)`,
        [START_MS - 500, START_MS - 1000, START_MS, START_MS + 60_000],
      );
      const delivered: OutboxItem[] = [];
      const worker = recordingWorker(db, clock, delivered);
      assert.equal(await worker.runOnce(OUTBOX_LANES.charges, 2), 2);
      assert.equal(await worker.runOnce(OUTBOX_LANES.charges, 2), 1);
      assert.deepEqual(
        delivered.map((d) => d.key),
        ['charge:older', 'charge:retry', 'charge:newer'],
      );
      clock.advance(60_000);
      assert.equal(await worker.runOnce(OUTBOX_LANES.charges, 2), 1);
      assert.equal(delivered.at(-1)!.key, 'charge:later');
      assert.equal(delivered.at(-1)!.attempt, 2);
    });
  });
}
