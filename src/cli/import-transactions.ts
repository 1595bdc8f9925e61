import { readFile } from 'node:fs/promises';
import type { Config } from '../config/env.ts';
import { systemClock } from '../app-context.ts';
import { IMPORT_ROWS_MAX } from '../core/limits.ts';
import { InputLog } from '../engine/log.ts';
import { appendTransactions, readSettlementFile } from '../processors/transactions.ts';
import { openConfiguredDb } from './ledger.ts';

/** Problems printed at most; the count says how many more there were. */
const PROBLEMS_SHOWN_MAX = 50;
const BAR_CELLS = 30;

/**
 * `tagpay import-transactions FILE.csv`: a processor settlement file into the input log. The whole
 * file is checked first; a bad row refuses the file (exit 1, every bad line listed) and nothing is
 * imported. Good rows go in batches keyed by transaction id, so a re-run after a crash or of the same
 * file adds nothing twice. The engine (tagpay start) decides them: credits for matching purchases.
 */
export async function importTransactionsCommand(config: Config, args: string[]): Promise<number> {
  const file = args[0];
  if (file === undefined || args.length !== 1) {
    process.stderr.write('Usage: tagpay import-transactions FILE.csv\n');
    return 2;
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    process.stderr.write(`tagpay: cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }
  const { events, problems } = readSettlementFile(text, IMPORT_ROWS_MAX);
  if (problems.length > 0) {
    for (const p of problems.slice(0, PROBLEMS_SHOWN_MAX))
      process.stderr.write(`${file}:${p.line}: ${p.message}\n`);
    if (problems.length > PROBLEMS_SHOWN_MAX)
      process.stderr.write(`… and ${problems.length - PROBLEMS_SHOWN_MAX} more\n`);
    process.stderr.write(
      `${file}: ${problems.length} bad row${problems.length === 1 ? '' : 's'}; nothing imported\n`,
    );
    return 1;
  }
  const db = await openConfiguredDb(config);
  try {
    const log = new InputLog(db, systemClock);
    const total = events.length;
    const bar = (done: number) => {
      const filled = total === 0 ? BAR_CELLS : Math.round((done / total) * BAR_CELLS);
      const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_CELLS - filled)}] ${done}/${total}`;
      process.stderr.write(process.stderr.isTTY ? `\r${line}` : `${line}\n`);
    };
    bar(0);
    const { added, duplicates } = await appendTransactions(log, events, bar);
    if (process.stderr.isTTY) process.stderr.write('\n');
    const purchases = events.filter((e) => e.type === 'purchase').length;
    process.stdout.write(
      `imported ${file}: ${total} transactions (${purchases} purchases, ${total - purchases} refunds); ` +
        `${added} new, ${duplicates} already imported. Credits are applied by the engine as it reads them.\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
