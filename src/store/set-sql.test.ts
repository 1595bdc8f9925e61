import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dropSchema, openPglite, openPostgres, type Db } from './db.ts';
import { inlineParams, pgArray, sqlLiteral } from './set-sql.ts';

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

/** Texts that could end a literal early: quotes, backslashes, the dollar quote and its stem. */
const QUOTE_TEXTS = [
  ...HARD_TEXTS,
  "it's",
  "E'x'",
  '\\',
  "\\'",
  '$tp$',
  'ends in $tp',
  '$tp',
  '$$',
  '$1',
  '$tp$; DROP TABLE log; --',
  "'; DROP TABLE log; --",
];

const POSTGRES_URL =
  process.env.TAGPAY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

test('inlineParams: a script reads back every text, alone and in an array, on both drivers', async () => {
  const schema = `set_sql_${process.pid}`;
  const postgres = await openPostgres(POSTGRES_URL, schema, 1);
  try {
    for (const target of [db, postgres]) {
      const texts = [...QUOTE_TEXTS, null];
      const statements = texts.map((t) => inlineParams('SELECT $1::text AS v', [t]));
      statements.push(
        inlineParams(
          'SELECT v, $2::bigint AS b FROM unnest($1::text[]) WITH ORDINALITY AS u(v, i) ORDER BY i',
          [texts, -9_223_372_036_854_775_807n],
        ),
      );
      const results = await target.script(statements.join(';\n'));
      assert.deepEqual(
        results.slice(0, texts.length).map((r) => r.rows[0]!.v),
        texts,
        target.kind,
      );
      const last = results.at(-1)!.rows;
      assert.deepEqual(
        last.map((r) => r.v),
        texts,
        target.kind,
      );
      assert.equal(String(last[0]!.b), '-9223372036854775807');
    }
  } finally {
    await postgres.close();
    await dropSchema(POSTGRES_URL, schema);
  }
});

test('Db.script: one failing statement keeps nothing of the script', async () => {
  const schema = `set_sql_fail_${process.pid}`;
  const postgres = await openPostgres(POSTGRES_URL, schema, 1);
  try {
    for (const target of [db, postgres]) {
      await target.exec('CREATE TABLE script_t (a int PRIMARY KEY)');
      await assert.rejects(target.script('INSERT INTO script_t VALUES (1);\nSELECT 1/0'));
      await target.script('INSERT INTO script_t VALUES (2);\nINSERT INTO script_t VALUES (3)');
      const { rows } = await target.query<{ a: number }>('SELECT a FROM script_t ORDER BY a');
      assert.deepEqual(
        rows.map((r) => r.a),
        [2, 3],
        target.kind,
      );
    }
  } finally {
    await postgres.close();
    await dropSchema(POSTGRES_URL, schema);
  }
});

test('sqlLiteral: refuses a NUL and what is not a value; numbers and NULL as they are sent', () => {
  assert.throws(() => sqlLiteral('a\u0000b'), /NUL/);
  assert.throws(() => sqlLiteral(Number.POSITIVE_INFINITY), /not a database number/);
  assert.throws(() => sqlLiteral({ a: 1 }), /cannot encode/);
  assert.equal(sqlLiteral(null), 'NULL');
  assert.equal(sqlLiteral(12n), "'12'");
  assert.throws(() => inlineParams('SELECT $2', [1]), /no parameter \$2/);
});
