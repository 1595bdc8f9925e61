import { commandLine } from '../../src/cli/args.ts';
import { simulate, Violation } from './simulator.ts';

/**
 * `npm run simulate -- --seed S --ops N [--seeds K] [--step-ops B] [--full-check-every K]`:
 * runs the deterministic simulation
 * (tests/sim/simulator.ts) for K seeds from S. Prints one JSON line of figures per seed; on a broken
 * invariant prints the seed, the operation and the invariant, and exits 1.
 */
const USAGE =
  'npm run simulate -- --seed S --ops N [--seeds K] [--step-ops B] [--crash-rate R] [--restart-rate R] [--full-check-every K]';
const values = commandLine(
  USAGE,
  {
    seed: { type: 'string' },
    ops: { type: 'string', default: '10000' },
    seeds: { type: 'string', default: '1' },
    'step-ops': { type: 'string', default: '200' },
    'crash-rate': { type: 'string' },
    'restart-rate': { type: 'string' },
    'full-check-every': { type: 'string' },
  },
  ['seed', 'ops', 'seeds', 'step-ops', 'full-check-every'],
);

const first = values.seed === undefined ? BigInt(Date.now()) : BigInt(values.seed);
const ops = Number(values.ops);
const seeds = Number(values.seeds);
if (!Number.isInteger(ops) || ops < 1 || !Number.isInteger(seeds) || seeds < 1) {
  console.error(`usage: ${USAGE}`);
  process.exit(2);
}
let total = 0;
const started = performance.now();
for (let i = 0; i < seeds; i++) {
  const seed = first + BigInt(i);
  console.error(`simulating seed=${seed} ops=${ops}`);
  try {
    const stats = await simulate({
      seed,
      ops,
      stepOps: Number(values['step-ops']),
      ...(values['crash-rate'] !== undefined && { crashRate: Number(values['crash-rate']) }),
      ...(values['restart-rate'] !== undefined && { restartRate: Number(values['restart-rate']) }),
      ...(values['full-check-every'] !== undefined && {
        fullCheckEvery: Number(values['full-check-every']),
      }),
      progress: (line) => console.error(line),
      progressEvery: Math.max(10_000, Math.floor(ops / 20)),
    });
    total += stats.ops;
    console.log(JSON.stringify(stats));
  } catch (error) {
    if (error instanceof Violation) {
      console.error(error.message);
      console.error(`replay: npm run simulate -- --seed ${error.seed} --ops ${ops}`);
      process.exit(1);
    }
    throw error;
  }
}
const seconds = (performance.now() - started) / 1000;
console.error(
  `done: ${seeds} seed(s), ${total} operations, 0 violations, ${seconds.toFixed(1)} s, ${Math.round(total / seconds)} ops/s`,
);
