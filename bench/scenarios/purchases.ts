import { CHARGE_BATCH_MAX } from '../../src/core/limits.ts';
import {
  cpuPerOp,
  cpuSample,
  openBenchApp,
  postEvent,
  rssMb,
  withEngine,
  type ScenarioResult,
  type Storage,
} from '../support.ts';
import { naivePurchases } from './naive.ts';

/**
 * Confirmed purchases per second through the engine, end to end: offer hashtag post → checkout and
 * code → confirmation post → sandbox charge (authorize + capture) → order paid, ledger transfer and
 * outbox rows committed. Replies and e-mails are committed as outbox rows; their delivery to the
 * network is another lane and not part of a purchase. The baseline is the same purchase done naively
 * in the same run: one database transaction per step, one statement per row.
 */
export async function purchases(
  storage: Storage,
  opts: { quick: boolean },
): Promise<ScenarioResult> {
  const n = opts.quick ? 5_000 : 50_000;
  const b = await openBenchApp(storage);
  try {
    await b.offer(n);
    await b.linkShoppers(n);
    const c0 = cpuSample();
    const t0 = performance.now();
    await withEngine(b.app, () =>
      b.append(Array.from({ length: n }, (_, i) => postEvent(`b${i}`, `u${i}`, '#BuyTee'))),
    );
    const t1 = performance.now();
    const c1 = cpuSample();
    // The shopper reads the code in tagpay's reply; here it is read from the committed reply rows.
    const { rows } = await b.db.query<{ body: string }>(
      "SELECT body FROM outbox WHERE kind = 'post' AND body LIKE '%reply with #TP%'",
    );
    const codes = rows.map((r) => {
      const body = JSON.parse(r.body) as { text: string; reply_to: string };
      return { i: Number(body.reply_to.slice(1)), code: /#(TP[A-Z2-7]{10})/.exec(body.text)![1]! };
    });
    if (codes.length !== n) throw new Error(`purchases: expected ${n} codes, got ${codes.length}`);
    const c2 = cpuSample();
    const t2 = performance.now();
    // Confirmations stream in while the engine decides and the charge lane charges, as they would live.
    await withEngine(b.app, async () => {
      const confirming = b.append(codes.map((c) => postEvent(`c${c.i}`, `u${c.i}`, `#${c.code}`)));
      let idle = 0;
      for (;;) {
        const charged = await b.app.outbox.runOnce(['charge'], CHARGE_BATCH_MAX);
        if (charged > 0) idle = 0;
        else if (++idle > 3 && (await confirming, b.app.engine.view.activeOrders.size === 0)) break;
        else await new Promise((r) => setTimeout(r, 2));
      }
    });
    const t3 = performance.now();
    const c3 = cpuSample();
    const paid = (
      await b.db.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE status = 'paid'")
    ).rows[0]!.n;
    if (paid !== n) throw new Error(`purchases: expected ${n} paid orders, got ${paid}`);
    const sum = (
      await b.db.query<{ s: string }>('SELECT coalesce(sum(balance), 0)::text AS s FROM balances')
    ).rows[0]!.s;
    if (sum !== '0') throw new Error(`purchases: ledger sums to ${sum}`);
    const seconds = (t1 - t0 + (t3 - t2)) / 1000;
    const baseline = await naivePurchases(storage, opts.quick ? 500 : 2_000);
    const opsPerS = Math.round(n / seconds);
    return {
      scenario: `purchases-${storage}`,
      ops_per_s: opsPerS,
      baseline_ops_per_s: baseline,
      ratio: Math.round((opsPerS / baseline) * 10) / 10,
      purchases: n,
      checkout_per_s: Math.round(n / ((t1 - t0) / 1000)),
      confirm_charge_settle_per_s: Math.round(n / ((t3 - t2) / 1000)),
      // CPU per purchase over both timed phases.
      ...cpuPerOp(
        [
          [c0, c1],
          [c2, c3],
        ],
        n,
        storage,
      ),
      rss_mb: rssMb(),
    };
  } finally {
    await b.close();
  }
}
