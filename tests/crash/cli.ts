import { commandLine } from '../../src/cli/args.ts';
import { crashRun, CrashViolation } from './crash.ts';

/**
 * `npm run crash -- --cycles N [--storage pglite|postgres|both] [--seed S] [--minutes M]`: kills a
 * real `tagpay start` N times under load (tests/crash/crash.ts) and checks the data after each kill;
 * with --minutes, starts no cycle after M minutes per storage (its JSON line says how many ran).
 * Prints one JSON line of figures per storage; on a violation prints the seed, cycle and invariant
 * and exits 1.
 */
const USAGE =
  'npm run crash -- --cycles N [--storage pglite|postgres|both] [--seed S] [--minutes M]';
const values = commandLine(
  USAGE,
  {
    cycles: { type: 'string', default: '20' },
    storage: { type: 'string', default: 'both' },
    seed: { type: 'string' },
    minutes: { type: 'string' },
  },
  ['cycles', 'seed', 'minutes'],
);
const cycles = Number(values.cycles);
const storages =
  values.storage === 'both' ? ['pglite', 'postgres'] : [values.storage as 'pglite' | 'postgres'];
if (
  !Number.isInteger(cycles) ||
  cycles < 1 ||
  storages.some((s) => s !== 'pglite' && s !== 'postgres')
) {
  console.error(`usage: ${USAGE}`);
  process.exit(2);
}
const seed = values.seed === undefined ? BigInt(Date.now()) : BigInt(values.seed);
for (const storage of storages as ('pglite' | 'postgres')[]) {
  console.error(`crash test: ${storage}, ${cycles} cycles, seed ${seed}`);
  try {
    const stats = await crashRun({
      cycles,
      storage,
      seed,
      ...(values.minutes !== undefined && { maxMs: Number(values.minutes) * 60_000 }),
      progress: (line) => console.error(line),
    });
    console.log(JSON.stringify(stats));
  } catch (error) {
    if (error instanceof CrashViolation) {
      console.error(error.message);
      console.error(
        `replay: npm run crash -- --cycles ${cycles} --storage ${storage} --seed ${seed}`,
      );
      process.exit(1);
    }
    throw error;
  }
}
