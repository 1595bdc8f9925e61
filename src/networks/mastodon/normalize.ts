import { POST_TEXT_CHARS_MAX } from '../../core/limits.ts';
import type { PostEvent } from '../../engine/events.ts';

/**
 * The pure half of the Mastodon connector: one Status entity (docs.joinmastodon.org/entities/Status)
 * in, one normalized post event (or a reason) out. The sockets, the cursor and the log are the
 * connector's.
 *
 * Statuses come two ways: as documented, in snake_case, from the streaming API (`payload` is the
 * entity as a JSON string), and camel-cased by masto's REST client (`in_reply_to_id` becomes
 * `inReplyToId`). Both spellings are read, the documented one first.
 *
 * Edits. A status is keyed by its URI, which an edit keeps, so the first version tagpay sees is the
 * one that counts and every later version is a duplicate the log drops at the door. Edits are not
 * emitted as events of their own: a post is a command (a buy, a confirmation code), and an edit that
 * became a second command would let a shopper change or repeat what was already confirmed by editing
 * an old post, something nobody watching the thread would see happen. Someone who wants to act again
 * posts again. The connector also drops `status.update` stream events before they reach here.
 */

export const MASTODON_NETWORK = 'mastodon';

/** HTML content read at most; Mastodon's default is 500 characters of text, servers allow more. */
export const CONTENT_HTML_CHARS_MAX = 100_000;
/** A status URI (an ActivityPub id) read at most. */
export const STATUS_URI_CHARS_MAX = 2_048;
/** Status and notification ids: Mastodon's are decimal snowflakes; other servers use other alphabets. */
export const STATUS_ID_CHARS_MAX = 64;
/** `user@domain`: a username of at most 30 characters on Mastodon, a domain of at most 253. */
export const ACCT_CHARS_MAX = 320;

const ID_RE = /^[A-Za-z0-9_-]+$/;
/** An acct once lower-cased: a username (Mastodon allows `a-z0-9_`; other servers `.` and `-` too) and an optional domain. */
const ACCT_RE = /^[a-z0-9_][a-z0-9_.-]*(@[a-z0-9-]+(\.[a-z0-9-]+)*(:[0-9]{1,5})?)?$/;

export type MastodonRejection = 'malformed' | 'too_long' | 'not_a_status';

export type MastodonResult =
  | { ok: true; key: string; event: PostEvent; visibility: string }
  | { ok: false; reason: MastodonRejection; detail: string };

/**
 * Reads a Status entity as a post event. `localDomain` is the domain of tagpay's server, added to
 * the `acct` of its local accounts (which has no domain part). Never throws.
 */
export function normalizeStatus(status: unknown, localDomain: string): MastodonResult {
  try {
    return readStatus(status, localDomain);
  } catch (error) {
    // Parsed JSON never throws when read; an object with hostile accessors is refused the same way.
    return reject('malformed', `unreadable: ${error instanceof Error ? error.message : 'error'}`);
  }
}

function readStatus(status: unknown, localDomain: string): MastodonResult {
  if (!isRecord(status)) return reject('malformed', 'a status is an object');
  const id = field(status, 'id');
  const uri = field(status, 'uri');
  const content = field(status, 'content');
  const account = field(status, 'account');
  const replyTo = field(status, 'in_reply_to_id');
  const visibility = field(status, 'visibility');
  const editedAt = field(status, 'edited_at');
  if (!isId(id)) return reject('malformed', 'id');
  if (typeof uri !== 'string' || uri.length === 0) return reject('malformed', 'uri');
  if (uri.length > STATUS_URI_CHARS_MAX) return reject('too_long', 'uri');
  if (typeof content !== 'string') return reject('malformed', 'content');
  if (content.length > CONTENT_HTML_CHARS_MAX) return reject('too_long', 'content');
  if (replyTo !== undefined && replyTo !== null && !isId(replyTo))
    return reject('malformed', 'in_reply_to_id');
  if (visibility !== undefined && typeof visibility !== 'string')
    return reject('malformed', 'visibility');
  if (editedAt !== undefined && editedAt !== null && typeof editedAt !== 'string')
    return reject('malformed', 'edited_at');
  if (!isRecord(account)) return reject('malformed', 'account');
  const author = fullAcct(field(account, 'acct'), localDomain);
  if (author === null) return reject('malformed', 'account.acct');
  const text = htmlToText(content);
  if (text.length > POST_TEXT_CHARS_MAX) return reject('too_long', 'text');
  return {
    ok: true,
    key: `post:${MASTODON_NETWORK}:${uri}`,
    event: {
      kind: 'post',
      network: MASTODON_NETWORK,
      postId: id,
      author,
      text,
      replyTo: typeof replyTo === 'string' ? replyTo : null,
    },
    visibility: typeof visibility === 'string' ? visibility : 'public',
  };
}

/**
 * An account's `acct` as tagpay keys it: `user@domain`, ASCII letters in lower case (only ASCII is
 * folded, as `normalizeHandle` does), with `localDomain` added to a local account's. Null when it is
 * not an acct.
 */
export function fullAcct(acct: unknown, localDomain: string): string | null {
  if (typeof acct !== 'string' || acct.length === 0 || acct.length > ACCT_CHARS_MAX) return null;
  const bare = acct.startsWith('@') ? acct.slice(1) : acct;
  const lower = bare.replace(/[A-Z]+/g, (s) => s.toLowerCase());
  const full = lower.includes('@') ? lower : `${lower}@${localDomain.toLowerCase()}`;
  return full.length <= ACCT_CHARS_MAX && ACCT_RE.test(full) ? full : null;
}

/** Compares two ids: Mastodon's are decimal snowflakes (shorter is older); others sort as strings. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length && /^[0-9]+$/.test(a) && /^[0-9]+$/.test(b)) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const BLOCK_TAGS = new Set(['p', 'div', 'blockquote', 'li', 'ul', 'ol', 'pre', 'h1', 'h2', 'h3']);
const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
};
/** The longest entity read (`&#x10FFFF;` is 10 characters). */
const ENTITY_CHARS_MAX = 10;

/**
 * Mastodon's sanitized HTML as plain text: tags dropped, `<br>` a newline, paragraphs apart by a
 * blank line, entities decoded. One left-to-right pass with `indexOf`, so its time is linear in the
 * input whatever the input is (no backtracking regular expression sees the content). A `<` with no
 * `>` after it is text. The text of `<script>` and `<style>` is dropped, should a server send any.
 */
export function htmlToText(html: string): string {
  let out = '';
  let at = 0;
  let skipUntil: string | null = null;
  while (at < html.length) {
    const lt = html.indexOf('<', at);
    const end = lt === -1 ? html.length : lt;
    if (skipUntil === null && end > at) out += decodeEntities(html.slice(at, end));
    if (lt === -1) break;
    if (!startsTag(html, lt + 1)) {
      // As in HTML, a `<` not followed by a tag name, `/` or `!` is text.
      if (skipUntil === null) out += '<';
      at = lt + 1;
      continue;
    }
    const gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      if (skipUntil === null) out += decodeEntities(html.slice(lt));
      break;
    }
    const name = tagName(html, lt + 1, gt);
    at = gt + 1;
    if (skipUntil !== null) {
      if (name === skipUntil) skipUntil = null;
      continue;
    }
    if (name === 'script' || name === 'style') skipUntil = `/${name}`;
    else if (name === 'br') out += '\n';
    else if (BLOCK_TAGS.has(name.replace(/^\//, '')) && out.length > 0 && !out.endsWith('\n\n'))
      out += out.endsWith('\n') ? '\n' : '\n\n';
  }
  return out.trim();
}

function startsTag(html: string, at: number): boolean {
  const c = html.charCodeAt(at) | 0x20;
  return (c >= 0x61 && c <= 0x7a) || html[at] === '/' || html[at] === '!';
}

/** The lower-case name of the tag between `from` and `to` (`/p` for a closing tag), or ''. */
function tagName(html: string, from: number, to: number): string {
  let i = from;
  let name = '';
  if (html[i] === '/') {
    name = '/';
    i++;
  }
  for (; i < to && name.length < 16; i++) {
    const c = html.charCodeAt(i);
    const letterOrDigit =
      (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
    if (!letterOrDigit) break;
    name += String.fromCharCode(c | (c >= 0x41 && c <= 0x5a ? 0x20 : 0));
  }
  return name;
}

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  let out = '';
  let at = 0;
  for (let amp = text.indexOf('&'); amp !== -1; amp = text.indexOf('&', at)) {
    out += text.slice(at, amp);
    // The `;` is looked for within ENTITY_CHARS_MAX only: searching the whole rest of the text for
    // each `&` made a text of many `&` and no `;` quadratic (200,000 of them took seconds).
    const near = text.slice(amp + 1, amp + 1 + ENTITY_CHARS_MAX).indexOf(';');
    const semi = near === -1 ? -1 : amp + 1 + near;
    const decoded = semi !== -1 ? decodeEntity(text.slice(amp + 1, semi)) : null;
    if (decoded === null) {
      out += '&';
      at = amp + 1;
    } else {
      out += decoded;
      at = semi + 1;
    }
  }
  return out + text.slice(at);
}

function decodeEntity(name: string): string | null {
  if (name.startsWith('#')) {
    const hex = name[1] === 'x' || name[1] === 'X';
    const digits = name.slice(hex ? 2 : 1);
    if (digits.length === 0 || !(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return null;
    const code = parseInt(digits, hex ? 16 : 10);
    // NUL, surrogates and what lies past Unicode are not characters: they decode to U+FFFD.
    if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\uFFFD';
    return String.fromCodePoint(code);
  }
  return Object.hasOwn(NAMED_ENTITIES, name) ? NAMED_ENTITIES[name]! : null;
}

/** A field in its documented snake_case spelling, or camel-cased as masto's REST client gives it. */
function field(o: Record<string, unknown>, name: string): unknown {
  const value = Object.hasOwn(o, name) ? o[name] : undefined;
  if (value !== undefined) return value;
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return Object.hasOwn(o, camel) ? o[camel] : undefined;
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= STATUS_ID_CHARS_MAX && ID_RE.test(v);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reject(reason: MastodonRejection, detail: string): MastodonResult {
  return { ok: false, reason, detail };
}

/** Exposed for the connector, which reads notifications and stream messages with the same care. */
export { field as readField, isId };
