import type { Sql } from './db.ts';

/**
 * Set-based writes: one statement per table per batch, the rows passed as one array per column and
 * expanded by `unnest`, never a statement per row (DESIGN.md, "One transaction per batch").
 */
export type Column = readonly [
  name: string,
  type: 'text' | 'bigint' | 'int' | 'smallint' | 'boolean',
];

/** A string JSON would escape other than `"` and `\`: a control character or a lone surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const JSON_ESCAPED = /[\u0000-\u001f]|\p{Surrogate}/u;
const ARRAY_QUOTED = /["\\]/g;

/**
 * One column of values as a Postgres array literal (`{"a",NULL,"b\"c"}`), the text a `$n::text[]`
 * (or `bigint[]`, `int[]`, `boolean[]`) parameter is sent as. Both drivers pass a string through as it
 * is, so this replaces node-postgres's own array encoding, which escaped each element with two regular
 * expressions and was the engine's largest single cost in the benchmark profiles (bench/README.md).
 *
 * Inside double quotes an array element escapes only `"` and `\`, by a backslash: exactly what
 * `JSON.stringify` does to a string with no control character and no lone surrogate. So a column of
 * such values (nearly all: ids, keys, and JSON texts, whose own escaping leaves none) is encoded by
 * one native `JSON.stringify` of the whole array, brackets turned to braces; JSON's `null`, numbers
 * and `true`/`false` read as NULL, numbers and booleans in an array literal. A value JSON would escape
 * otherwise sends that column down the element-by-element path.
 */
export function pgArray(values: readonly unknown[]): string {
  const plain: unknown[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string') {
      if (JSON_ESCAPED.test(v)) return pgArraySlow(values);
      plain[i] = v;
    } else if (typeof v === 'bigint') plain[i] = v.toString();
    else if (v === undefined || v === null) plain[i] = null;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new Error(`pgArray: ${v} is not a database number`);
      plain[i] = v;
    } else if (typeof v === 'boolean') plain[i] = v;
    else throw new Error(`pgArray: cannot encode a ${typeof v}`);
  }
  const json = JSON.stringify(plain);
  return '{' + json.slice(1, -1) + '}';
}

function pgArraySlow(values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === undefined || v === null) out += 'NULL';
    else out += '"' + String(v).replace(ARRAY_QUOTED, '\\$&') + '"';
  }
  return out + '}';
}

function build(table: string, columns: readonly Column[]): { list: string; select: string } {
  const list = columns.map(([name]) => name).join(', ');
  const args = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return { list, select: `SELECT * FROM unnest(${args})` };
}

/** The rows as one array literal per column. */
function columnsOf(rows: readonly unknown[][], width: number): string[] {
  const out: string[] = new Array(width);
  const col: unknown[] = new Array(rows.length);
  for (let c = 0; c < width; c++) {
    for (let r = 0; r < rows.length; r++) col[r] = rows[r]![c];
    out[c] = pgArray(col);
  }
  return out;
}

/** Inserts rows; with `conflict`, an existing row (by that key) is updated to the new values. */
export async function upsertRows(
  tx: Sql,
  table: string,
  columns: readonly Column[],
  rows: readonly unknown[][],
  conflict?: string,
): Promise<void> {
  if (rows.length === 0) return;
  const { list, select } = build(table, columns);
  let sql = `INSERT INTO ${table} (${list}) ${select}`;
  if (conflict !== undefined) {
    const keys = new Set(conflict.split(',').map((k) => k.trim()));
    const sets = columns
      .filter(([name]) => !keys.has(name))
      .map(([name]) => `${name} = excluded.${name}`)
      .join(', ');
    sql += ` ON CONFLICT (${conflict}) DO UPDATE SET ${sets}`;
  }
  await tx.query(sql, columnsOf(rows, columns.length));
}

/** Inserts rows, skipping those whose unique key is already there (idempotent replays). */
export async function insertNew(
  tx: Sql,
  table: string,
  columns: readonly Column[],
  rows: readonly unknown[][],
): Promise<void> {
  if (rows.length === 0) return;
  const { list, select } = build(table, columns);
  await tx.query(
    `INSERT INTO ${table} (${list}) ${select} ON CONFLICT DO NOTHING`,
    columnsOf(rows, columns.length),
  );
}

const LITERAL_ESCAPED = /[\\']/g;
/**
 * The dollar quote a literal goes in. A text holding `$tp` is escaped instead: with it, the text
 * could hold the quote, or end in `$tp` and close early on the closing quote's `$`.
 */
const DOLLAR_QUOTE = '$tp$';
const DOLLAR_QUOTE_STEM = '$tp';

/**
 * A parameter as the SQL literal a script carries in its place: text dollar-quoted (`$tp$…$tp$`, read
 * as it is: no escaping, so no copy of a column's megabyte of JSON), or in an escape string (`E'…'`,
 * every `\` and `'` escaped) when it holds the quote itself; an array as its array literal
 * (pgArray), NULL for null. Like a parameter sent as text it is of unknown type until the
 * statement's cast or target column gives it one. A NUL cannot be in a Postgres text: it is refused
 * here, as the server refuses it in a parameter.
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (Array.isArray(value)) text = pgArray(value);
  else if (typeof value === 'bigint') return `'${value}'`;
  else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`sqlLiteral: ${value} is not a database number`);
    return `'${value}'`;
  } else if (typeof value === 'boolean') return value ? "'true'" : "'false'";
  else throw new Error(`sqlLiteral: cannot encode a ${typeof value}`);
  if (text.includes('\u0000')) throw new Error('sqlLiteral: a text cannot hold a NUL character');
  if (!text.includes(DOLLAR_QUOTE_STEM)) return DOLLAR_QUOTE + text + DOLLAR_QUOTE;
  return "E'" + text.replace(LITERAL_ESCAPED, '\\$&') + "'";
}

/**
 * A statement with its parameters written in as literals (sqlLiteral), for a script of several
 * statements sent at once (Db.script: no parameters there). `$n` must appear only as a parameter:
 * the statements this is used on never quote a `$` (no dollar quoting, no `$` in a literal).
 */
export function inlineParams(text: string, params: readonly unknown[] | undefined): string {
  if (params === undefined || params.length === 0) return text;
  const literals = params.map(sqlLiteral);
  return text.replace(/\$(\d+)/g, (_, n: string) => {
    const literal = literals[Number(n) - 1];
    if (literal === undefined) throw new Error(`inlineParams: no parameter $${n}`);
    return literal;
  });
}
