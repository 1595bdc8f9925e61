import type { Logger } from 'pino';
import { mayMatter } from '../../core/post-grammar.ts';
import type { PostEvent } from '../../engine/events.ts';
import type { NewEvent } from '../../engine/log.ts';
import {
  Backoff,
  loadCursor,
  saveCursor,
  type Connector,
  type ConnectorDeps,
  type ConnectorHealth,
} from '../connector.ts';
import { problemText, rateLimitWaitMs, sleep, XRateLimited, type XApi } from './api.ts';
import {
  X_APPEND_BATCH_MAX,
  X_BACKFILL_PAGES_MAX,
  X_RECONNECT_HTTP_MAX_MS,
  X_RECONNECT_HTTP_MIN_MS,
  X_RECONNECT_NETWORK_MAX_MS,
  X_RECONNECT_NETWORK_MIN_MS,
  X_RULES_CHECK_MS,
  X_SEARCH_PAGE_SIZE,
  X_SEARCH_QUERY_CHARS_MAX,
  X_STREAM_LINE_CHARS_MAX,
  X_STREAM_RULES_MAX,
  X_STREAM_STALL_MS,
} from './limits.ts';
import {
  compareIds,
  normalizeStreamLine,
  normalizeTweet,
  postKey,
  usersOf,
  X_NETWORK,
  type XResult,
} from './normalize.ts';

const CURSOR = 'connector:x';
const RULE_TAG_PREFIX = 'tagpay:';
const ID_RE = /^[0-9]{1,19}$/;
/** What each tweet is read with, on the stream and in search alike (docs.x.com, "Fields"). */
const TWEET_FIELDS = {
  expansions: 'author_id,referenced_tweets.id',
  'tweet.fields': 'conversation_id,entities,referenced_tweets',
  'user.fields': 'username',
};

interface Rule {
  id: string;
  value: string;
  tag?: string;
}

/**
 * Reads X through the v2 filtered stream: it keeps the stream's rules equal to what tagpay listens
 * for (one rule per live offer's hashtag, one for posts that mention or answer tagpay's account),
 * reads the stream's newline-delimited JSON, and appends each tweet as a post event with its cursor
 * (the newest tweet id seen) in the same transaction. After a reconnect (and at a start with a saved
 * cursor) it backfills what the stream missed with recent search since that id; a tweet read twice is
 * one event, since its key is its id.
 *
 * Confirmation codes are not rules (X cannot match a hashtag by prefix): a shopper's code is read when
 * the tweet mentions or replies to tagpay, as answering tagpay's reply does on X.
 */
export class XConnector implements Connector {
  readonly network = X_NETWORK;
  private state: ConnectorHealth['state'] = 'stopped';
  private lastEventAt: number | null = null;
  /** The newest tweet id appended (or skipped past); `committed` is the one in the database. */
  private cursor: string | null = null;
  private committed: string | null = null;
  private events = 0;
  private reconnects = 0;
  private lastError: string | null = null;
  /** Stream lines that were not a tweet tagpay reads (bad JSON, malformed, retweets…), by reason. */
  readonly skipped = new Map<string, number>();
  private abort: AbortController | null = null;
  private loops: Promise<void>[] = [];
  /** The rule values last made to hold on X (sorted, joined), so unchanged offers cost no call. */
  private syncedRules: string | null = null;
  private readonly logger: Logger;

  constructor(
    private readonly api: XApi,
    private readonly deps: ConnectorDeps,
    /** tagpay's username, lower case. */
    private readonly self: string,
    private readonly random: () => number = Math.random,
  ) {
    this.logger = deps.logger.child({ network: X_NETWORK });
  }

  async start(): Promise<void> {
    if (this.abort !== null) return;
    const saved = await loadCursor(this.deps.db, CURSOR);
    this.cursor = this.committed = saved !== null && ID_RE.test(saved) ? saved : null;
    this.abort = new AbortController();
    this.state = 'starting';
    const signal = this.abort.signal;
    let attempted!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (attempted = resolve));
    this.loops = [this.keepRules(signal), this.readStream(signal, attempted)];
    await firstAttempt;
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await Promise.all(this.loops);
    this.loops = [];
    this.abort = null;
    this.state = 'stopped';
  }

  health(): ConnectorHealth {
    return {
      network: X_NETWORK,
      state: this.state,
      lastEventAt: this.lastEventAt,
      cursor: this.cursor,
      events: this.events,
      reconnects: this.reconnects,
      rateLimitWaits: this.api.rateLimitWaits,
      lastError: this.lastError,
    };
  }

  /** The rules tagpay wants on the stream: value → tag. */
  wantedRules(): Map<string, string> {
    const rules = new Map<string, string>();
    const self = this.self;
    // Posts that mention tagpay or answer it: where confirmation codes and #cancel come from.
    rules.set(`(@${self} OR to:${self}) -is:retweet -from:${self}`, `${RULE_TAG_PREFIX}@${self}`);
    const tags = [...new Set(this.deps.liveHashtags())].sort();
    if (tags.length >= X_STREAM_RULES_MAX) {
      this.logger.warn(
        { hashtags: tags.length, max: X_STREAM_RULES_MAX - 1 },
        'more live hashtags than X stream rules; the rest are not followed on X',
      );
    }
    for (const tag of tags.slice(0, X_STREAM_RULES_MAX - 1)) {
      // tagpay's own offer posts carry the hashtag too: they are left out at X, not read and dropped.
      rules.set(`#${tag} -is:retweet -from:${self}`, `${RULE_TAG_PREFIX}${tag}`);
    }
    return rules;
  }

  /** Compares the wanted rules with the last synced ones every X_RULES_CHECK_MS; syncs on change. */
  private async keepRules(signal: AbortSignal): Promise<void> {
    const failures = new Backoff(X_RECONNECT_HTTP_MIN_MS / 5, X_RECONNECT_HTTP_MAX_MS, this.random);
    while (!signal.aborted) {
      let waitMs = X_RULES_CHECK_MS;
      const wanted = this.wantedRules();
      const key = [...wanted.keys()].sort().join('\n');
      if (key !== this.syncedRules) {
        try {
          await this.syncRules(wanted, signal);
          this.syncedRules = key;
          failures.reset();
        } catch (error) {
          if (signal.aborted) break;
          if (error instanceof XRateLimited) {
            this.api.rateLimitWaits++;
            waitMs = error.waitMs;
          } else waitMs = failures.next();
          this.fail(error, 'stream rules not synced');
        }
      }
      await sleep(waitMs, signal);
    }
  }

  /**
   * Makes the stream's `tagpay:` rules equal `wanted`: deletes those of ended offers, adds the new
   * ones (GET and POST /2/tweets/search/stream/rules, app bearer token). Rules with other tags are
   * the operator's and are left alone.
   */
  async syncRules(wanted: Map<string, string>, signal?: AbortSignal): Promise<void> {
    const path = '2/tweets/search/stream/rules';
    const listed = await this.api.json<{ data?: unknown }>('GET', path, {
      auth: 'app',
      ...(signal && { signal }),
    });
    const existing = (Array.isArray(listed?.data) ? listed.data : []).filter(
      (r: unknown): r is Rule =>
        typeof r === 'object' &&
        r !== null &&
        typeof (r as Rule).id === 'string' &&
        typeof (r as Rule).value === 'string',
    );
    const stale = existing
      .filter((r) => r.tag?.startsWith(RULE_TAG_PREFIX) && !wanted.has(r.value))
      .map((r) => r.id);
    const have = new Set(existing.map((r) => r.value));
    const add = [...wanted]
      .filter(([value]) => !have.has(value))
      .map(([value, tag]) => ({ value, tag }));
    if (stale.length > 0) {
      await this.api.json('POST', path, {
        auth: 'app',
        json: { delete: { ids: stale } },
        ...(signal && { signal }),
      });
    }
    if (add.length > 0) {
      const res = await this.api.json<{ errors?: unknown }>('POST', path, {
        auth: 'app',
        json: { add },
        ...(signal && { signal }),
      });
      // A rule X already holds (added by another tagpay process) is fine; anything else is not.
      const errors = Array.isArray(res?.errors) ? res.errors : [];
      const refused = errors.filter(
        (e: unknown) =>
          !(
            typeof e === 'object' &&
            e !== null &&
            (e as { title?: unknown }).title === 'DuplicateRule'
          ),
      );
      if (refused.length > 0)
        throw new Error(`X refused stream rules: ${problemText({ errors: refused })}`);
    }
    if (stale.length + add.length > 0)
      this.logger.info({ added: add.length, removed: stale.length }, 'stream rules synced');
  }

  /** The stream's reading loop: connect, read until it drops, back off, reconnect and backfill. */
  private async readStream(signal: AbortSignal, attempted: () => void): Promise<void> {
    const network = new Backoff(
      X_RECONNECT_NETWORK_MIN_MS,
      X_RECONNECT_NETWORK_MAX_MS,
      this.random,
    );
    const http = new Backoff(X_RECONNECT_HTTP_MIN_MS, X_RECONNECT_HTTP_MAX_MS, this.random);
    while (!signal.aborted) {
      let waitMs: number;
      const connection = new AbortController();
      const onStop = () => connection.abort();
      signal.addEventListener('abort', onStop, { once: true });
      try {
        const res = await this.api.fetch('GET', '2/tweets/search/stream', {
          auth: 'app',
          query: TWEET_FIELDS,
          signal: connection.signal,
        });
        if (res.status === 429) {
          await res.body?.cancel();
          waitMs = rateLimitWaitMs(res.headers, Date.now());
          this.api.rateLimitWaits++;
          this.lastError = `stream rate limited (429); waiting ${Math.ceil(waitMs / 1000)} s`;
          this.logger.warn({ waitMs }, 'stream rate limited');
        } else if (!res.ok) {
          const text = await res.text().catch(() => '');
          waitMs = http.next();
          let body: unknown = null;
          try {
            body = JSON.parse(text);
          } catch {}
          this.lastError = `stream answered ${res.status}: ${problemText(body) ?? text.slice(0, 200)}`;
          this.logger.warn({ status: res.status, waitMs }, 'stream refused');
        } else {
          this.state = 'live';
          network.reset();
          http.reset();
          attempted();
          const backfill = this.cursor === null ? null : this.backfill(this.cursor, signal);
          try {
            await this.read(res, connection);
          } finally {
            // One backfill at a time: a connection that drops mid-backfill waits for it.
            await backfill;
          }
          waitMs = network.next();
          if (!signal.aborted) this.lastError = 'stream ended';
        }
      } catch (error) {
        waitMs = network.next();
        if (!signal.aborted) this.fail(error, 'stream failed');
      } finally {
        signal.removeEventListener('abort', onStop);
        connection.abort();
      }
      attempted();
      if (signal.aborted) break;
      this.state = 'backoff';
      await sleep(waitMs, signal);
      if (!signal.aborted) this.reconnects++;
    }
    this.state = 'stopped';
  }

  /**
   * Reads one stream connection to its end: lines separated by `\r\n`, a blank one a keep-alive.
   * With nothing at all for X_STREAM_STALL_MS the connection is dropped, to be reopened.
   */
  private async read(res: Response, connection: AbortController): Promise<void> {
    if (res.body === null) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    // An abort does not always settle a read pending on a piped body (seen with undici on Node 20:
    // stop() then waited for ever); cancelling the reader ends that read at once.
    const onAbort = () => void reader.cancel().catch(() => {});
    if (connection.signal.aborted) onAbort();
    connection.signal.addEventListener('abort', onAbort, { once: true });
    let stall = setTimeout(() => connection.abort(new Error('stream stalled')), X_STREAM_STALL_MS);
    let buffer = '';
    let skipping = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        clearTimeout(stall);
        stall = setTimeout(() => connection.abort(new Error('stream stalled')), X_STREAM_STALL_MS);
        buffer += value;
        const lines: string[] = [];
        for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (skipping) skipping = false;
          else if (line !== '') lines.push(line);
        }
        if (buffer.length > X_STREAM_LINE_CHARS_MAX) {
          // Far longer than any tweet: dropped up to its end, never parsed.
          this.skip('too_long');
          buffer = '';
          skipping = true;
        }
        if (lines.length > 0) await this.take(lines.map(normalizeStreamLine));
      }
    } finally {
      clearTimeout(stall);
      connection.signal.removeEventListener('abort', onAbort);
      reader.cancel().catch(() => {});
    }
  }

  /** Appends what the stream (or a search) gave; the cursor moves past everything read. */
  private async take(results: XResult[]): Promise<void> {
    const events: NewEvent[] = [];
    let newest: string | null = null;
    for (const r of results) {
      if (!r.ok) {
        this.skip(r.reason);
        if (r.reason === 'stream_error')
          this.logger.warn({ detail: r.detail }, 'stream error message');
        continue;
      }
      if (compareIds(r.event.postId, newest) > 0) newest = r.event.postId;
      // Without a `#` a post holds no command (mayMatter): it stops at the door, as on every network.
      if (!mayMatter(r.event.text)) continue;
      events.push({ key: postKey(r.event.postId), body: { ...r.event, authorId: r.authorId } });
    }
    await this.append(events, newest);
  }

  private async append(events: NewEvent[], newest: string | null): Promise<void> {
    if (events.length === 0 && compareIds(newest, this.cursor) <= 0) return;
    for (let at = 0; at === 0 || at < events.length; at += X_APPEND_BATCH_MAX) {
      const batch = events.slice(at, at + X_APPEND_BATCH_MAX);
      let batchNewest = at + X_APPEND_BATCH_MAX >= events.length ? newest : null;
      for (const e of batch) {
        const id = (e.body as PostEvent).postId;
        if (compareIds(id, batchNewest) > 0) batchNewest = id;
      }
      let moved: string | null = null;
      try {
        // Appends are serialized by the log, so the cursor read and moved here is never a stale one.
        const seqs = await this.deps.log.append(batch, async (tx) => {
          if (batchNewest === null || compareIds(batchNewest, this.cursor) <= 0) return;
          moved = this.cursor = batchNewest;
          await saveCursor(tx, CURSOR, batchNewest);
        });
        if (moved !== null) this.committed = moved;
        const added = seqs.filter((s) => s !== null).length;
        if (added > 0) {
          this.events += added;
          this.lastEventAt = this.deps.clock.now();
        }
      } catch (error) {
        this.cursor = this.committed;
        throw error;
      }
    }
  }

  /**
   * Backfill after a reconnect: GET /2/tweets/search/recent since the cursor, with the wanted rules
   * OR-ed into as few queries as fit X_SEARCH_QUERY_CHARS_MAX, at most X_BACKFILL_PAGES_MAX pages
   * each. Recent search covers the last 7 days; older gaps cannot be filled and are logged.
   */
  private async backfill(since: string, signal: AbortSignal): Promise<void> {
    try {
      for (const query of searchQueries([...this.wantedRules().keys()])) {
        const results: XResult[] = [];
        let next: string | null = null;
        let pages = 0;
        do {
          const page: SearchPage = await this.api.json<SearchPage>(
            'GET',
            '2/tweets/search/recent',
            {
              auth: 'app',
              signal,
              query: {
                query,
                since_id: since,
                max_results: String(X_SEARCH_PAGE_SIZE),
                ...TWEET_FIELDS,
                ...(next !== null && { next_token: next }),
              },
            },
          );
          const users = usersOf(page?.includes);
          for (const tweet of Array.isArray(page?.data) ? page.data : [])
            results.push(normalizeTweet(tweet, users));
          next = typeof page?.meta?.next_token === 'string' ? page.meta.next_token : null;
        } while (next !== null && ++pages < X_BACKFILL_PAGES_MAX && !signal.aborted);
        if (next !== null)
          this.logger.warn(
            { since, pages },
            'backfill stopped at its page limit; older tweets missed',
          );
        // Search answers newest first; the log gets them in the order they were posted.
        const read = results.filter((r) => r.ok);
        read.sort((a, b) => compareIds(a.event.postId, b.event.postId));
        await this.take([...results.filter((r) => !r.ok), ...read]);
      }
    } catch (error) {
      if (!signal.aborted) this.fail(error, 'backfill failed');
    }
  }

  private skip(reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }

  private fail(error: unknown, what: string): void {
    this.lastError = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    this.logger.warn({ err: error }, what);
  }
}

interface SearchPage {
  data?: unknown;
  includes?: unknown;
  meta?: { next_token?: unknown };
}

/** Rule values OR-ed into queries of at most X_SEARCH_QUERY_CHARS_MAX characters each. */
export function searchQueries(values: string[]): string[] {
  const queries: string[] = [];
  let current = '';
  for (const value of values) {
    const part = `(${value})`;
    if (current !== '' && current.length + 4 + part.length > X_SEARCH_QUERY_CHARS_MAX) {
      queries.push(current);
      current = '';
    }
    current = current === '' ? part : `${current} OR ${part}`;
  }
  if (current !== '') queries.push(current);
  return queries;
}
