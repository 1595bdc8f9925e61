import { TokenBucket } from '../connector.ts';
import { PostDelayedError, type PostRequest } from '../network.ts';
import type { RemoteClient } from '../remote.ts';
import { sleep, XApiError, XRateLimited, type XApi } from './api.ts';
import {
  X_IDEMPOTENCY_KEYS_MAX,
  X_INLINE_WAIT_MS_MAX,
  X_POSTS_BURST,
  X_POSTS_PER_SECOND,
  X_USERNAME_CHARS_MAX,
} from './limits.ts';
import { X_NETWORK } from './normalize.ts';

const USERNAME_RE = new RegExp(`^[a-z0-9_]{1,${X_USERNAME_CHARS_MAX}}$`);

interface UserData {
  data?: { id?: unknown; username?: unknown };
}

/**
 * tagpay's account on X: it posts offers and replies (POST /2/tweets, OAuth 1.0a user context) and
 * resolves usernames (GET /2/users/by/username, app bearer token).
 *
 * X has no idempotency key for creating a tweet. Within one process, a repeated `post` with the same
 * idempotency key (the outbox row's key) answers the tweet already made, and concurrent repeats share
 * one request. That memory is lost when tagpay stops: **a crash after X created the tweet and before
 * the outbox marked its row done makes the outbox post it again, so the reply is duplicated** (X
 * refuses an exact duplicate text from the same account for a while, which is then retried and ends in
 * the outbox's dead letters; the replies tagpay sends mostly carry a code or an order id, so most
 * repeats would be refused, but that is not a guarantee).
 */
export class XClient implements RemoteClient {
  readonly name = X_NETWORK;
  private readonly made = new Map<string, Promise<string>>();
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
          text: req.text,
          ...(req.replyTo !== null && { reply: { in_reply_to_tweet_id: req.replyTo } }),
        },
      });
      const id = res?.data?.id;
      if (typeof id !== 'string') throw new Error('X answered POST /2/tweets without data.id');
      return id;
    } catch (error) {
      if (error instanceof XRateLimited) this.blockedUntil = Date.now() + error.waitMs;
      throw error;
    }
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
