import { POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import type { PostEvent } from '../../engine/events.ts';
import { X_ID_DIGITS_MAX, X_USERNAME_CHARS_MAX } from './limits.ts';

/**
 * The pure half of the X connector: one X API v2 tweet (with the `includes` it came with) in, one
 * normalized post event (or a reason) out. The stream, the cursor and the log are the connector's.
 *
 * A filtered-stream message and a recent-search page are shaped alike (docs.x.com, "Fields and
 * expansions"): `data` is the tweet (or a list of them), `includes.users` the users the expansion
 * `author_id` pulled in, and the stream adds `matching_rules: [{ id, tag }]`.
 *
 * The post's author is the tweet author's username, lower case, without `@`: that is what shoppers and
 * merchants type and what the engine matches. A username can change (and a freed one can be taken by
 * someone else), which the numeric user id cannot; it is returned as `authorId` so the connector can
 * log it, until PostEvent has a field for it (see the report with this adapter).
 */

export const X_NETWORK = 'x';

const ID_RE = new RegExp(`^[0-9]{1,${X_ID_DIGITS_MAX}}$`);
const USERNAME_RE = new RegExp(`^[A-Za-z0-9_]{1,${X_USERNAME_CHARS_MAX}}$`);

export type XRejection =
  | 'not_json'
  | 'malformed'
  | 'retweet'
  | 'unknown_author'
  | 'too_long'
  /**
   * A later version of an edited tweet (X gives an edit a new id, its `edit_history_tweet_ids`
   * starting with the original's): the first version is the one that counts, as on Mastodon, so an
   * edit never changes what was bought or confirmed.
   */
  | 'edit'
  /** An `{ errors: [...] }` envelope without `data`: X telling the stream's reader something. */
  | 'stream_error';

export type XResult =
  | { ok: true; event: PostEvent; authorId: string }
  | { ok: false; reason: XRejection; detail?: string };

export interface XUser {
  id: string;
  username: string;
}

/** Reads one line of the filtered stream (a keep-alive blank line is the caller's). Never throws. */
export function normalizeStreamLine(line: string): XResult {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  return normalizeStreamMessage(message);
}

/** Reads one parsed filtered-stream message. Never throws. */
export function normalizeStreamMessage(message: unknown): XResult {
  if (!isRecord(message)) return MALFORMED;
  if (message.data === undefined && Array.isArray(message.errors)) {
    const first: unknown = message.errors[0];
    const detail = isRecord(first)
      ? [first.title, first.detail].filter((s) => typeof s === 'string').join(': ')
      : '';
    return { ok: false, reason: 'stream_error', detail };
  }
  return normalizeTweet(message.data, usersOf(message.includes));
}

/** The users of an `includes` object, by id; broken entries are skipped. */
export function usersOf(includes: unknown): Map<string, XUser> {
  const users = new Map<string, XUser>();
  if (!isRecord(includes) || !Array.isArray(includes.users)) return users;
  for (const u of includes.users) {
    if (!isRecord(u) || typeof u.id !== 'string' || typeof u.username !== 'string') continue;
    if (!ID_RE.test(u.id) || !USERNAME_RE.test(u.username)) continue;
    users.set(u.id, { id: u.id, username: u.username });
  }
  return users;
}

/**
 * Reads one tweet object. A retweet is ignored (its text is someone else's words, and the original
 * was read when it was posted); a quote is read as the quoter's own post. A tweet whose author is
 * not in `users` cannot be attributed and is `unknown_author`.
 */
export function normalizeTweet(tweet: unknown, users: Map<string, XUser>): XResult {
  if (!isRecord(tweet)) return MALFORMED;
  const { id, text, author_id: authorId } = tweet;
  if (typeof id !== 'string' || !ID_RE.test(id)) return MALFORMED;
  if (typeof text !== 'string') return MALFORMED;
  if (typeof authorId !== 'string' || !ID_RE.test(authorId)) return MALFORMED;
  const history = tweet.edit_history_tweet_ids;
  if (history !== undefined) {
    if (!Array.isArray(history) || history.some((h) => typeof h !== 'string' || !ID_RE.test(h)))
      return MALFORMED;
    if (history.length > 0 && history[0] !== id) return EDIT;
  }
  let replyTo: string | null = null;
  if (tweet.referenced_tweets !== undefined) {
    if (!Array.isArray(tweet.referenced_tweets)) return MALFORMED;
    for (const ref of tweet.referenced_tweets) {
      if (!isRecord(ref) || typeof ref.type !== 'string') return MALFORMED;
      if (typeof ref.id !== 'string' || !ID_RE.test(ref.id)) return MALFORMED;
      if (ref.type === 'retweeted') return RETWEET;
      if (ref.type === 'replied_to') replyTo = ref.id;
    }
  }
  const author = users.get(authorId);
  if (author === undefined) return UNKNOWN_AUTHOR;
  const decoded = decodeEntities(text);
  if (decoded.length > POST_TEXT_CHARS_MAX) return TOO_LONG;
  return {
    ok: true,
    event: {
      kind: 'post',
      network: X_NETWORK,
      postId: id,
      // The numeric id, not the username: a username can be given up and taken by someone else,
      // who must not inherit the old owner's linked card.
      author: authorId,
      text: decoded,
      replyTo,
    },
    authorId,
  };
}

/**
 * X's v2 API returns tweet text with `&`, `<` and `>` as HTML entities (a habit kept from v1.1); the
 * engine reads what the author typed.
 */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|lt|gt);/g, (_, name: string) =>
    name === 'amp' ? '&' : name === 'lt' ? '<' : '>',
  );
}

/** The log key of a tweet's post event: a tweet delivered twice (stream and backfill) is one event. */
export function postKey(tweetId: string): string {
  return `post:${X_NETWORK}:${tweetId}`;
}

/** Compares two tweet ids (snowflakes, so in time order) as numbers; null is the smallest. */
export function compareIds(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const MALFORMED = Object.freeze({ ok: false, reason: 'malformed' } as const);
const RETWEET = Object.freeze({ ok: false, reason: 'retweet' } as const);
const UNKNOWN_AUTHOR = Object.freeze({ ok: false, reason: 'unknown_author' } as const);
const TOO_LONG = Object.freeze({ ok: false, reason: 'too_long' } as const);
const EDIT = Object.freeze({ ok: false, reason: 'edit' } as const);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
