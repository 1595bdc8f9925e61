/** Runs one scenario and prints its result as one JSON line (bench/run.ts starts this per scenario). */
import { parseArgs } from 'node:util';
import type { ScenarioResult } from './support.ts';

const { values, positionals } = parseArgs({
  options: { quick: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const opts = { quick: values.quick };
const runs: Record<string, () => Promise<ScenarioResult | object>> = {
  ingest: async () => (await import('./scenarios/ingest.ts')).ingest(opts),
  'purchases-pglite': async () =>
    (await import('./scenarios/purchases.ts')).purchases('pglite', opts),
  'purchases-postgres': async () =>
    (await import('./scenarios/purchases.ts')).purchases('postgres', opts),
  'flash-sale': async () => (await import('./scenarios/flash-sale.ts')).flashSale(opts),
  latency: async () => (await import('./scenarios/latency.ts')).latency(opts),
  memory: async () => (await import('./scenarios/memory.ts')).memory(opts),
};
const run = runs[positionals[0] ?? ''];
if (!run) {
  process.stderr.write(`scenario: unknown "${positionals[0]}"\n`);
  process.exit(2);
}
const result = await run();
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
