import { createRestAPIClient, MastoHttpError, type mastodon } from 'masto';
import { TokenBucket } from '../connector.ts';
import { PostDelayedError, type PostRequest } from '../network.ts';
import type { RemoteClient } from '../remote.ts';
import { fullAcct } from './normalize.ts';

/**
 * Outgoing posts per account: Mastodon allows 300 statuses per 3 hours per account
 * (docs.joinmastodon.org/api/rate-limits), so a burst of 30 and the rest spread over the window.
 */
export const POST_BURST = 30;
export const POSTS_PER_SECOND = 300 / (3 * 60 * 60);
/**
 * The longest a post waits in here (for the bucket or a 429's reset) before it fails and the outbox
 * retries it later with its own backoff, so one busy account never holds an outbox worker for long.
 */
export const POST_WAIT_MS_MAX = 60_000;
/** Every REST call gives up after this long. */
export const REST_TIMEOUT_MS = 30_000;
/** Authors and visibilities of statuses read, kept so a reply needs no lookup. */
export const KNOWN_STATUSES_MAX = 10_000;

/** Counters shared with the connector's health. */
export interface MastodonStats {
  rateLimitWaits: number;
}

type Visibility = 'public' | 'unlisted' | 'private' | 'direct';
const VISIBILITY_ORDER: Visibility[] = ['direct', 'private', 'unlisted', 'public'];

/**
 * tagpay's account on a Mastodon server (or another server with Mastodon's API), through masto's
 * REST client. Posts carry the outbox row's key as `Idempotency-Key`, which Mastodon honours for
 * `POST /api/v1/statuses` (it remembers a key for an hour): a retried post is one status.
 */
export class MastodonClient implements RemoteClient {
  readonly name = 'mastodon';
  private readonly bucket: TokenBucket;
  /** Statuses seen by the connector: who wrote them and how visible they are (bounded, oldest out). */
  private readonly known = new Map<string, { acct: string; visibility: string }>();

  private constructor(
    readonly rest: mastodon.rest.Client,
    /** tagpay's account, `user@domain` (see PostEvent.author). */
    readonly self: string,
    /** The server's own domain, added to local accounts' `acct`. */
    readonly localDomain: string,
    /** The streaming API's base URL, as the server announces it. */
    readonly streamingUrl: string,
    readonly stats: MastodonStats,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {
    this.bucket = new TokenBucket(POST_BURST, POSTS_PER_SECOND, Date.now());
  }

  /**
   * Logs in: checks the token (verify_credentials) and reads the server's domain and streaming URL
   * (GET /api/v2/instance). A refused token is an Error that says so.
   */
  static async login(
    url: string,
    token: string,
    stats: MastodonStats = { rateLimitWaits: 0 },
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ): Promise<MastodonClient> {
    const rest = createRestAPIClient({ url, accessToken: token, timeout: REST_TIMEOUT_MS });
    let me: mastodon.v1.AccountCredentials;
    try {
      me = await rest.v1.accounts.verifyCredentials();
    } catch (error) {
      if (error instanceof MastoHttpError && (error.statusCode === 401 || error.statusCode === 403))
        throw new Error(
          `mastodon: ${url} refused TAGPAY_MASTODON_TOKEN (HTTP ${error.statusCode}: ${error.message}); give the token of tagpay's account with the read and write scopes`,
          { cause: error },
        );
      throw new Error(`mastodon: cannot log in at ${url}: ${messageOf(error)}`, { cause: error });
    }
    // The domain in `user@domain` is the server's LOCAL_DOMAIN, which may differ from the host it is
    // served from (WEB_DOMAIN): the instance entity says which. An old server without v2 falls back.
    let domain = new URL(url).hostname;
    let streaming = url;
    try {
      const instance = await rest.v2.instance.fetch();
      if (typeof instance.domain === 'string' && instance.domain !== '') domain = instance.domain;
      const announced = instance.configuration?.urls?.streaming;
      if (typeof announced === 'string' && announced !== '') streaming = announced;
    } catch {
      // Kept: the URL's host and the REST URL are what most servers use.
    }
    const self = fullAcct(me.acct, domain);
    if (self === null) throw new Error(`mastodon: the server gave an unreadable acct "${me.acct}"`);
    return new MastodonClient(rest, self, domain.toLowerCase(), streaming, stats, sleep);
  }

  /**
   * A handle as Mastodon writes it, `user@domain` in lower case (`@alice`, `alice` and
   * `Alice@Example.social` alike): a handle without a domain is an account of tagpay's server.
   */
  async resolveAccount(handle: string): Promise<string | null> {
    return fullAcct(handle.trim(), this.localDomain);
  }

  /** Remembers a status the connector read, so replying to it needs no lookup. */
  remember(statusId: string, acct: string, visibility: string): void {
    if (this.known.has(statusId)) return;
    this.known.set(statusId, { acct, visibility });
    if (this.known.size > KNOWN_STATUSES_MAX) this.known.delete(this.known.keys().next().value!);
  }

  /**
   * Posts as tagpay. A reply mentions the author of the status it answers (Mastodon notifies only
   * the accounts a status mentions) and is never more visible than that status: an answer to a
   * direct message is a direct message.
   */
  async post(req: PostRequest): Promise<{ postId: string }> {
    if (req.as !== this.self)
      throw new Error(`mastodon: tagpay posts only as ${this.self}, not as ${req.as}`);
    let text = req.text;
    let visibility: Visibility = req.direct === true ? 'direct' : 'public';
    if (req.replyTo !== null) {
      const parent = await this.statusInfo(req.replyTo);
      visibility = leastVisible(parent.visibility);
      const mention = `@${parent.acct}`;
      if (parent.acct !== this.self && !text.toLowerCase().includes(mention.toLowerCase()))
        text = `${mention} ${text}`;
    }
    await this.takeToken();
    for (;;) {
      try {
        const status = await this.rest.v1.statuses.create(
          { status: text, inReplyToId: req.replyTo, visibility },
          { requestInit: { headers: { 'Idempotency-Key': req.idempotencyKey } } },
        );
        return { postId: status.id };
      } catch (error) {
        const wait = rateLimitWaitMs(error);
        if (wait === null) throw error;
        if (wait > POST_WAIT_MS_MAX)
          throw new PostDelayedError(
            wait,
            `mastodon: rate limited for ${Math.ceil(wait / 1000)} s`,
            {
              cause: error,
            },
          );
        this.stats.rateLimitWaits++;
        await this.sleep(wait);
      }
    }
  }

  private async takeToken(): Promise<void> {
    for (;;) {
      const wait = this.bucket.take(Date.now());
      if (wait === 0) return;
      if (wait > POST_WAIT_MS_MAX)
        throw new PostDelayedError(
          wait,
          `mastodon: ${POST_BURST} posts in flight; next in ${wait} ms`,
        );
      this.stats.rateLimitWaits++;
      await this.sleep(wait);
    }
  }

  private async statusInfo(id: string): Promise<{ acct: string; visibility: string }> {
    const known = this.known.get(id);
    if (known) return known;
    const status = await this.rest.v1.statuses.$select(id).fetch();
    const acct = fullAcct(status.account.acct, this.localDomain) ?? status.account.acct;
    // Mastodon resolves `@user@its-own-domain` as a local mention, so the full acct serves for both.
    return { acct, visibility: status.visibility };
  }
}

/** The reply's visibility: public at most, and never more visible than the status it answers. */
function leastVisible(parent: string): Visibility {
  const at = VISIBILITY_ORDER.indexOf(parent as Visibility);
  return at === -1 ? 'direct' : VISIBILITY_ORDER[at]!;
}

/**
 * How long a 429 asks to wait: until `X-RateLimit-Reset` (an ISO 8601 time), else `Retry-After`
 * seconds, else a minute. Null for any other error.
 */
export function rateLimitWaitMs(error: unknown, now = Date.now()): number | null {
  if (!(error instanceof MastoHttpError) || error.statusCode !== 429) return null;
  const response = error.cause instanceof Response ? error.cause : null;
  const reset = response?.headers.get('x-ratelimit-reset');
  if (reset) {
    const at = Date.parse(reset);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  const retryAfter = Number(response?.headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter * 1000;
  return 60_000;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
