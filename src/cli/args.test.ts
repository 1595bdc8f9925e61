import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The project's command lines answer bad options with a usage line and exit 2, never a stack trace. */
const root = fileURLToPath(new URL('../../', import.meta.url));

function run(script: string, ...args: string[]) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

test('an unknown option or a seed that is not a number gets the usage, exit 2', () => {
  for (const [script, args, says] of [
    ['bench/run.ts', ['--fast'], "Unknown option '--fast'"],
    ['tests/sim/cli.ts', ['--seed', 'abc'], '--seed must be a whole number, not "abc"'],
    ['tests/crash/cli.ts', ['--cycles'], "Option '--cycles <value>' argument missing"],
  ] as const) {
    const { status, stderr } = run(script, ...args);
    assert.equal(status, 2, `${script} ${args.join(' ')}: ${stderr}`);
    assert.ok(stderr.includes(says), stderr);
    assert.match(stderr, /^usage: npm run /m);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--help prints the usage and exits 0', () => {
  const { status, stdout } = run('tests/fuzz/cli.ts', '--help');
  assert.equal(status, 0);
  assert.equal(stdout, 'usage: npm run fuzz -- --runs N [--seed S] [--only pure|api]\n');
});
