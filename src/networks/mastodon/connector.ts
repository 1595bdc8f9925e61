import { CONNECTOR_RECONNECT_MS_MAX, CONNECTOR_RECONNECT_MS_MIN } from '../../core/limits.ts';
import WebSocket from 'ws';
import { mayMatter } from '../../core/post-grammar.ts';
import type { NewEvent } from '../../engine/log.ts';
import {
  Backoff,
  loadCursor,
  saveCursor,
  type Connector,
  type ConnectorDeps,
  type ConnectorHealth,
} from '../connector.ts';
import { messageOf, rateLimitWaitMs, type MastodonClient, type MastodonStats } from './client.ts';
import {
  compareIds,
  isId,
  isRecord,
  MASTODON_NETWORK,
  normalizeStatus,
  readField,
} from './normalize.ts';

const CURSOR = 'connector:mastodon';
/** How often the live offers' hashtags are compared with the hashtag streams subscribed. */
export const HASHTAG_CHECK_MS = 1_000;
/** Hashtag streams one connection follows at most. */
export const HASHTAG_STREAMS_MAX = 1_000;
/** Statuses or notifications per REST page (Mastodon's maximum is 40), and pages per backfill. */
export const BACKFILL_PAGE_LIMIT = 40;
export const BACKFILL_PAGES_MAX = 50;
/** A REST read that is rate limited waits at most this long, this many times, then fails. */
export const READ_WAIT_MS_MAX = 5 * 60_000;
export const READ_ATTEMPTS_MAX = 3;
/** The socket is pinged this often; no pong by the next ping and it is dropped and reopened. */
export const PING_MS = 30_000;
/** A streaming message larger than this is refused by the socket (a status is a few KiB). */
export const STREAM_MESSAGE_BYTES_MAX = 1024 * 1024;

/**
 * One resume position: the newest id seen, held back while a backfill that starts lower is running
 * (or failed), so the saved cursor always means "every status before it that matters is in the log".
 */
class Mark {
  private readonly holds: string[] = [];
  constructor(private max: string) {}

  saved(): string {
    return this.holds.reduce((low, h) => (compareIds(h, low) < 0 ? h : low), this.max);
  }

  see(id: string): void {
    if (compareIds(id, this.max) > 0) this.max = id;
  }

  /** Keeps the saved position at or below `at` until the returned function is called. */
  hold(at: string): () => void {
    this.holds.push(at);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds.splice(this.holds.indexOf(at), 1);
    };
  }
}

interface Marks {
  status: Mark;
  notification: Mark;
}

/**
 * Reads Mastodon through its streaming API (docs.joinmastodon.org/methods/streaming) on one
 * multiplexed WebSocket: the `user` stream (mentions of tagpay's account, direct messages included,
 * arrive as `notification`s) and one `hashtag` stream per live offer, followed as offers go live and
 * end. Each status becomes a post event in the input log; the log's unique key drops duplicates.
 *
 * Streaming has no resume position of its own, so the connector keeps one: the newest status id and
 * the newest notification id seen, saved as its cursor in the transaction that appends the events.
 * After every (re)connection it subscribes first and then reads what it missed through REST from those
 * ids (the hashtag timelines and the mentions), oldest first; a hashtag that goes live while
 * connected is read back from the position of the previous check.
 */
export class MastodonConnector implements Connector {
  readonly network = MASTODON_NETWORK;
  private state: ConnectorHealth['state'] = 'stopped';
  private lastEventAt: number | null = null;
  private lastError: string | null = null;
  private events = 0;
  private reconnects = 0;
  /** Messages and statuses that could not be read (logged, then skipped). */
  private rejected = 0;
  private marks: Marks | null = null;
  private savedCursor: string | null = null;
  /** Holds left by a failed append or backfill, released by the next complete backfill. */
  private failureHolds: (() => void)[] = [];
  private ws: WebSocket | null = null;
  /** The live hashtags, as last read; the subscribed streams once the socket is ready. */
  private tags = new Set<string>();
  private checkpoint: string | null = null;
  private ready = false;
  private stopped = true;
  private checking = false;
  private writes: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly backoff = new Backoff(
    CONNECTOR_RECONNECT_MS_MIN,
    CONNECTOR_RECONNECT_MS_MAX,
    Math.random,
  );

  constructor(
    private readonly client: MastodonClient,
    private readonly token: string,
    private readonly deps: ConnectorDeps,
    private readonly stats: MastodonStats,
  ) {}

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.state = 'starting';
    this.every(HASHTAG_CHECK_MS, () => void this.checkHashtags());
    this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.ws?.terminate();
    this.ws = null;
    await this.writes;
  }

  health(): ConnectorHealth {
    return {
      network: this.network,
      state: this.state,
      lastEventAt: this.lastEventAt,
      cursor: this.savedCursor,
      events: this.events,
      reconnects: this.reconnects,
      rateLimitWaits: this.stats.rateLimitWaits,
      lastError: this.lastError,
    };
  }

  /** Statuses and messages skipped as unreadable, for tests and logs. */
  get rejectedCount(): number {
    return this.rejected;
  }

  private open(): void {
    if (this.stopped) return;
    const url = streamingUrl(this.client.streamingUrl);
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.token}` },
      maxPayload: STREAM_MESSAGE_BYTES_MAX,
      handshakeTimeout: 30_000,
    });
    this.ws = ws;
    this.ready = false;
    let alive = true;
    let pinger: NodeJS.Timeout | null = null;
    ws.on('open', () => {
      pinger = this.every(PING_MS, () => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping();
      });
      void this.onOpen(ws);
    });
    ws.on('pong', () => (alive = true));
    ws.on('message', (data, isBinary) => {
      alive = true;
      if (isBinary) return this.reject('binary message', null);
      this.onMessage(data.toString());
    });
    ws.on('error', (error) => {
      this.lastError = error.message;
      this.deps.logger.warn({ err: error, network: this.network }, 'mastodon stream error');
    });
    ws.on('close', () => {
      if (pinger) this.clear(pinger);
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      if (this.stopped) return;
      this.state = 'backoff';
      this.reconnects++;
      const delay = this.backoff.next();
      this.deps.logger.info({ network: this.network, delayMs: delay }, 'mastodon stream closed');
      this.after(delay, () => this.open());
    });
  }

  /** Subscribes to every stream, then reads back what was missed; only then is the stream live. */
  private async onOpen(ws: WebSocket): Promise<void> {
    try {
      await this.ensureMarks();
      this.tags = this.readLiveHashtags();
      ws.send(JSON.stringify({ type: 'subscribe', stream: 'user' }));
      for (const tag of this.tags)
        ws.send(JSON.stringify({ type: 'subscribe', stream: 'hashtag', tag }));
      this.ready = true;
      this.checkpoint = this.marks!.status.saved();
      await this.backfill([...this.tags], true);
      if (this.ws !== ws) return;
      this.state = 'live';
      this.backoff.reset();
    } catch (error) {
      this.fail('backfill after connecting failed', error);
    }
  }

  /** The cursor saved, or at the very first start the newest ids on the server: the past is not read. */
  private async ensureMarks(): Promise<void> {
    if (this.marks !== null) return;
    const saved = await loadCursor(this.deps.db, CURSOR);
    let status: string | null = null;
    let notification: string | null = null;
    if (saved !== null) {
      const parsed = parseCursor(saved);
      if (parsed === null) throw new Error(`unreadable saved cursor ${CURSOR}: ${saved}`);
      ({ status, notification } = parsed);
    } else {
      const [newest] = await this.read(() =>
        this.client.rest.v1.timelines.public.list({ limit: 1 }),
      );
      const [mention] = await this.read(() => this.client.rest.v1.notifications.list({ limit: 1 }));
      status = newest?.id ?? '0';
      notification = mention?.id ?? '0';
    }
    this.marks = { status: new Mark(status), notification: new Mark(notification) };
    if (saved === null) await this.enqueue([], [], [], true);
  }

  /** Follows the live offers' hashtags: new ones are subscribed and read back, ended ones dropped. */
  private async checkHashtags(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const live = this.readLiveHashtags();
      const ws = this.ws;
      // While (re)connecting, the opening reads the live hashtags itself.
      if (!this.ready || ws === null || this.marks === null) return;
      const added = [...live].filter((t) => !this.tags.has(t));
      const removed = [...this.tags].filter((t) => !live.has(t));
      this.tags = live;
      const from = this.checkpoint ?? this.marks.status.saved();
      this.checkpoint = this.marks.status.saved();
      for (const tag of removed)
        ws.send(JSON.stringify({ type: 'unsubscribe', stream: 'hashtag', tag }));
      for (const tag of added)
        ws.send(JSON.stringify({ type: 'subscribe', stream: 'hashtag', tag }));
      if (added.length > 0) await this.backfill(added, false, from);
    } catch (error) {
      this.fail('following hashtags failed', error);
    } finally {
      this.checking = false;
    }
  }

  private readLiveHashtags(): Set<string> {
    try {
      return new Set(
        this.deps
          .liveHashtags()
          .map((t) => t.toLowerCase())
          .slice(0, HASHTAG_STREAMS_MAX),
      );
    } catch (error) {
      this.deps.logger.error({ err: error }, 'mastodon: reading the live hashtags failed');
      return this.tags;
    }
  }

  /**
   * Reads back through REST, oldest first, what the streams may have missed: each hashtag's timeline
   * after `from` and, when `mentions`, the mentions after the notification mark. The saved cursor is
   * held at the starting point until every page is in the log.
   */
  private async backfill(tags: string[], mentions: boolean, from?: string): Promise<void> {
    const marks = this.marks!;
    const statusFrom = from ?? marks.status.saved();
    const notificationFrom = marks.notification.saved();
    const releases = [marks.status.hold(statusFrom), marks.notification.hold(notificationFrom)];
    try {
      if (mentions) {
        await this.pages('notification', notificationFrom, (minId) =>
          this.client.rest.v1.notifications.list({
            minId,
            types: ['mention'],
            limit: BACKFILL_PAGE_LIMIT,
          }),
        );
      }
      for (const tag of tags) {
        await this.pages('status', statusFrom, (minId) =>
          this.client.rest.v1.timelines.tag
            .$select(tag)
            .list({ minId, limit: BACKFILL_PAGE_LIMIT }),
        );
      }
      if (mentions) for (const release of this.failureHolds.splice(0)) release();
      for (const release of releases) release();
      await this.enqueue([], [], [], true);
    } catch (error) {
      this.failureHolds.push(...releases);
      throw error;
    }
  }

  /**
   * Pages forward with `min_id` (the page just after an id; `since_id` would give the newest page and
   * skip the rest when more than a page was missed), each page appended before the next is read.
   */
  private async pages(
    kind: 'status' | 'notification',
    from: string,
    list: (minId: string) => PromiseLike<unknown[]>,
  ): Promise<void> {
    let minId = from;
    for (let page = 0; page < BACKFILL_PAGES_MAX; page++) {
      if (this.stopped) return;
      const items = (await this.read(() => list(minId))).slice();
      const ids = items.map((i) => (isRecord(i) ? readField(i, 'id') : null));
      const order = items
        .map((item, at) => ({ item, id: ids[at] }))
        .filter((x): x is { item: unknown; id: string } => isId(x.id))
        .sort((a, b) => compareIds(a.id, b.id));
      if (order.length === 0) return;
      await this.take(
        kind,
        order.map((x) => x.item),
      );
      minId = order[order.length - 1]!.id;
    }
    this.deps.logger.warn(
      { network: this.network, pages: BACKFILL_PAGES_MAX },
      'mastodon backfill stopped at its page limit; older missed posts are skipped',
    );
  }

  /** A REST read, waiting out a 429 (counted in the health) a few times. */
  private async read<T>(fn: () => PromiseLike<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const wait = rateLimitWaitMs(error);
        if (wait === null || wait > READ_WAIT_MS_MAX || attempt >= READ_ATTEMPTS_MAX) throw error;
        this.stats.rateLimitWaits++;
        await new Promise<void>((resolve) => this.after(wait, resolve));
        if (this.stopped) throw new Error('stopped');
      }
    }
  }

  private onMessage(raw: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(raw);
    } catch {
      return this.reject('message is not JSON', raw);
    }
    if (!isRecord(msg)) return this.reject('message is not an object', raw);
    if (typeof msg.error === 'string') return this.reject(`server: ${msg.error}`, null);
    const { event, payload } = msg;
    // Edits are dropped (see normalize.ts): what was posted first is what counts.
    if (event !== 'update' && event !== 'notification') return;
    const kind = event === 'update' ? 'status' : 'notification';
    let entity: unknown;
    try {
      entity = typeof payload === 'string' ? JSON.parse(payload) : payload;
    } catch {
      return this.reject('payload is not JSON', raw);
    }
    this.take(kind, [entity]).catch((error: unknown) => this.fail('append failed', error));
  }

  /** Statuses or notifications (mentions carry their status) into the log, in order. */
  private take(kind: 'status' | 'notification', items: unknown[]): Promise<void> {
    const events: NewEvent[] = [];
    const statusIds: string[] = [];
    const notificationIds: string[] = [];
    for (const item of items) {
      let status: unknown = item;
      if (kind === 'notification') {
        // A Notification entity: its own id is the notification mark; only mentions are read.
        const id = isRecord(item) ? readField(item, 'id') : undefined;
        if (!isRecord(item) || !isId(id)) {
          this.reject('notification without an id', null);
          continue;
        }
        notificationIds.push(id);
        if (item.type !== 'mention') continue;
        status = item.status;
      }
      const result = normalizeStatus(status, this.client.localDomain);
      if (!result.ok) {
        this.reject(`${result.reason}: ${result.detail}`, null);
        continue;
      }
      const { event } = result;
      statusIds.push(event.postId);
      this.client.remember(event.postId, event.author, result.visibility);
      // tagpay's own posts (its offers and replies) are never commands; a post without `#` holds none.
      if (event.author === this.client.self || !mayMatter(event.text)) continue;
      events.push({ key: result.key, body: event });
    }
    return this.enqueue(events, statusIds, notificationIds);
  }

  /**
   * Appends events with the cursor in the same transaction, one write after another. Ids of what was
   * read advance the marks even when nothing is appended; the cursor is written with the next append.
   */
  private enqueue(
    events: NewEvent[],
    statusIds: string[],
    notificationIds: string[],
    persist = false,
  ): Promise<void> {
    const write = this.writes.then(async () => {
      const marks = this.marks;
      // After stop, a read that was still in flight appends nothing: the database may be closing.
      if (marks === null || this.stopped) return;
      const before = [marks.status.saved(), marks.notification.saved()] as const;
      for (const id of statusIds) marks.status.see(id);
      for (const id of notificationIds) marks.notification.see(id);
      const cursor = formatCursor(marks);
      if (events.length === 0 && (!persist || cursor === this.savedCursor)) return;
      try {
        const seqs = await this.deps.log.append(events, (tx) => saveCursor(tx, CURSOR, cursor));
        this.savedCursor = cursor;
        const added = seqs.filter((s) => s !== null).length;
        this.events += added;
        if (added > 0) this.lastEventAt = this.deps.clock.now();
      } catch (error) {
        // What this write carried is read back by the next backfill, which starts at `before`.
        this.failureHolds.push(marks.status.hold(before[0]), marks.notification.hold(before[1]));
        throw error;
      }
    });
    this.writes = write.catch(() => {});
    return write;
  }

  /** Something went wrong: noted, and the socket is reopened, which reads back what was missed. */
  private fail(what: string, error: unknown): void {
    if (this.stopped) return;
    this.lastError = `${what}: ${messageOf(error)}`;
    this.deps.logger.error({ err: error, network: this.network }, `mastodon: ${what}`);
    this.ws?.terminate();
  }

  private reject(reason: string, raw: string | null): void {
    this.rejected++;
    this.deps.logger.warn(
      { network: this.network, reason, sample: raw?.slice(0, 200) },
      'mastodon: message skipped',
    );
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(fn, ms);
    this.timers.add(t);
    return t;
  }

  private clear(t: NodeJS.Timeout): void {
    clearInterval(t);
    this.timers.delete(t);
  }
}

/** The streaming endpoint under the base the server announces (`wss://streaming.example`). */
export function streamingUrl(base: string): string {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/api/v1/streaming`;
  return url.toString();
}

function formatCursor(marks: Marks): string {
  return JSON.stringify({ status: marks.status.saved(), notification: marks.notification.saved() });
}

function parseCursor(raw: string): { status: string; notification: string } | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (isRecord(v) && isId(v.status) && isId(v.notification))
      return { status: v.status, notification: v.notification };
  } catch {
    // Falls through to null.
  }
  return null;
}
