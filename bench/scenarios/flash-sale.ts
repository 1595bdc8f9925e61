import {
  cpuPerOp,
  cpuSample,
  openBenchApp,
  postEvent,
  rssMb,
  withEngine,
  type ScenarioResult,
} from '../support.ts';

/**
 * A flash sale: many distinct handles post the hashtag of one offer at once. Measures buy attempts
 * decided and committed per second through the engine (each answered: a hold, or sold out with a
 * waitlist place), that no unit is oversold, and that the units went first in, first out by log order.
 */
export async function flashSale(opts: { quick: boolean }): Promise<ScenarioResult> {
  const posts = opts.quick ? 100_000 : 1_000_000;
  const units = opts.quick ? 1_000 : 10_000;
  const b = await openBenchApp('postgres');
  try {
    const offerId = await b.offer(units);
    const events = Array.from({ length: posts }, (_, i) => postEvent(`f${i}`, `h${i}`, '#BuyTee'));
    const cpu = cpuSample();
    const started = performance.now();
    await withEngine(b.app, () => b.append(events));
    const seconds = (performance.now() - started) / 1000;
    const cpuUsed = cpuPerOp([[cpu, cpuSample()]], posts, 'postgres');
    const offer = (
      await b.db.query<{ available: number; sold: number; quantity: number }>(
        'SELECT available, sold, quantity FROM offers WHERE id = $1',
        [offerId],
      )
    ).rows[0]!;
    const held = (
      await b.db.query<{ n: number }>(
        "SELECT coalesce(sum(quantity), 0)::int AS n FROM orders WHERE offer_id = $1 AND status IN ('awaiting_signup', 'awaiting_confirmation', 'charging', 'paid')",
        [offerId],
      )
    ).rows[0]!.n;
    const oversold = Math.max(0, held - offer.quantity) + Math.max(0, -offer.available);
    // First in, first out: the holders are exactly the first `units` handles in log order.
    const { rows } = await b.db.query<{ handle: string }>(
      'SELECT handle FROM orders WHERE offer_id = $1',
      [offerId],
    );
    const fifo = rows.length === units && rows.every((r) => Number(r.handle.slice(1)) < units);
    const waitlist = await b.db.query<{ handle: string }>(
      "SELECT handle FROM waitlist WHERE offer_id = $1 AND status = 'waiting' ORDER BY seq",
      [offerId],
    );
    const waitFifo = waitlist.rows.every((r, i) => Number(r.handle.slice(1)) === units + i);
    if (!fifo || !waitFifo) throw new Error('flash-sale: units or waitlist not in log order');
    return {
      scenario: 'flash-sale',
      ops_per_s: Math.round(posts / seconds),
      oversold,
      posts,
      units,
      fifo_verified: fifo && waitFifo,
      waitlisted: waitlist.rows.length,
      storage: 'postgres',
      ...cpuUsed,
      rss_mb: rssMb(),
    };
  } finally {
    await b.close();
  }
}
