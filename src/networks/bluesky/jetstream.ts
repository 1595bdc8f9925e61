import { HASHTAGS_PER_POST_MAX, POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import { readHashtags } from '../../core/post-grammar.ts';
import type { PostEvent } from '../../engine/events.ts';

/**
 * Bluesky's Jetstream (github.com/bluesky-social/jetstream) turns the AT Protocol firehose into one
 * JSON object per WebSocket message: `{ did, time_us, kind: 'commit' | 'identity' | 'account', … }`,
 * a commit carrying `{ rev, operation: 'create' | 'update' | 'delete', collection, rkey, record?, cid? }`.
 * This module is the pure half of the Bluesky connector: one raw message in, one normalized post event
 * (or a reason) out. The socket, the cursor and the log are the connector's.
 *
 * The firehose is the whole network, and tagpay acts on a tiny part of it, so most messages must stop
 * at `fastReject`, on the raw string, before any parsing.
 */

export const BLUESKY_NETWORK = 'bluesky';
export const POST_COLLECTION = 'app.bsky.feed.post';
const TAG_FEATURE = 'app.bsky.richtext.facet#tag';
/** The atproto DID syntax (atproto.com/specs/did); a DID is at most 2 KB. */
const DID_RE = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/;
const DID_CHARS_MAX = 2 * 1024;
/** The atproto record key syntax (atproto.com/specs/record-key): `.` and `..` are not keys. */
const RKEY_RE = /^[A-Za-z0-9._:~-]{1,512}$/;
/** An AT URI is at most 8 KB (atproto.com/specs/at-uri-scheme). */
const AT_URI_CHARS_MAX = 8 * 1024;
const ASCII_TAG_RE = /^[A-Za-z0-9_]+$/;

export type JetstreamRejection = 'not_json' | 'not_a_post_create' | 'malformed' | 'too_long';

export type JetstreamResult =
  | { ok: true; event: PostEvent; cursor: number; tags: string[] }
  | { ok: false; reason: JetstreamRejection };

/**
 * True when the raw message cannot hold anything tagpay acts on, so it is dropped without
 * `JSON.parse`. The engine acts only on ASCII hashtags in a post's text (`readTags`), so a message
 * is kept only when some `#` is followed by an ASCII letter, digit or `_` and is not glued to a word
 * before it. That drops the `#` of NSID fragments (`app.bsky.richtext.facet#mention`), of URLs
 * (`/page#top`, `/#top`), of `C# `, of `#️⃣` and of foreign hashtags (`#日本`), which are most of the
 * `#`s on the firehose. It errs towards keeping: a message it keeps may still match nothing.
 *
 * It relies on how Jetstream writes JSON (Go's encoding/json): `#` and ASCII letters and digits are
 * never escaped, so a hashtag of the text appears as itself in the raw message. The character before
 * it may be the tail of an escape (`\n#Buy`, or `\u003e#Buy` since Go escapes `<`, `>` and `&`): then it
 * is not the text's own and the `#` is kept.
 */
export function fastReject(raw: string): boolean {
  for (let at = raw.indexOf('#'); at !== -1; at = raw.indexOf('#', at + 1)) {
    if (!isAsciiWord(raw.charCodeAt(at + 1))) continue;
    const before = raw.charCodeAt(at - 1);
    // readTags' boundary: a hashtag does not follow a letter, a digit, `_`, `&` or `/`.
    if (isAsciiWord(before) || before === 0x26 || before === 0x2f) {
      if (raw.charCodeAt(at - 2) === 0x5c) return false; // `\n`, `\t`, `\/`…: an escape's tail.
      if (raw.charCodeAt(at - 6) === 0x5c && raw.charCodeAt(at - 5) === 0x75) return false; // `\uXXXX`.
      continue;
    }
    // The start of the message, punctuation, a space, a quote or any non-ASCII character: keep it.
    return false;
  }
  return true;
}

/**
 * Reads one Jetstream message as a post event: the creation of an `app.bsky.feed.post` record. Any
 * other message (identity, account, a like, an edit or a deletion) is `not_a_post_create`. A post
 * whose required fields are missing or of the wrong type is `malformed`; a facet that is broken or of
 * a type tagpay does not read is skipped, since it never changes what the text says. Never throws.
 *
 * `tags` are the ASCII hashtags the post shows, lower-cased: those of its text (`readTags`), then
 * those of its `#tag` facets whose bytes in the text are exactly `#` and the tag, so a facet cannot
 * carry a hashtag the post does not show.
 */
export function normalizeJetstream(raw: string): JetstreamResult {
  let msg: unknown;
  try {
    msg = JSON.parse(raw);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  if (!isRecord(msg) || typeof msg.kind !== 'string') return MALFORMED;
  if (msg.kind !== 'commit') return NOT_A_POST_CREATE;
  const commit = msg.commit;
  if (
    !isRecord(commit) ||
    typeof commit.operation !== 'string' ||
    typeof commit.collection !== 'string'
  ) {
    return MALFORMED;
  }
  if (commit.operation !== 'create' || commit.collection !== POST_COLLECTION)
    return NOT_A_POST_CREATE;

  const { did, time_us: cursor } = msg;
  const { rkey, record } = commit;
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < 0) return MALFORMED;
  const post = normalizePostRecord(did, rkey, record);
  return post.ok ? { ...post, cursor } : post;
}

export type PostRecordResult =
  | { ok: true; event: PostEvent; tags: string[] }
  | { ok: false; reason: Exclude<JetstreamRejection, 'not_json' | 'not_a_post_create'> };

/**
 * Reads the creation of one `app.bsky.feed.post` record, however it arrived (a Jetstream message, a
 * firehose commit, a record re-read from its PDS): its author's DID, its record key and the record.
 * The checks and the `tags` are those `normalizeJetstream` documents. Never throws.
 */
export function normalizePostRecord(
  did: unknown,
  rkey: unknown,
  record: unknown,
): PostRecordResult {
  if (typeof did !== 'string' || did.length > DID_CHARS_MAX || !DID_RE.test(did)) return MALFORMED;
  if (typeof rkey !== 'string' || !RKEY_RE.test(rkey) || rkey === '.' || rkey === '..')
    return MALFORMED;
  if (!isRecord(record) || typeof record.text !== 'string') return MALFORMED;
  if (record.$type !== undefined && record.$type !== POST_COLLECTION) return MALFORMED;
  const text = record.text;
  if (text.length > POST_TEXT_CHARS_MAX) return TOO_LONG;

  let replyTo: string | null = null;
  if (record.reply !== undefined) {
    // app.bsky.feed.post#replyRef: both refs are required; a reply we cannot place is not guessed at.
    const reply = record.reply;
    if (!isRecord(reply) || !isRecord(reply.parent) || !isRecord(reply.root)) return MALFORMED;
    const uri = reply.parent.uri;
    if (typeof uri !== 'string' || !uri.startsWith('at://') || uri.length > AT_URI_CHARS_MAX)
      return MALFORMED;
    replyTo = uri;
  }

  // Without a `#` the text has no hashtag, so it is not read at all.
  const tags = text.includes('#') ? readHashtags(text).tags : [];
  if (Array.isArray(record.facets)) addFacetTags(tags, text, record.facets);
  return {
    ok: true,
    event: {
      kind: 'post',
      network: BLUESKY_NETWORK,
      postId: `at://${did}/${POST_COLLECTION}/${rkey}`,
      author: did,
      text,
      replyTo,
    },
    tags,
  };
}

/**
 * The `time_us` of a raw message without parsing it, so a connector can save its cursor past the
 * messages `fastReject` drops. Jetstream writes the top-level fields first (`did`, `time_us`, `kind`)
 * and a key inside a string would have escaped quotes, so the first `"time_us":` is the top-level one.
 */
export function cursorOf(raw: string): number | null {
  const key = '"time_us":';
  const at = raw.indexOf(key);
  if (at === -1) return null;
  let end = at + key.length;
  let value = 0;
  for (let c = raw.charCodeAt(end); c >= 0x30 && c <= 0x39; c = raw.charCodeAt(++end)) {
    value = value * 10 + (c - 0x30);
  }
  if (end === at + key.length || !Number.isSafeInteger(value)) return null;
  return value;
}

const MALFORMED = Object.freeze({ ok: false, reason: 'malformed' } as const);
const NOT_A_POST_CREATE = Object.freeze({ ok: false, reason: 'not_a_post_create' } as const);
const TOO_LONG = Object.freeze({ ok: false, reason: 'too_long' } as const);

/**
 * Adds the tags of well-formed `#tag` facets (app.bsky.richtext.facet) to `tags`. Facet indexes count
 * UTF-8 bytes of the text, end exclusive.
 */
function addFacetTags(tags: string[], text: string, facets: unknown[]): void {
  for (const facet of facets) {
    if (tags.length >= HASHTAGS_PER_POST_MAX) return;
    if (!isRecord(facet) || !isRecord(facet.index) || !Array.isArray(facet.features)) continue;
    const { byteStart, byteEnd } = facet.index;
    if (!Number.isSafeInteger(byteStart) || !Number.isSafeInteger(byteEnd)) continue;
    const start = byteStart as number;
    const end = byteEnd as number;
    for (const feature of facet.features) {
      if (!isRecord(feature) || feature.$type !== TAG_FEATURE || typeof feature.tag !== 'string')
        continue;
      const tag = feature.tag;
      // Only plain ASCII hashtags can match, as in readTags: a look-alike stays out. ASCII is one byte
      // a character, so the facet spans exactly `#` and the tag.
      if (!ASCII_TAG_RE.test(tag) || end - start !== tag.length + 1) continue;
      const at = utf16Index(text, start);
      if (at < 0 || !text.startsWith('#' + tag, at)) continue;
      const lower = tag.toLowerCase();
      if (!tags.includes(lower)) tags.push(lower);
      if (tags.length >= HASHTAGS_PER_POST_MAX) return;
    }
  }
}

/**
 * Where UTF-8 byte `offset` of `text` falls in its UTF-16 code units, or -1 when it falls inside a
 * character or past the end. Counts as Buffer and TextEncoder encode (a lone surrogate is U+FFFD,
 * 3 bytes) without encoding the text.
 */
function utf16Index(text: string, offset: number): number {
  if (offset < 0) return -1;
  let bytes = 0;
  let i = 0;
  while (bytes < offset && i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
    i++;
  }
  return bytes === offset ? i : -1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ASCII letters, digits and `_` (NaN, past either end of the string, is not). */
function isAsciiWord(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f
  );
}
