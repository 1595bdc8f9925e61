import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { InputLog, type NewEvent } from '../src/engine/log.ts';
import { openPglite, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrations.ts';
import { ManualClock } from './support/harness.ts';

/**
 * Group commit (log.ts, appendQueued): appends that arrive while one is committing go into the next
 * transaction together, each answered with its own sequence numbers once they are committed. The first
 * transaction is held open here so the others queue behind it, deterministically.
 */

let db: Db | null = null;
after(async () => {
  await db?.close();
});

const post = (id: string): NewEvent => ({
  key: `post:local:${id}`,
  body: { kind: 'post', network: 'local', postId: id, author: 'a', text: 'hi', replyTo: null },
});

test('appends waiting behind a commit share the next one, each with its own answer', async () => {
  db = await openPglite(null);
  await migrate(db);
  const inner = db;
  // A group commits as one script (Db.script); an append retried alone, as a transaction.
  let scripts = 0;
  let transactions = 0;
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated: Db = {
    ...inner,
    script: async (text) => {
      if (++scripts === 1) await gate;
      return inner.script(text);
    },
    transaction: async (fn) => {
      transactions++;
      return inner.transaction(fn);
    },
  };
  const log = new InputLog(gated, new ManualClock());
  const woken: number[] = [];
  log.onAppend((added) => woken.push(added.length));

  const first = log.append([post('1')]);
  await new Promise((r) => setImmediate(r));
  const second = log.append([post('2'), post('3')]);
  const third = log.append([post('4'), post('2')]);
  // A NUL cannot be stored in a Postgres text: this append fails, and must fail alone.
  const bad = log.append([post('5\u0000')]);
  const fourth = log.append([post('6')]);
  open();

  assert.deepEqual(await first, [1n]);
  await assert.rejects(bad);
  const [s2, s3, s4] = await Promise.all([second, third, fourth]);
  // The key repeated across two appends is taken once, by the first, as sequential appends would.
  assert.equal(s3![1], null);
  const seqs = [...s2!, s3![0]!, ...s4!].map(Number).sort((a, b) => a - b);
  assert.equal(new Set(seqs).size, 4);
  const { rows } = await inner.query<{ key: string }>('SELECT key FROM log ORDER BY seq');
  assert.deepEqual(
    rows.map((r) => r.key),
    ['post:local:1', 'post:local:2', 'post:local:3', 'post:local:4', 'post:local:6'],
  );
  // One commit for the lone first append; the group failed (its NUL is refused before it is sent),
  // then each of the group was tried alone: without group commit, none would have been retried.
  assert.equal(scripts, 1);
  assert.equal(transactions, 4);
  assert.equal(
    woken.reduce((a, b) => a + b, 0),
    5,
  );
});

test('with nothing in flight an append commits at once, alone', async () => {
  const db2 = await openPglite(null);
  after(() => db2.close());
  await migrate(db2);
  let transactions = 0;
  const counted: Db = {
    ...db2,
    script: (text) => {
      transactions++;
      return db2.script(text);
    },
  };
  const log = new InputLog(counted, new ManualClock());
  assert.deepEqual(await log.append([post('1')]), [1n]);
  assert.deepEqual(await log.append([post('2'), post('1')]), [2n, null]);
  assert.equal(transactions, 2);
});
