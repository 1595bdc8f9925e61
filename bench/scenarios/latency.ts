import type { NewEvent } from '../../src/engine/log.ts';
import {
  cpuPerOp,
  cpuSample,
  openBenchApp,
  percentile,
  postEvent,
  rssMb,
  type ScenarioResult,
} from '../support.ts';

/**
 * Open-loop latency on Postgres: buy posts are offered at a fixed rate whatever the engine does (every
 * TICK_MS the events due are appended), for a fixed time. An event's latency runs from the call that
 * appends it to the commit of the engine batch that decided it (its effects and the cursor).
 */
export async function latency(opts: { quick: boolean }): Promise<ScenarioResult> {
  const RATE_PER_S = 10_000;
  const TICK_MS = 5;
  const seconds = opts.quick ? 5 : 30;
  const total = RATE_PER_S * seconds;
  const b = await openBenchApp('postgres');
  try {
    await b.offer(total);
    // Offered events in log order: [seq, when offered]; a batch commit settles every seq up to its last.
    const offered: [bigint, number][] = [];
    let head = 0;
    const latencies: number[] = [];
    let committed = 0n;
    b.app.engine.onBatch((stats) => {
      committed = stats.lastSeq;
      const now = performance.now();
      while (head < offered.length && offered[head]![0] <= stats.lastSeq)
        latencies.push(now - offered[head++]![1]);
    });
    let stop = false;
    let wake: () => void = () => {};
    let woken = false;
    b.app.log.onAppend(() => {
      woken = true;
      wake();
    });
    // The engine as in production: batches back to back, sleeping only when caught up (and not
    // woken by an append while the batch ran).
    const engine = (async () => {
      for (;;) {
        woken = false;
        if ((await b.app.engine.runBatch()) > 0) continue;
        if (stop) return;
        if (woken) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    })();
    let sent = 0;
    const cpu = cpuSample();
    const started = performance.now();
    const appends: Promise<void>[] = [];
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE_PER_S));
      if (due > sent) {
        const events: NewEvent[] = [];
        for (; sent < due; sent++) events.push(postEvent(`l${sent}`, `h${sent}`, '#BuyTee'));
        const at = performance.now();
        appends.push(
          b.app.log.append(events).then((seqs) => {
            // Decided before this callback ran: measured now, an upper bound of its latency.
            for (const seq of seqs) {
              if (seq === null) continue;
              if (seq <= committed) latencies.push(performance.now() - at);
              else offered.push([seq, at]);
            }
          }),
        );
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
    await Promise.all(appends);
    const offeredSeconds = (performance.now() - started) / 1000;
    stop = true;
    wake();
    await engine;
    await b.app.engine.drain();
    const cpuUsed = cpuPerOp([[cpu, cpuSample()]], total, 'postgres');
    if (latencies.length !== total)
      throw new Error(`latency: ${latencies.length} of ${total} events measured`);
    latencies.sort((x, y) => x - y);
    return {
      scenario: 'latency',
      ops_per_s: Math.round(total / offeredSeconds),
      p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
      p99_ms: Math.round(percentile(latencies, 99) * 10) / 10,
      max_ms: Math.round(latencies.at(-1)! * 10) / 10,
      offered_per_s: RATE_PER_S,
      seconds,
      storage: 'postgres',
      ...cpuUsed,
      rss_mb: rssMb(),
    };
  } finally {
    await b.close();
  }
}
