import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { AppContext } from '../app-context.ts';
import { ConfigError, loadConfig, type Config } from '../config/env.ts';
import { createHttpApp } from '../http/app.ts';
import { openPglite, openPostgres } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';
import { seedDemo } from './demo.ts';
import { importTransactionsCommand } from './import-transactions.ts';
import { ledgerCommand } from './ledger.ts';

const USAGE = `tagpay — buy and pay by social post

Usage: tagpay <command>

  start     run tagpay: API, pages, engine, outbox (PORT, default 3000)
  migrate   apply database migrations and exit
  ledger verify
            recompute the ledger's hash chain and balances; exit 1 naming the first bad transfer
  import-transactions FILE.csv
            import a processor settlement file of card transactions (card-linked offers)
  bench     run the benchmark suite (--quick, --only a,b); see README.md
  help      this text

Configuration is read from the environment; see README.md.`;

async function start(config: Config): Promise<void> {
  const app = await AppContext.fromConfig(config);
  const http = createHttpApp(app);
  // Listen first: if the port is taken, stop before an admin key is made that nobody would see.
  const server = serve({ fetch: http.fetch, port: config.port, hostname: config.host });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (error) {
    await app.close();
    const code = (error as { code?: string }).code;
    throw new Error(
      code === 'EADDRINUSE'
        ? `port ${config.port} is in use; set PORT to another port`
        : String(error),
    );
  }
  const adminKey = await app.ensureAdminKey();
  app.start();
  if (config.demo && (await seedDemo(app)))
    app.logger.info('demo merchant, offers and shoppers seeded');
  const storage = config.databaseUrl ? 'Postgres (DATABASE_URL)' : `PGlite in ${config.dataDir}`;
  process.stdout.write(`\ntagpay is running at ${config.publicUrl}  (storage: ${storage})\n`);
  if (adminKey) {
    process.stdout.write(
      `\nAdmin key (shown once, keep it safe; only its hash is stored):\n  ${adminKey}\n` +
        `Lost it? Start with TAGPAY_ADMIN_KEY=<a new key of 24+ characters> to replace it.\n\n`,
    );
  }
  const stop = async (signal: string) => {
    app.logger.info({ signal }, 'stopping');
    server.close();
    await app.close();
    app.logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

async function runMigrate(config: Config): Promise<void> {
  const db = config.databaseUrl
    ? await openPostgres(config.databaseUrl)
    : await openPglite(config.dataDir);
  try {
    const applied = await migrate(db);
    process.stdout.write(
      applied.length ? `applied migrations ${applied.join(', ')}\n` : 'database is up to date\n',
    );
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'help';
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (command === 'bench') {
    // The suite runs each scenario in its own process; it lives beside the sources, not in them.
    const run = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', run, ...argv.slice(1)], {
      stdio: 'inherit',
    });
    return child.status ?? 1;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tagpay: configuration error: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  switch (command) {
    case 'start':
      await start(config);
      return -1;
    case 'migrate':
      await runMigrate(config);
      return 0;
    case 'ledger':
      return ledgerCommand(config, argv.slice(1));
    case 'import-transactions':
      return importTransactionsCommand(config, argv.slice(1));
    default:
      process.stderr.write(`tagpay: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`tagpay: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
