/**
 * The benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (under a minute), and
 * `--only a,b` for some scenarios. Each scenario runs in its own Node process (so its memory is its
 * own); the table is printed and bench/results/latest.json written. Every figure is measured here.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine } from '../src/cli/args.ts';
import { machine } from './support.ts';

export const SCENARIOS = [
  'ingest',
  'purchases-pglite',
  'purchases-postgres',
  'flash-sale',
  'latency',
  'memory',
] as const;

const here = dirname(fileURLToPath(import.meta.url));
const values = commandLine('npm run bench -- [--quick] [--only scenario,scenario]', {
  quick: { type: 'boolean', default: false },
  only: { type: 'string' },
});
const chosen = values.only ? values.only.split(',') : [...SCENARIOS];
for (const name of chosen) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    process.stderr.write(
      `bench: unknown scenario "${name}"; choose from ${SCENARIOS.join(', ')}\n`,
    );
    process.exit(2);
  }
}

const results: Record<string, unknown>[] = [];
const m = machine();
for (const name of chosen) {
  process.stderr.write(`bench: ${name}${values.quick ? ' (quick)' : ''} …\n`);
  const out = execFileSync(
    process.execPath,
    [
      '--expose-gc',
      '--max-old-space-size=8192',
      '--import',
      'tsx',
      join(here, 'scenario.ts'),
      name,
      ...(values.quick ? ['--quick'] : []),
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const result = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  results.push({ ...result, quick: values.quick, machine: m });
}

console.table(results.map(({ machine: _m, quick: _q, ...r }) => r));
// Only a full run of every scenario replaces latest.json; a quick or partial run is kept apart.
const complete = !values.quick && chosen.length === SCENARIOS.length;
const file = join(here, 'results', complete ? 'latest.json' : 'partial.json');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
process.stderr.write(`bench: wrote ${file}\n`);
