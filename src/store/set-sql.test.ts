import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPglite, type Db } from './db.ts';
import { pgArray } from './set-sql.ts';

let db: Db;
before(async () => {
  db = await openPglite(null);
});
after(() => db.close());

const HARD_TEXTS = [
  'plain',
  '',
  'NULL',
  'null',
  ' spaced ',
  'comma, {brace} "quote" \\backslash\\ \'single\'',
  'line\nbreak\ttab\r\u0001control',
  '{"json":"text","n":1,"nested":{"a":"b\\"c"}}',
  'emoji 🎉 and ünïcödé and RTL \u202e',
  '\\"',
];

test('pgArray: text round-trips through a text[] parameter, NULL and awkward values included', async () => {
  const values = [...HARD_TEXTS, null];
  const { rows } = await db.query<{ v: string | null }>(
    'SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
    [pgArray(values)],
  );
  assert.deepEqual(
    rows.map((r) => r.v),
    values,
  );
  // The fast path (no control character) and the slow one agree with the database alike.
  const clean = HARD_TEXTS.filter((t) => ![...t].some((c) => c.charCodeAt(0) < 0x20));
  const back = await db.query<{ v: string }>(
    'SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
    [pgArray(clean)],
  );
  assert.deepEqual(
    back.rows.map((r) => r.v),
    clean,
  );
});

test('pgArray: bigint, int and boolean columns, with NULLs', async () => {
  const big = [0n, -1n, 9_223_372_036_854_775_807n, null];
  const { rows } = await db.query<{ b: string | null; i: number | null; f: boolean | null }>(
    `SELECT b::text AS b, i, f FROM unnest($1::bigint[], $2::int[], $3::boolean[]) WITH ORDINALITY
       AS u(b, i, f, o) ORDER BY o`,
    [pgArray(big), pgArray([1, -2, 2_147_483_647, null]), pgArray([true, false, null, true])],
  );
  assert.deepEqual(
    rows.map((r) => r.b),
    ['0', '-1', '9223372036854775807', null],
  );
  assert.deepEqual(
    rows.map((r) => r.i),
    [1, -2, 2_147_483_647, null],
  );
  assert.deepEqual(
    rows.map((r) => r.f),
    [true, false, null, true],
  );
});

test('pgArray: refuses what is not a column value', () => {
  assert.throws(() => pgArray([Number.NaN]), /not a database number/);
  assert.throws(() => pgArray([{ a: 1 }]), /cannot encode/);
  assert.equal(pgArray([]), '{}');
});
