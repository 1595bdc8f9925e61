import { createHash } from 'node:crypto';
import { base32, type RandomBytes } from './codes.ts';
import { GIFT_CODE_CHARS } from './limits.ts';

/**
 * Gift card codes: `GC-` and 16 base32 letters in groups of four (80 bits of randomness, from the
 * caller's randomness as every code is). A code is shown to its buyer once and stored only as its
 * SHA-256, so a database leak gives nobody a card.
 */
export function newGiftCode(random: RandomBytes): string {
  const letters = base32(
    random(Math.ceil((GIFT_CODE_CHARS * 5) / 8)),
    GIFT_CODE_CHARS,
  ).toUpperCase();
  return `GC-${letters.match(/.{4}/g)!.join('-')}`;
}

/** The canonical form of a code as typed: case, spaces and dashes do not matter. Null if malformed. */
export function normalizeGiftCode(text: string): string | null {
  const compact = text.replace(/[\s-]/g, '').toUpperCase();
  const re = new RegExp(`^GC[A-Z2-7]{${GIFT_CODE_CHARS}}$`);
  return re.test(compact) ? compact : null;
}

export function hashGiftCode(canonical: string): string {
  return createHash('sha256').update(`giftcard:${canonical}`).digest('base64url');
}
