import { after } from 'node:test';
import { dropSchema, openPglite, openPostgres, type Db } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrations.ts';
import { POSTGRES_URL } from './harness.ts';

/**
 * Query plans for the tests that check a query is read from its index: the index names of the plan
 * Postgres (or PGlite) gives for a query and its parameters. A plan that scans a table has none.
 */

/** The names of the indexes a plan (EXPLAIN FORMAT JSON) reads. */
function indexesOf(plan: unknown): string[] {
  const out: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    if (typeof node['Index Name'] === 'string') out.push(node['Index Name']);
    for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(plan as Record<string, unknown>);
  return out;
}

export async function planOf(db: Db, text: string, params: unknown[]): Promise<string[]> {
  const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    params,
  );
  const json = rows[0]!['QUERY PLAN'];
  const parsed = (typeof json === 'string' ? JSON.parse(json) : json) as { Plan: unknown }[];
  return indexesOf(parsed[0]!.Plan);
}

/**
 * The plan of a script's last statement, run after the statements before it (a `SET LOCAL` that
 * steers the planner) in one transaction: the indexes it reads and its node types.
 */
export async function planOfScript(
  db: Db,
  script: string,
): Promise<{ indexes: string[]; nodes: string[] }> {
  const cut = script.lastIndexOf(';\n');
  const answers = await db.script(
    `${script.slice(0, cut + 2)}EXPLAIN (FORMAT JSON) ${script.slice(cut + 2)}`,
  );
  const json = answers.at(-1)!.rows[0]!['QUERY PLAN'];
  const plan = ((typeof json === 'string' ? JSON.parse(json) : json) as { Plan: unknown }[])[0]!
    .Plan;
  const nodes: string[] = [];
  const walk = (node: Record<string, unknown>) => {
    nodes.push(node['Node Type'] as string);
    for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child);
  };
  walk(plan as Record<string, unknown>);
  return { indexes: indexesOf(plan), nodes };
}

/** A migrated database of its own (PGlite in memory, or a Postgres schema), closed after the file. */
export async function openMigratedDb(storage: 'pglite' | 'postgres', prefix: string): Promise<Db> {
  let db: Db;
  if (storage === 'pglite') {
    db = await openPglite(null);
    after(() => db.close());
  } else {
    const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
    db = await openPostgres(POSTGRES_URL, schema, 2);
    after(async () => {
      await db.close();
      await dropSchema(POSTGRES_URL, schema);
    });
  }
  await migrate(db);
  return db;
}
