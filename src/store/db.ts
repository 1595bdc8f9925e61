import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * The SQL port: one dialect (Postgres), two drivers. PGlite runs Postgres in-process (the embedded
 * default, a folder under ./data); node-postgres talks to any Postgres 15+ server.
 */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

export interface Db extends Sql, AsyncDisposable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one database transaction; it commits when `fn` resolves and rolls back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Runs a script of statements with no parameters (see set-sql.ts, inlineParams) as one transaction,
   * sent to a server in one round trip, and answers each statement's rows in order. It commits when
   * the last statement has run; if one fails, nothing of it is kept and the error is thrown.
   */
  script(text: string): Promise<{ rows: Record<string, unknown>[] }[]>;
  close(): Promise<void>;
}

/** PGlite under `dataDir`, or in memory when `dataDir` is null (tests). */
export async function openPglite(dataDir: string | null): Promise<Db> {
  const db = dataDir === null ? await PGlite.create() : await PGlite.create(dataDir);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await db.close();
  };
  return {
    kind: 'pglite',
    query: async <T>(text: string, params?: unknown[]) => ({
      rows: (await db.query<T>(text, params)).rows,
    }),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <T>(t: string, p?: unknown[]) => ({ rows: (await tx.query<T>(t, p)).rows }),
        }),
      ),
    exec: async (script) => {
      await db.exec(script);
    },
    // In process, so round trips cost nothing; the exec is wrapped in BEGIN/COMMIT to be one
    // transaction whatever PGlite does with a script of several statements.
    script: async (text) =>
      (await db.transaction((tx) => tx.exec(text))).map((r) => ({
        rows: r.rows as Record<string, unknown>[],
      })),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A Postgres server. `schema`, when given, is created if missing and put first on every connection's
 * search path: the tests give each app its own schema in the shared `test` database.
 */
export async function openPostgres(
  url: string,
  schema: string | null = null,
  poolMax = 10,
): Promise<Db> {
  if (schema !== null) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await admin.end();
    }
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolMax,
    ...(schema === null ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client's error (the server restarting) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await pool.end();
  };
  return {
    kind: 'postgres',
    query: async <T>(text: string, params?: unknown[]) => ({
      rows: (await pool.query(text, params)).rows as T[],
    }),
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <T>(t: string, p?: unknown[]) => ({
            rows: (await client.query(t, p)).rows as T[],
          }),
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    exec: async (script) => {
      await pool.query(script);
    },
    // A query with no parameters goes by the simple protocol, where a string of several statements
    // runs as one implicit transaction, committed (with fsync, as any commit) after the last one and
    // rolled back whole if one fails: one round trip where BEGIN, each statement and COMMIT would be
    // one each (PostgreSQL protocol, "Multiple Statements in a Simple Query").
    script: async (text) => {
      const result = (await pool.query(text)) as unknown as pg.QueryResult | pg.QueryResult[];
      return (Array.isArray(result) ? result : [result]).map((r) => ({
        rows: r.rows as Record<string, unknown>[],
      }));
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Drops a test schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}

/** A database integer (bigint comes back as string, number or bigint depending on the driver) as a bigint. */
export function big(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' || typeof value === 'string') return BigInt(value);
  throw new Error(`not an integer: ${String(value)}`);
}

/** A database integer that fits a JS number (timestamps in ms, counts). */
export function num(value: unknown): number {
  return Number(big(value));
}
