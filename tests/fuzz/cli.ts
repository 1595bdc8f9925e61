import { commandLine } from '../../src/cli/args.ts';
import { apiProperties, openFuzzApi, PURE_PROPERTIES, type FuzzProperty } from './properties.ts';

/**
 * `npm run fuzz -- --runs N [--seed S] [--only pure|api]`: N cases in all, shared among the properties
 * by their `share` (an HTTP case costs a thousand grammar cases, so the API property takes ~1%). Prints the cases run per property; a failure prints fast-check's
 * counterexample and seed, and exits 1.
 */
const USAGE = 'npm run fuzz -- --runs N [--seed S] [--only pure|api]';
const values = commandLine(
  USAGE,
  {
    runs: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    only: { type: 'string' },
  },
  ['runs', 'seed'],
);
const runs = Number(values.runs);
if (
  !Number.isInteger(runs) ||
  runs < 1 ||
  (values.only !== undefined && values.only !== 'pure' && values.only !== 'api')
) {
  console.error(`usage: ${USAGE}`);
  process.exit(2);
}
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const api = values.only === 'pure' ? null : await openFuzzApi();
const properties: FuzzProperty[] = [
  ...(values.only === 'api' ? [] : PURE_PROPERTIES),
  ...(api ? apiProperties(api) : []),
];
const shares = properties.reduce((sum, p) => sum + p.share, 0);
let total = 0;
let failed = false;
const started = performance.now();
for (const property of properties) {
  const n = Math.max(1, Math.round((runs * property.share) / shares));
  const t = performance.now();
  try {
    await property.run(n, seed);
    total += n;
    console.log(
      JSON.stringify({
        property: property.name,
        cases: n,
        seed,
        seconds: (performance.now() - t) / 1000,
      }),
    );
  } catch (error) {
    failed = true;
    console.error(
      `FAILED ${property.name}\n${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
await api?.close();
const seconds = (performance.now() - started) / 1000;
console.error(
  `${failed ? 'FAILED' : 'done'}: ${total} cases passed in ${seconds.toFixed(1)} s (seed ${seed})`,
);
process.exit(failed ? 1 : 0);
