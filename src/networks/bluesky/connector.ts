import { CONNECTOR_RECONNECT_MS_MAX, CONNECTOR_RECONNECT_MS_MIN } from '../../core/limits.ts';
import type { ClientRequest } from 'node:http';
import type { IdResolver } from '@atproto/identity';
import { Firehose, type Event as FirehoseEvent } from '@atproto/sync';
import WebSocket from 'ws';
import { looksLikeCode } from '../../core/codes.ts';
import { CONNECTOR_BATCH_MAX } from '../../core/limits.ts';
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
import type { FetchedPost } from './client.ts';
import {
  BLUESKY_NETWORK,
  POST_COLLECTION,
  cursorOf,
  fastReject,
  normalizeJetstream,
  normalizePostRecord,
  type PostRecordResult,
} from './jetstream.ts';

/** The connector's row in `cursors`. */
export const CURSOR_NAME = 'connector:bluesky';
/** A cursor that moved without events (posts nobody acts on) is saved at most this often. */
export const CURSOR_SAVE_MS = 1_000;
/** Jetstream is resumed this far before its saved cursor, so nothing around a drop is lost. */
export const JETSTREAM_REWIND_US = 5_000_000;
/** Messages waiting to be handled before the socket is paused (back pressure), and resumed below. */
export const QUEUE_HIGH = 2_000;
export const QUEUE_LOW = 500;
/** A Jetstream message larger than this is refused by the socket (posts are at most a few KB). */
export const JETSTREAM_MESSAGE_BYTES_MAX = 1024 * 1024;

/** Where the connector reads from: a signed firehose (subscribeRepos) or a Jetstream. */
export type BlueskySource = { kind: 'firehose'; url: string } | { kind: 'jetstream'; url: string };

/** What the connector needs of the client: re-reading a post from its author's PDS. */
export interface PostFetcher {
  fetchPost(uri: string): Promise<FetchedPost | null>;
}

/**
 * Reads Bluesky posts into the input log. From a relay's or a PDS's firehose
 * (com.atproto.sync.subscribeRepos) commits are verified against the author's signing key by
 * @atproto/sync, and the cursor is the firehose `seq`. From a Jetstream the JSON is unsigned, so a
 * post that carries something shaped like a confirmation code is re-read from its author's PDS first;
 * the cursor is Jetstream's `time_us`. Either way the cursor is saved in the transaction that
 * appends the events (and on its own, every CURSOR_SAVE_MS, when nothing matters), and a restart
 * resumes from it. Every message is handled one after another, in order.
 */
export class BlueskyConnector implements Connector {
  readonly network = BLUESKY_NETWORK;
  private state: ConnectorHealth['state'] = 'stopped';
  private lastEventAt: number | null = null;
  private events = 0;
  private reconnects = 0;
  private lastError: string | null = null;
  /** The position handled so far, and the one saved in the database. */
  private cursor: number | null = null;
  private savedCursor: number | null = null;
  private pending: NewEvent[] = [];
  /** Every message is handled in this chain, in arrival order; flushes too. */
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private stopped = true;
  private loop: Promise<void> | null = null;
  private stopCurrent: (() => void) | null = null;
  private wakeSleep: (() => void) | null = null;
  private socket: WebSocket | null = null;
  private paused = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;

  constructor(
    private readonly source: BlueskySource,
    private readonly deps: ConnectorDeps,
    private readonly fetcher: PostFetcher,
    private readonly idResolver: IdResolver,
    random: () => number = Math.random,
  ) {
    this.backoff = new Backoff(CONNECTOR_RECONNECT_MS_MIN, CONNECTOR_RECONNECT_MS_MAX, random);
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.state = 'starting';
    const saved = await loadCursor(this.deps.db, CURSOR_NAME);
    this.cursor = saved !== null && /^[0-9]{1,16}$/.test(saved) ? Number(saved) : null;
    this.savedCursor = this.cursor;
    this.timer = setInterval(() => {
      if (this.cursor !== this.savedCursor) this.enqueue(() => this.flush());
    }, CURSOR_SAVE_MS);
    this.timer.unref();
    let attempted: () => void = () => {};
    const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
    this.loop = this.run(attempted);
    await firstAttempt;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopCurrent?.();
    this.wakeSleep?.();
    await this.loop;
    this.loop = null;
    this.state = 'stopped';
  }

  health(): ConnectorHealth {
    return {
      network: this.network,
      state: this.state,
      lastEventAt: this.lastEventAt,
      cursor: this.cursor === null ? null : String(this.cursor),
      events: this.events,
      reconnects: this.reconnects,
      rateLimitWaits: 0,
      lastError: this.lastError,
    };
  }

  /** Connects, reads until the connection ends, settles what was read, and reconnects with backoff. */
  private async run(attempted: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.source.kind === 'firehose') await this.readFirehose(this.source.url, attempted);
        else await this.readJetstream(this.source.url, attempted);
      } catch (error) {
        this.fail(error);
      }
      attempted();
      // What was read is in the log, with its cursor, before the next connection starts from it.
      await this.drain();
      this.socket = null;
      this.paused = false;
      if (this.stopped) break;
      this.state = 'backoff';
      this.reconnects++;
      const delay = this.backoff.next();
      this.deps.logger.warn(
        { network: this.network, delayMs: delay, lastError: this.lastError },
        'bluesky connector reconnecting',
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeSleep = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeSleep = null;
    }
  }

  private readFirehose(service: string, attempted: () => void): Promise<void> {
    const runner = {
      getCursor: () => this.cursor ?? undefined,
      trackEvent: (_did: string, seq: number, handler: () => Promise<void>): Promise<void> =>
        this.enqueue(async () => {
          await handler();
          await this.advance(seq);
        }),
    };
    const firehose = new Firehose({
      service,
      idResolver: this.idResolver,
      runner,
      filterCollections: [POST_COLLECTION],
      excludeIdentity: true,
      excludeAccount: true,
      excludeSync: true,
      // @atproto/sync retries on its own after this delay; the connector's loop decides instead.
      subscriptionReconnectDelay: 0,
      // ws's hook for the upgrade request: the way to see the socket open (and pause it) under
      // @atproto/sync's own WebSocket handling.
      finishRequest: (request: ClientRequest, socket: WebSocket) => {
        this.watchSocket(socket, attempted);
        request.end();
      },
      handleEvent: (evt: FirehoseEvent) => this.onFirehoseEvent(evt),
      onError: (error: Error) => {
        if (error.name === 'FirehoseSubscriptionError') {
          this.fail(error);
          this.stopCurrent?.();
        } else {
          // A commit that fails verification or parsing, or a bad record: skipped, never fatal.
          this.deps.logger.warn({ err: error, network: this.network }, 'bluesky event skipped');
        }
      },
      // @atproto/ws-client reconnects by itself on network errors; hand those to the loop too.
      ...{
        onReconnectError: (error: unknown) => {
          this.fail(error);
          this.stopCurrent?.();
        },
      },
    } as ConstructorParameters<typeof Firehose>[0]);
    const done = (firehose.start() as Promise<void>).finally(() => (this.stopCurrent = null));
    this.stopCurrent = () => {
      // The abort ends the subscription; `start` resolves once it has.
      void firehose.destroy();
    };
    return done;
  }

  private readJetstream(base: string, attempted: () => void): Promise<void> {
    const url = new URL(`${base.replace(/\/+$/, '')}/subscribe`);
    url.searchParams.set('wantedCollections', POST_COLLECTION);
    if (this.cursor !== null)
      url.searchParams.set('cursor', String(Math.max(0, this.cursor - JETSTREAM_REWIND_US)));
    return new Promise<void>((resolve) => {
      const socket = new WebSocket(url, { maxPayload: JETSTREAM_MESSAGE_BYTES_MAX });
      this.watchSocket(socket, attempted);
      // A stop does not wait for the server's close handshake.
      this.stopCurrent = () => socket.terminate();
      socket.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
        if (isBinary) return;
        const raw = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
        void this.enqueue(() => this.onJetstreamMessage(raw));
      });
      socket.on('error', (error) => this.fail(error));
      socket.on('close', () => {
        this.stopCurrent = null;
        resolve();
      });
    });
  }

  private watchSocket(socket: WebSocket, attempted: () => void): void {
    this.socket = socket;
    socket.once('open', () => {
      this.state = 'live';
      this.backoff.reset();
      attempted();
    });
    socket.once('error', () => attempted());
  }

  private async onJetstreamMessage(raw: string): Promise<void> {
    const cursor = cursorOf(raw);
    if (!fastReject(raw)) {
      const result = normalizeJetstream(raw);
      if (!result.ok) {
        if (result.reason !== 'not_a_post_create') this.skip(result.reason, raw.slice(0, 200));
      } else if (result.tags.length > 0 && (await this.checkUnsigned(result))) {
        this.accept(result);
      }
    }
    if (cursor !== null) await this.advance(cursor);
  }

  private onFirehoseEvent(evt: FirehoseEvent): void {
    if (evt.event !== 'create' || evt.collection !== POST_COLLECTION) return;
    const record = evt.record as { text?: unknown };
    if (typeof record.text === 'string' && !mayMatter(record.text)) return;
    const result = normalizePostRecord(evt.did, evt.rkey, record);
    if (!result.ok) return this.skip(result.reason, evt.uri.toString());
    if (result.tags.length > 0) this.accept(result);
  }

  /**
   * Jetstream is not signed: a post that could confirm a payment is acted on only as its author's
   * PDS holds it now. A post it cannot find, or finds different, is dropped; if the PDS cannot be
   * reached the message is dropped too (the code can be posted again), never trusted.
   */
  private async checkUnsigned(result: Extract<PostRecordResult, { ok: true }>): Promise<boolean> {
    if (!result.tags.some(looksLikeCode)) return true;
    const { postId, text, replyTo } = result.event;
    try {
      const fetched = await this.fetcher.fetchPost(postId);
      if (fetched !== null && fetched.text === text && fetched.replyTo === replyTo) return true;
      this.skip('not_on_pds', postId);
    } catch (error) {
      this.skip('pds_unreachable', postId, error);
    }
    return false;
  }

  private accept(result: Extract<PostRecordResult, { ok: true }>): void {
    this.pending.push({ key: `post:bluesky:${result.event.postId}`, body: result.event });
    this.events++;
    this.lastEventAt = this.deps.clock.now();
  }

  /**
   * Records the position handled (inside the chain); events go out at once when nothing else waits,
   * or when a batch is full.
   */
  private async advance(cursor: number): Promise<void> {
    this.cursor = cursor;
    if (this.pending.length > 0 && (this.queued <= 1 || this.pending.length >= CONNECTOR_BATCH_MAX))
      await this.flush();
  }

  private skip(reason: string, what: string, error?: unknown): void {
    this.deps.logger.info(
      { network: this.network, reason, what, err: error },
      'bluesky post skipped',
    );
  }

  /**
   * Appends the pending events with the cursor in one transaction. Runs inside the chain (from
   * `advance`, the timer, `drain`), so no two flushes overlap and the cursor only moves forward.
   */
  private async flush(): Promise<void> {
    const cursor = this.cursor;
    if (cursor === null || (this.pending.length === 0 && cursor === this.savedCursor)) return;
    const events = this.pending;
    this.pending = [];
    try {
      await this.deps.log.append(events, (tx) => saveCursor(tx, CURSOR_NAME, String(cursor)));
      this.savedCursor = cursor;
    } catch (error) {
      // Not saved: the events wait for the next flush, and a restart reads them again.
      this.pending = events.concat(this.pending);
      this.fail(error);
    }
  }

  /** Adds a step to the chain, pausing the socket while too much waits. */
  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queued++;
    if (!this.paused && this.queued > QUEUE_HIGH && this.socket) {
      this.paused = true;
      this.socket.pause();
    }
    const run = this.chain.then(step).catch((error: unknown) => {
      this.deps.logger.error({ err: error, network: this.network }, 'bluesky event failed');
    });
    this.chain = run.finally(() => {
      this.queued--;
      if (this.paused && this.queued < QUEUE_LOW && this.socket) {
        this.paused = false;
        this.socket.resume();
      }
    });
    return this.chain;
  }

  /** Waits for every queued message, then saves what is left. */
  private async drain(): Promise<void> {
    await this.chain;
    await this.enqueue(() => this.flush());
  }

  private fail(error: unknown): void {
    this.lastError = error instanceof Error ? error.message || error.name : String(error);
  }
}
