import type { Sql } from './db.ts';

/**
 * Set-based writes: one statement per table per batch, the rows passed as one array per column and
 * expanded by `unnest`, never a statement per row (DESIGN.md, "One transaction per batch").
 */
export type Column = readonly [
  name: string,
  type: 'text' | 'bigint' | 'int' | 'smallint' | 'boolean',
];

function build(table: string, columns: readonly Column[]): { list: string; select: string } {
  const list = columns.map(([name]) => name).join(', ');
  const args = columns.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
  return { list, select: `SELECT * FROM unnest(${args})` };
}

function transpose(rows: readonly unknown[][], width: number): unknown[][] {
  const cols: unknown[][] = Array.from({ length: width }, () => new Array(rows.length));
  rows.forEach((row, r) => {
    for (let c = 0; c < width; c++) {
      const v = row[c];
      cols[c]![r] = typeof v === 'bigint' ? v.toString() : v;
    }
  });
  return cols;
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
  await tx.query(sql, transpose(rows, columns.length));
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
    transpose(rows, columns.length),
  );
}
