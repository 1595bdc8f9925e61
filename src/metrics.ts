import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from './engine/engine.ts';
import type { ConnectorHealth } from './networks/connector.ts';
import { OUTBOX_LANES } from './outbox/worker.ts';
import type { Db } from './store/db.ts';

/**
 * Prometheus metrics (`GET /metrics`): ingestion, batches, commit times, engine lag, outbox backlog
 * and checkouts by state. One registry per app, so tests can run several side by side.
 */
/** Dead letters, counted from their own partial index (0015-outbox-dead.sql). */
export const DEAD_LETTERS_SQL = 'SELECT count(*)::int AS n FROM outbox WHERE status = 2';

export class Metrics {
  readonly registry = new Registry();
  readonly eventsIngested: Counter<'kind'>;
  readonly batchEvents: Histogram;
  readonly commitSeconds: Histogram;
  readonly batchPhaseSeconds: Histogram<'phase'>;
  readonly deliveries: Counter<'kind' | 'outcome'>;

  constructor(db: Db, engine: () => Engine | null, connectors: () => ConnectorHealth[] = () => []) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tagpay_process_' });
    this.eventsIngested = new Counter({
      name: 'tagpay_events_ingested_total',
      help: 'Events appended to the input log (duplicates excluded)',
      labelNames: ['kind'],
      registers,
    });
    this.batchEvents = new Histogram({
      name: 'tagpay_batch_events',
      help: 'Events per engine batch',
      buckets: [1, 10, 100, 500, 1000, 2000],
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'tagpay_batch_seconds',
      help: 'Time to decide and commit one engine batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.batchPhaseSeconds = new Histogram({
      name: 'tagpay_batch_phase_seconds',
      help: 'One engine batch by phase: decide (in memory), plan (rows encoded), wait (for the batch before to commit), write (its database transaction)',
      labelNames: ['phase'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.deliveries = new Counter({
      name: 'tagpay_outbox_deliveries_total',
      help: 'Outbox delivery attempts by outcome (done, retry, dead)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'tagpay_engine_lag_events',
      help: 'Events in the log the engine has not decided yet',
      registers,
      async collect() {
        const e = engine();
        if (!e) return;
        const { rows } = await db.query<{ seq: string | null }>(
          'SELECT max(seq)::text AS seq FROM log',
        );
        this.set(Number(BigInt(rows[0]?.seq ?? '0') - e.position));
      },
    });
    new Gauge({
      name: 'tagpay_outbox_backlog',
      help: 'Outbox rows waiting for delivery',
      labelNames: ['kind'],
      registers,
      async collect() {
        this.reset();
        // Lane by lane, each from its index of waiting rows (0011-outbox-lanes.sql): without a
        // lane's kinds the count would read the whole outbox, delivered history and all.
        const { rows } = await db.query<{ kind: string; n: number }>(
          `SELECT kind, count(*)::int AS n FROM outbox WHERE status = 0 AND kind = ANY($1::text[]) GROUP BY kind
           UNION ALL
           SELECT kind, count(*)::int AS n FROM outbox WHERE status = 0 AND kind = ANY($2::text[]) GROUP BY kind`,
          [OUTBOX_LANES.charges, OUTBOX_LANES.effects],
        );
        for (const r of rows) this.set({ kind: r.kind }, r.n);
      },
    });
    new Gauge({
      name: 'tagpay_outbox_dead_letters',
      help: 'Outbox rows that gave up after their last attempt',
      registers,
      async collect() {
        const { rows } = await db.query<{ n: number }>(DEAD_LETTERS_SQL);
        this.set(rows[0]!.n);
      },
    });
    const each = (name: string, help: string, read: (h: ConnectorHealth) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['network'],
        registers,
        collect() {
          this.reset();
          for (const h of connectors()) this.set({ network: h.network }, read(h));
        },
      });
    each('tagpay_connector_events', 'Posts a connector has read since start', (h) => h.events);
    each('tagpay_connector_reconnects', 'Reconnections since start', (h) => h.reconnects);
    each(
      'tagpay_connector_rate_limit_waits',
      'Waits on a network rate limit since start',
      (h) => h.rateLimitWaits,
    );
    each('tagpay_connector_up', '1 when the connector is live', (h) =>
      h.state === 'live' ? 1 : 0,
    );
    each('tagpay_connector_lag_seconds', 'Seconds since the connector last read an event', (h) =>
      h.lastEventAt === null ? -1 : (Date.now() - h.lastEventAt) / 1000,
    );
    new Gauge({
      name: 'tagpay_checkouts',
      help: 'Orders not yet settled, by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const e = engine();
        if (!e) return;
        const counts = new Map<string, number>();
        for (const order of e.view.activeOrders.values())
          counts.set(order.status, (counts.get(order.status) ?? 0) + 1);
        for (const state of [
          'awaiting_signup',
          'awaiting_confirmation',
          'awaiting_step_up',
          'charging',
        ])
          this.set({ state }, counts.get(state) ?? 0);
      },
    });
  }
}
