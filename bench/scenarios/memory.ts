import { randomBytes } from 'node:crypto';
import { CONFIRM_WINDOW_MS_DEFAULT } from '../../src/core/limits.ts';
import { decide, type DecideContext } from '../../src/engine/decide.ts';
import type { LogEntry } from '../../src/engine/events.ts';
import { Effects, State } from '../../src/engine/state.ts';
import { linkCommand, rssMb, type ScenarioResult } from '../support.ts';

const random = (n: number) => new Uint8Array(randomBytes(n));

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('memory: run node with --expose-gc');
  g();
  g();
}

/**
 * Memory per pending checkout: the engine's own structures (order, code index, per-handle index,
 * deadline heap, per-buyer and daily-spend counters) for `count` checkouts of linked shoppers,
 * measured as the heap growth after a full GC, net of the shoppers themselves.
 */
export async function memory(opts: { quick: boolean }): Promise<ScenarioResult> {
  const count = opts.quick ? 100_000 : 1_000_000;
  const state = new State();
  const ctx: DecideContext = {
    random,
    feeBps: 250,
    publicUrl: 'http://x',
    botHandle: () => 'tagpay',
    // Velocity and anomaly step-ups off: every shopper here links and buys at the same instant.
    safety: {
      purchasesPerHourMax: 0,
      cardDailyMajorMax: 0,
      anomalyStepUp: false,
      linkSecret: 'ls_bench',
    },
  };
  let seq = 0n;
  const at = Date.parse('2026-11-26T12:00:00Z');
  const run = (body: LogEntry['body'], key: string) => {
    const fx = new Effects();
    decide(state, { seq: ++seq, key, at, body }, fx, ctx);
    state.balances.dirty.clear();
  };
  run(
    {
      kind: 'api',
      principal: 'admin',
      requestHash: 'm',
      command: {
        op: 'merchant.create',
        network: 'local',
        handle: 'acme',
        name: 'A',
        webhookUrl: null,
        webhookSecret: 'x',
        keyHash: 'x',
        feeBps: null,
      },
    },
    'm',
  );
  const merchantId = [...state.merchants.keys()][0]!;
  run(
    {
      kind: 'api',
      principal: merchantId,
      requestHash: 'o',
      command: {
        op: 'offer.create',
        merchantId,
        title: 'Tee',
        priceMinor: '2500',
        currency: 'USD',
        quantity: count,
        hashtag: 'BuyTee',
        variants: [],
        perBuyerMax: null,
        windowMs: CONFIRM_WINDOW_MS_DEFAULT,
        startsAt: null,
        endsAt: null,
        publish: true,
      },
    },
    'o',
  );
  for (let i = 0; i < count; i++) {
    run(
      {
        kind: 'api',
        principal: 'admin',
        requestHash: '',
        command: linkCommand(`u${i}`, { id: 'tok_x', brand: 'visa', last4: '4242' }),
      },
      `s${i}`,
    );
  }
  gc();
  const before = process.memoryUsage().heapUsed;
  const started = performance.now();
  for (let i = 0; i < count; i++)
    run(
      {
        kind: 'post',
        network: 'local',
        postId: `p${i}`,
        author: `u${i}`,
        text: '#BuyTee',
        replyTo: null,
      },
      `post:local:p${i}`,
    );
  const seconds = (performance.now() - started) / 1000;
  gc();
  const after = process.memoryUsage().heapUsed;
  const pending = [...state.activeOrders.values()].filter(
    (o) => o.status === 'awaiting_confirmation',
  ).length;
  if (pending !== count) throw new Error(`memory: ${pending} pending checkouts, expected ${count}`);
  const bytesPer = Math.round((after - before) / count);
  // ops_per_s: checkouts decided per second in memory (no database), the engine's pure speed.
  return {
    scenario: 'memory',
    ops_per_s: Math.round(count / seconds),
    pending_checkouts: count,
    bytes_per_checkout: bytesPer,
    heap_mb: Math.round(after / 2 ** 20),
    rss_mb: rssMb(),
  };
}
