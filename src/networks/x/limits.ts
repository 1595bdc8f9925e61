/**
 * The X adapter's limits, each with its unit last (see core/limits.ts for the rest of tagpay's). They
 * live beside the adapter because they describe X's API (docs.x.com), not tagpay's domain.
 */

/** A tweet id or user id is a decimal snowflake (a 64-bit integer): at most 19 digits. */
export const X_ID_DIGITS_MAX = 19;
/** X usernames are 1 to 15 letters, digits or `_` (older accounts can be shorter than today's 4). */
export const X_USERNAME_CHARS_MAX = 15;

/** One filtered-stream message; a longer line (none legitimate comes close) is dropped unread. */
export const X_STREAM_LINE_CHARS_MAX = 1024 * 1024;
/**
 * X sends a keep-alive blank line every 20 seconds on the filtered stream; with nothing at all for
 * this long the connection is treated as dead and reopened (X's guidance: reconnect when it stalls).
 */
export const X_STREAM_STALL_MS = 40_000;
/** Posts appended to the log in one transaction with the cursor. */
export const X_APPEND_BATCH_MAX = 500;

/** Rules on one stream: X's Pro tier allows 1,000 (Enterprise more); hashtags past it are not followed. */
export const X_STREAM_RULES_MAX = 1_000;
/** How often the wanted rules (the live offers' hashtags) are compared with the ones set, in memory. */
export const X_RULES_CHECK_MS = 500;

/** Recent search: at most 100 tweets a page (max_results 10–100), and this many pages per query. */
export const X_SEARCH_PAGE_SIZE = 100;
export const X_BACKFILL_PAGES_MAX = 10;
/** A recent-search query is at most 512 characters on the self-serve tiers (4,096 on Pro). */
export const X_SEARCH_QUERY_CHARS_MAX = 512;

/**
 * X's reconnection guidance for streams: after a network error back off linearly from 250 ms to
 * 16 s; after an HTTP error exponentially from 5 s to 320 s. Both are done with full jitter here.
 */
export const X_RECONNECT_NETWORK_MIN_MS = 250;
export const X_RECONNECT_NETWORK_MAX_MS = 16_000;
export const X_RECONNECT_HTTP_MIN_MS = 5_000;
export const X_RECONNECT_HTTP_MAX_MS = 320_000;
/** After a 429, wait until x-rate-limit-reset, but never less than this nor more than the max. */
export const X_RATE_LIMIT_WAIT_MS_MIN = 1_000;
export const X_RATE_LIMIT_WAIT_MS_MAX = 15 * 60 * 1000;
/** A REST call rate limited for at most this long waits and retries inline; past it, it fails. */
export const X_INLINE_WAIT_MS_MAX = 60_000;
export const X_RATE_LIMIT_RETRIES_MAX = 2;
/** Every REST call gives up after this long (the stream has its own stall timer). */
export const X_REQUEST_TIMEOUT_MS = 30_000;

/**
 * Outgoing tweets: X allows a user 100 creates per 15 minutes (and fewer per day on the lower tiers);
 * the bucket lets a burst of 10 out, then one every 9 seconds.
 */
export const X_POSTS_BURST = 10;
export const X_POSTS_PER_SECOND = 100 / (15 * 60);
/**
 * Before a tweet whose earlier create may have happened (the first tweets of a process, and any retry
 * after an unclear failure), tagpay's own timeline (GET /2/users/:id/tweets, newest first) is read
 * this many pages of X_OWN_TIMELINE_PAGE_SIZE deep for the tweet's marker; X serves the newest 3,200.
 */
export const X_OWN_TIMELINE_PAGES_MAX = 5;
export const X_OWN_TIMELINE_PAGE_SIZE = 100;
/** Characters of the marker tagpay appends to each tweet (` ref:` + base32 of the outbox key's hash). */
export const X_MARKER_CHARS = 8;
/** A tweet is at most 280 characters (weighted; tagpay's texts are plain ASCII and one line). */
export const X_TWEET_CHARS_MAX = 280;
/** Idempotency keys remembered (oldest forgotten first); see XClient.post. */
export const X_IDEMPOTENCY_KEYS_MAX = 50_000;

if (X_OWN_TIMELINE_PAGE_SIZE < 5 || X_OWN_TIMELINE_PAGE_SIZE > 100)
  throw new Error('max_results of a user timeline is 5–100');
if (X_SEARCH_PAGE_SIZE < 10 || X_SEARCH_PAGE_SIZE > 100) throw new Error('max_results is 10–100');
if (X_RATE_LIMIT_WAIT_MS_MIN > X_INLINE_WAIT_MS_MAX) throw new Error('rate-limit waits disagree');
if (X_RECONNECT_NETWORK_MIN_MS > X_RECONNECT_NETWORK_MAX_MS) throw new Error('backoff disagrees');
if (X_RECONNECT_HTTP_MIN_MS > X_RECONNECT_HTTP_MAX_MS) throw new Error('backoff disagrees');
