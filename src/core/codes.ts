import { createHash } from 'node:crypto';
import { CODE_CHARS } from './limits.ts';

/** RFC 4648 base32 letters, lower case: no 0/1/8/9, so no O-0 or I-1 confusion when typed. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Every confirmation code starts with these letters, so the grammar tells codes from offers. */
export const CODE_PREFIX = 'tp';
const CODE_RE = new RegExp(`^${CODE_PREFIX}[a-z2-7]{${CODE_CHARS}}$`);

/** Random bytes from the caller: the core never reads randomness itself. */
export type RandomBytes = (count: number) => Uint8Array;

/** Encodes random bytes as base32 letters, 5 bits a letter. */
export function base32(bytes: Uint8Array, letters: number): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < letters) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (out.length < letters) throw new Error('base32: not enough random bytes');
  return out;
}

/** A new confirmation code (lower case, without `#`): prefix + 10 letters = 50 bits of randomness. */
export function newCode(random: RandomBytes): string {
  return CODE_PREFIX + base32(random(Math.ceil((CODE_CHARS * 5) / 8)), CODE_CHARS);
}

/** True when a lower-cased hashtag has the shape of a confirmation code. */
export function looksLikeCode(tag: string): boolean {
  return CODE_RE.test(tag);
}

/** Codes are stored and looked up only by this hash; the code itself lives in the shopper's messages. */
export function hashCode(code: string): string {
  return createHash('sha256').update(code.toLowerCase()).digest('base64url');
}

/** How a code is shown in posts and e-mails: `#TP7K2QX4MZBA`. */
export function displayCode(code: string): string {
  return '#' + code.toUpperCase();
}

/** A prefixed random id such as `ord_k3x9m2q7abcd` (60 bits). */
export function newId(prefix: string, random: RandomBytes): string {
  return `${prefix}_${base32(random(8), 12)}`;
}

/** A secret API key or token: prefix + 40 letters (200 bits). Stored only as its sha256. */
export function newSecret(prefix: string, random: RandomBytes): string {
  return `${prefix}_${base32(random(25), 40)}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
