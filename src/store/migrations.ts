import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256 } from '../core/codes.ts';
import type { Db } from './db.ts';

/**
 * Numbered migrations, applied in order at start and by `tagpay migrate`. A migration is never
 * edited once released; a change is a new migration. Times are milliseconds since the epoch (bigint),
 * money is bigint minor units beside a currency code.
 */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/**
 * The migrations, one file each in src/store/migrations named `NNNN-name.sql`, read once at load. A
 * new migration is a new file with the next free number; the number orders them.
 */
export const MIGRATIONS: { id: number; name: string; sql: string }[] =
  readMigrations(MIGRATIONS_DIR);

function readMigrations(dir: string): { id: number; name: string; sql: string }[] {
  const found = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = /^(\d{4})-([a-z0-9-]+)\.sql$/.exec(file);
      if (!match) throw new Error(`migration file ${file} is not named NNNN-name.sql`);
      return { id: Number(match[1]), name: match[2]!, sql: readFileSync(join(dir, file), 'utf8') };
    })
    .sort((a, b) => a.id - b.id);
  found.forEach((m, i) => {
    if (i > 0 && found[i - 1]!.id === m.id) throw new Error(`two migrations are numbered ${m.id}`);
  });
  return found;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Applies the migrations not applied yet, each in its own transaction, under an advisory lock. Each
 * applied migration's checksum is kept: a released migration edited afterwards stops the start with a
 * clear error instead of running on a schema that is not the one the code expects.
 */
export async function migrate(db: Db): Promise<number[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (id int PRIMARY KEY, name text NOT NULL, checksum text, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const checksum = sha256(m.sql);
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7261)');
      const { rows } = await tx.query<{ checksum: string | null }>(
        'SELECT checksum FROM schema_migrations WHERE id = $1',
        [m.id],
      );
      if (rows[0]) {
        if (rows[0].checksum !== null && rows[0].checksum !== checksum) {
          throw new MigrationError(
            `migration ${m.id} (${m.name}) differs from the one applied to this database; this build cannot run on it. Use a new data folder or database, or the build that created it.`,
          );
        }
        return false;
      }
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)', [
        m.id,
        m.name,
        checksum,
      ]);
      return true;
    });
    if (done) applied.push(m.id);
  }
  return applied;
}

/**
 * The statements of a migration. Our migrations hold no semicolon and no `--` inside a statement's
 * strings, so dropping line comments and splitting on semicolons is exact; a semicolon in a comment
 * (prose) used to split a statement in two.
 */
export function splitStatements(sql: string): string[] {
  return sql
    .replace(/--[^\n]*/g, '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
