import { createHash } from 'node:crypto';
import { TokenBucket } from '../connector.ts';
import { PostDelayedError, type PostRequest } from '../network.ts';
import type { RemoteClient } from '../remote.ts';
import { sleep, XApiError, XRateLimited, type XApi } from './api.ts';
import {
  X_IDEMPOTENCY_KEYS_MAX,
  X_INLINE_WAIT_MS_MAX,
  X_MARKER_CHARS,
  X_OWN_TIMELINE_PAGE_SIZE,
  X_OWN_TIMELINE_PAGES_MAX,
  X_TWEET_CHARS_MAX,
  X_POSTS_BURST,
  X_POSTS_PER_SECOND,
  X_USERNAME_CHARS_MAX,
} from './limits.ts';
import { X_NETWORK } from './normalize.ts';

const USERNAME_RE = new RegExp(`^[a-z0-9_]{1,${X_USERNAME_CHARS_MAX}}$`);
const MARKER_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const MARKER_RE = new RegExp(` ref:([a-z2-7]{${X_MARKER_CHARS}})$`);

interface TimelinePage {
  data?: { id?: unknown; text?: unknown }[];
  meta?: { next_token?: unknown };
}

/** The marker of the tweet made for an outbox key: base32 of the key's SHA-256, X_MARKER_CHARS long. */
export function markerOf(idempotencyKey: string): string {
  const digest = createHash('sha256').update(idempotencyKey).digest();
  let out = '';
  for (let i = 0; i < X_MARKER_CHARS; i++) out += MARKER_ALPHABET[digest[i]! & 31];
  return out;
}

/** The tweet's text with its marker last, the text cut (with an ellipsis) to leave room for it. */
export function withMarker(text: string, marker: string): string {
  const suffix = ` ref:${marker}`;
  const room = X_TWEET_CHARS_MAX - suffix.length;
  const chars = [...text];
  const body = chars.length <= room ? text : chars.slice(0, room - 1).join('') + '…';
  return body + suffix;
}

interface UserData {
  data?: { id?: unknown; username?: unknown };
}

/**
 * tagpay's account on X: it posts offers and replies (POST /2/tweets, OAuth 1.0a user context) and
 * resolves usernames (GET /2/users/by/username, app bearer token).
 *
 * X has no idempotency key for creating a tweet, so tagpay makes its own: every tweet ends with a
 * marker derived from the outbox row's key (` ref:` + X_MARKER_CHARS base32 letters of its SHA-256).
 * Within one process, a repeated `post` with the same key answers the tweet already made, and
 * concurrent repeats share one request. Where an earlier create may have happened without tagpay
 * knowing — the first tweets after a start (a crash between X creating the tweet and the outbox
 * marking its row done), and a retry after an unclear failure (a timeout, a 5xx, a dropped
 * connection) — tagpay first reads its own timeline (GET /2/users/:id/tweets, X_OWN_TIMELINE_PAGES_MAX
 * pages) for the marker, and answers the tweet found instead of making another. The timeline read at
 * start is kept for the process; after an unclear failure it is read again.
 */
export class XClient implements RemoteClient {
  readonly name = X_NETWORK;
  private readonly made = new Map<string, Promise<string>>();
  /** Markers of tagpay's own tweets found on its timeline, read once per process (see class doc). */
  private timeline: Promise<Map<string, string>> | null = null;
  /** Keys whose create failed in a way that does not say whether X made the tweet. */
  private readonly unclear = new Set<string>();
  private readonly bucket: TokenBucket;
  /** Until when (ms since the epoch) X told us to stop creating tweets (a 429's reset). */
  private blockedUntil = 0;

  private constructor(
    private readonly api: XApi,
    /** tagpay's numeric user id, as PostEvent.author gives authors (stable across renames). */
    readonly self: string,
    /** tagpay's username, lower case (stream rules name it). */
    readonly username: string,
  ) {
    this.bucket = new TokenBucket(X_POSTS_BURST, X_POSTS_PER_SECOND, Date.now());
  }

  /** Logs in: asks X who the user-context credentials belong to (GET /2/users/me). */
  static async open(api: XApi): Promise<XClient> {
    const me = await api.json<UserData>('GET', '2/users/me', {
      auth: 'user',
      query: { 'user.fields': 'username' },
    });
    const id = me?.data?.id;
    const username = me?.data?.username;
    if (typeof id !== 'string' || typeof username !== 'string')
      throw new Error('X answered GET /2/users/me without data.id and data.username');
    return new XClient(api, id, username.toLowerCase());
  }

  /** 429 answers waited out so far (the connector's and the client's: they share the API). */
  get rateLimitWaits(): number {
    return this.api.rateLimitWaits;
  }

  post(req: PostRequest): Promise<{ postId: string }> {
    if (req.as !== this.self) {
      // tagpay holds no other account's credentials on X: offers go out from its own account.
      return Promise.reject(
        new Error(`tagpay posts on X only as its own account (${this.self}), not as ${req.as}`),
      );
    }
    let made = this.made.get(req.idempotencyKey);
    if (made === undefined) {
      made = this.create(req);
      this.made.set(req.idempotencyKey, made);
      // A failed create is forgotten, so the outbox's retry tries again.
      made.catch(() => this.made.delete(req.idempotencyKey));
      if (this.made.size > X_IDEMPOTENCY_KEYS_MAX) {
        this.made.delete(this.made.keys().next().value as string);
      }
    }
    return made.then((postId) => ({ postId }));
  }

  private async create(req: PostRequest): Promise<string> {
    const marker = markerOf(req.idempotencyKey);
    const fresh = this.unclear.has(req.idempotencyKey);
    if (fresh || this.timeline === null) {
      const reading = this.readTimeline(fresh ? marker : null);
      this.timeline = reading;
      reading.catch(() => {
        if (this.timeline === reading) this.timeline = null;
      });
    }
    const already = (await this.timeline!).get(marker);
    if (already !== undefined) {
      this.unclear.delete(req.idempotencyKey);
      return already;
    }
    const wait = Math.max(this.blockedUntil - Date.now(), this.bucket.take(Date.now()));
    if (wait > X_INLINE_WAIT_MS_MAX) {
      throw new PostDelayedError(
        wait,
        `X posting is rate limited for ${Math.ceil(wait / 1000)} s more`,
      );
    }
    if (wait > 0) await sleep(wait);
    try {
      const res = await this.api.json<{ data?: { id?: unknown } }>('POST', '2/tweets', {
        auth: 'user',
        json: {
          text: withMarker(req.text, marker),
          ...(req.replyTo !== null && { reply: { in_reply_to_tweet_id: req.replyTo } }),
        },
      });
      const id = res?.data?.id;
      if (typeof id !== 'string') throw new Error('X answered POST /2/tweets without data.id');
      this.unclear.delete(req.idempotencyKey);
      return id;
    } catch (error) {
      if (error instanceof XRateLimited) this.blockedUntil = Date.now() + error.waitMs;
      // A 4xx other than 429 says X made nothing; anything else (a timeout, a 5xx, a dropped
      // connection) may hide a tweet that was made: the retry reads the timeline first.
      const definite = error instanceof XApiError && error.status >= 400 && error.status < 500;
      if (!definite) this.unclear.add(req.idempotencyKey);
      throw error;
    }
  }

  /**
   * tagpay's recent tweets, by marker: X_OWN_TIMELINE_PAGES_MAX pages of its timeline at most, fewer
   * when `stopAt` is found. Tweets this process makes are in `made`, so the map is not kept current.
   */
  private async readTimeline(stopAt: string | null): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    let token: string | null = null;
    for (let page = 0; page < X_OWN_TIMELINE_PAGES_MAX; page++) {
      const res: TimelinePage = await this.api.json<TimelinePage>(
        'GET',
        `2/users/${encodeURIComponent(this.self)}/tweets`,
        {
          auth: 'app',
          query: {
            max_results: String(X_OWN_TIMELINE_PAGE_SIZE),
            ...(token !== null && { pagination_token: token }),
          },
        },
      );
      for (const tweet of Array.isArray(res?.data) ? res.data : []) {
        if (typeof tweet?.id !== 'string' || typeof tweet.text !== 'string') continue;
        const m = MARKER_RE.exec(tweet.text);
        if (m !== null && !found.has(m[1]!)) found.set(m[1]!, tweet.id);
      }
      if (stopAt !== null && found.has(stopAt)) break;
      const next = res?.meta?.next_token;
      if (typeof next !== 'string') break;
      token = next;
    }
    return found;
  }

  /**
   * The account behind a username: its numeric user id (see PostEvent.author), so a username later
   * taken over by someone else is not the linked shopper. X answers an unknown user with 200 and an
   * `errors` list, not a 404.
   */
  async resolveAccount(handle: string): Promise<string | null> {
    const username = handle.replace(/^@/, '').toLowerCase();
    if (!USERNAME_RE.test(username)) return null;
    try {
      const res = await this.api.json<UserData>(
        'GET',
        `2/users/by/username/${encodeURIComponent(username)}`,
        { auth: 'app' },
      );
      const found = res?.data?.id;
      return typeof found === 'string' ? found : null;
    } catch (error) {
      if (error instanceof XApiError && (error.status === 404 || error.status === 400)) return null;
      throw error;
    }
  }
}
