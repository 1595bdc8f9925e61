import { after } from 'node:test';
import { dropSchema, openPglite, openPostgres, type Db } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrations.ts';
import { POSTGRES_URL } from './harness.ts';

/**
 * Query plans for the tests that check a query is read from its index: the index names of the plan
 * Postgres (or PGlite) gives for a query and its parameters. A plan that scans a table has none.
 */

type PlanNode = Record<string, unknown>;

/** Every node of the plan an EXPLAIN (FORMAT JSON) answered (PGlite gives it as text), top first. */
function planNodes(answer: unknown): PlanNode[] {
  const parsed = (typeof answer === 'string' ? JSON.parse(answer) : answer) as { Plan: PlanNode }[];
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    nodes.push(node);
    for (const child of (node['Plans'] as PlanNode[] | undefined) ?? []) walk(child);
  };
  walk(parsed[0]!.Plan);
  return nodes;
}

/** The names of the indexes the plan's nodes read. */
function indexesOf(nodes: PlanNode[]): string[] {
  return nodes.flatMap((n) => (typeof n['Index Name'] === 'string' ? [n['Index Name']] : []));
}

export async function planOf(db: Db, text: string, params: unknown[]): Promise<string[]> {
  const { rows } = await db.query<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) ${text}`,
    params,
  );
  return indexesOf(planNodes(rows[0]!['QUERY PLAN']));
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
  const nodes = planNodes(answers.at(-1)!.rows[0]!['QUERY PLAN']);
  return { indexes: indexesOf(nodes), nodes: nodes.map((n) => n['Node Type'] as string) };
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
