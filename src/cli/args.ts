import { parseArgs } from 'node:util';

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/**
 * The options of a command line (node:util parseArgs, strict), or, for an unknown option, a missing
 * value or a stray argument, a line saying what is wrong and the usage on stderr and exit code 2 —
 * never a stack trace; `--help` prints the usage. `integers` names options that must be whole numbers (seeds, counts).
 */
export function commandLine<const O extends Options>(
  usage: string,
  options: O,
  integers: readonly (keyof O & string)[] = [],
  args: string[] = process.argv.slice(2),
) {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\nusage: ${usage}\n`);
    process.exit(2);
  };
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  let values;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
  for (const name of integers) {
    const value = (values as Record<string, unknown>)[name];
    if (value !== undefined && !/^\d+$/.test(String(value)))
      fail(`--${name} must be a whole number, not "${String(value)}"`);
  }
  return values;
}
