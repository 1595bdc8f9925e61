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
