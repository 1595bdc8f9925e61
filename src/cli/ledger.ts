import type { Config } from '../config/env.ts';
import { verifyLedger } from '../engine/ledger-store.ts';
import { openPglite, openPostgres, type Db } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';

/** Opens the configured database (Postgres server or PGlite folder), migrated. */
export async function openConfiguredDb(config: Config): Promise<Db> {
  const db = config.databaseUrl
    ? await openPostgres(config.databaseUrl)
    : await openPglite(config.dataDir);
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/**
 * `tagpay ledger verify`: recomputes the hash chain and every balance from the rows. Exit 0 on a
 * sound ledger; 1, naming the first bad transfer (or the bad balance), otherwise.
 */
export async function ledgerCommand(config: Config, args: string[]): Promise<number> {
  if (args[0] !== 'verify') {
    process.stderr.write('Usage: tagpay ledger verify\n');
    return 2;
  }
  const db = await openConfiguredDb(config);
  try {
    const progress = process.stderr.isTTY
      ? (n: number) => process.stderr.write(`\rchecked ${n} transfers`)
      : undefined;
    const result = await verifyLedger(db, progress);
    if (progress) process.stderr.write('\n');
    if (result.ok) {
      process.stdout.write(
        `ledger OK: ${result.transfers} transfers chained, ${result.accounts} balances match their postings, ` +
          `every currency sums to zero (${result.currencies.join(', ') || 'none'}); chain head ${result.head}\n`,
      );
      return 0;
    }
    const where =
      result.transferId === null
        ? 'balances'
        : `transfer ${result.transferId}${result.n === null ? '' : ` (#${result.n})`}`;
    process.stdout.write(`ledger BROKEN at ${where}: ${result.reason}\n`);
    return 1;
  } finally {
    await db.close();
  }
}
