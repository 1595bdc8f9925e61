import { AMOUNT_MINOR_MAX } from './limits.ts';
import { exponentOf, isCurrency, type Money } from './money.ts';
import { normalizeHandle } from './post-grammar.ts';

/**
 * The amounts people write in posts: `$10`, `10 USD`, `€10`, `10,50 €`, `EUR 10`, or a bare `10` in
 * the sender's default currency. Pure: the grammar of `#pay` and `#request` lives here, with its
 * closed list of reasons a post is refused (each has a reply text in replies.ts and an API code).
 */

/** Currency symbols tagpay reads. `$` is the US dollar: other dollars are written with their code. */
export const CURRENCY_SYMBOLS: Readonly<Record<string, string>> = {
  $: 'USD',
  US$: 'USD',
  '€': 'EUR',
  '£': 'GBP',
  '¥': 'JPY',
  '₩': 'KRW',
  '₹': 'INR',
  R$: 'BRL',
  C$: 'CAD',
  A$: 'AUD',
  CHF: 'CHF',
};

export type AmountError =
  | 'missing'
  | 'invalid'
  | 'negative'
  | 'zero'
  | 'too_many_decimals'
  | 'too_large'
  | 'unknown_currency';

export type AmountParse =
  | { ok: true; money: Money; explicit: boolean; consumed: number }
  | { ok: false; reason: AmountError; text: string };

const NUMBER_RE = /^[0-9]{1,15}(?:[.,][0-9]{1,15})?$/;
const CODE_RE = /^[A-Za-z]{3}$/;
/** Any currency sign in Unicode (Sc), so `₿10` is an unknown currency rather than free text. */
const CURRENCY_SIGN_RE = /\p{Sc}/u;
/** A token that tries to be an amount: digits, or a currency sign next to something. */
const AMOUNT_LIKE_RE = /^(?:[^\s\d]{0,3})?[-+−]?[0-9][0-9.,eE+\-−]*(?:[^\s\d]{0,3})?$/u;

/** Converts `10`, `10.5`, `10,50` to minor units of the currency, or says why it cannot. */
export function toMinor(number: string, currency: string): AmountParse {
  if (/^[-−]/.test(number)) return { ok: false, reason: 'negative', text: number };
  if (!NUMBER_RE.test(number)) return { ok: false, reason: 'invalid', text: number };
  const [whole, fraction = ''] = number.split(/[.,]/);
  const exponent = exponentOf(currency);
  if (fraction.length > exponent) return { ok: false, reason: 'too_many_decimals', text: number };
  const minor = BigInt(whole! + fraction.padEnd(exponent, '0'));
  if (minor === 0n) return { ok: false, reason: 'zero', text: number };
  if (minor > AMOUNT_MINOR_MAX) return { ok: false, reason: 'too_large', text: number };
  return { ok: true, money: { minor, currency }, explicit: true, consumed: 1 };
}

function currencyOf(word: string): string | null | 'unknown' {
  if (Object.hasOwn(CURRENCY_SYMBOLS, word)) return CURRENCY_SYMBOLS[word]!;
  if (CODE_RE.test(word)) {
    const code = word.toUpperCase();
    if (isCurrency(code)) return code;
    // Three capitals are a currency code nobody here knows; three lower-case letters are a word.
    return word === code ? 'unknown' : null;
  }
  if (CURRENCY_SIGN_RE.test(word)) return 'unknown';
  return null;
}

/**
 * Reads an amount from the first words of `words` (one or two of them): `$10`, `10$`, `€10`,
 * `10 USD`, `10,50 €`, `EUR 10`, `10`. `consumed` says how many words it took.
 */
export function readAmount(words: readonly string[], defaultCurrency: string): AmountParse {
  const first = words[0];
  if (first === undefined || first === '') return { ok: false, reason: 'missing', text: '' };
  const second = words[1];
  // `EUR 10`, `€ 10`
  const lead = currencyOf(first);
  if (lead !== null && second !== undefined && /^[-−+]?[0-9]/.test(second)) {
    if (lead === 'unknown') return { ok: false, reason: 'unknown_currency', text: first };
    return withConsumed(toMinor(second, lead), 2);
  }
  // A sign or code glued before or after the number: `$10`, `€10`, `10€`, `US$5`, `$-5`.
  const glued = /^([^\s\d.,+\-−]{1,3})?([-−+]?[0-9][0-9.,eE+\-−]*)([^\s\d.,+\-−]{1,3})?$/u.exec(
    first,
  );
  if (glued && (glued[1] !== undefined || glued[3] !== undefined)) {
    const sign = glued[1] ?? glued[3]!;
    if (glued[1] !== undefined && glued[3] !== undefined)
      return { ok: false, reason: 'invalid', text: first };
    const currency = currencyOf(sign);
    if (currency === null || currency === 'unknown')
      return { ok: false, reason: 'unknown_currency', text: first };
    return withConsumed(toMinor(glued[2]!, currency), 1);
  }
  if (!/^[-−+]?[0-9]/.test(first)) {
    return AMOUNT_LIKE_RE.test(first) || CURRENCY_SIGN_RE.test(first)
      ? { ok: false, reason: 'unknown_currency', text: first }
      : { ok: false, reason: 'missing', text: first };
  }
  // `10 USD`, `10,50 €`, or a bare number in the default currency.
  const trail = second === undefined ? null : currencyOf(second);
  if (trail === 'unknown') return { ok: false, reason: 'unknown_currency', text: second! };
  if (trail !== null) return withConsumed(toMinor(first, trail), 2);
  const bare = toMinor(first, defaultCurrency);
  return bare.ok ? { ...bare, explicit: false, consumed: 1 } : bare;
}

function withConsumed(result: AmountParse, consumed: number): AmountParse {
  return result.ok ? { ...result, consumed } : result;
}

/** Parses a whole amount text (the API's `amount`): nothing may follow the amount. */
export function parseAmountText(text: string, defaultCurrency: string): AmountParse {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0 || words.length > 2) {
    return words.length === 0
      ? { ok: false, reason: 'missing', text }
      : { ok: false, reason: 'invalid', text };
  }
  const result = readAmount(words, defaultCurrency);
  if (result.ok && result.consumed !== words.length) return { ok: false, reason: 'invalid', text };
  return result;
}

export type PayRefusal =
  AmountError | 'no_recipient' | 'unknown_network' | 'self_payment' | 'memo_too_long';

export type PayParse =
  | {
      ok: true;
      kind: 'pay' | 'request';
      /** The other party, as mentioned: `bob`, or `bob@server.example` on Mastodon. */
      counterparty: string;
      money: Money;
      memo: string;
    }
  | { ok: false; kind: 'pay' | 'request'; reason: PayRefusal; text: string };

/** Memo text kept with a payment. */
export const MEMO_CHARS_MAX = 200;

/**
 * Reads `#pay @bob $10 pizza` or `#request @alice 10 EUR lunch`: the first mention after the hashtag
 * is the other party, the words after it the amount, the rest the memo. `mentionHasDomain` tells
 * whether a mention names another server: on a network whose handles have no `@domain` (local,
 * Bluesky, X), such a mention is a handle on a network tagpay cannot pay to.
 */
export function readPayCommand(
  text: string,
  kind: 'pay' | 'request',
  defaultCurrency: string,
  network: string,
): PayParse {
  const tag = new RegExp(`(?<![\\p{L}\\p{N}_&/])#${kind}(?![\\p{L}\\p{N}_])`, 'iu').exec(text);
  const rest = tag === null ? '' : text.slice(tag.index + tag[0].length);
  const words = rest.trim().split(/\s+/).filter(Boolean);
  const mentionAt = words.findIndex((w) => w.startsWith('@'));
  if (mentionAt < 0) return { ok: false, kind, reason: 'no_recipient', text: '' };
  const mention = words[mentionAt]!.replace(/[.,!?;:]+$/, '');
  const handle = normalizeHandle(mention);
  if (!/^[a-z0-9_][a-z0-9_.-]{0,63}(?:@[a-z0-9-]+(?:\.[a-z0-9-]+)+)?$/i.test(handle))
    return { ok: false, kind, reason: 'no_recipient', text: mention };
  if (handle.includes('@') && network !== 'mastodon')
    return { ok: false, kind, reason: 'unknown_network', text: mention };
  // The amount may come before or after the mention: `#pay $10 @bob` reads too.
  const others = words.filter((_, i) => i !== mentionAt);
  const amount = readAmount(others, defaultCurrency);
  if (!amount.ok) return { ok: false, kind, reason: amount.reason, text: amount.text };
  const memo = others
    .slice(amount.consumed)
    .filter((w) => !w.startsWith('#'))
    .join(' ')
    .trim();
  if (memo.length > MEMO_CHARS_MAX) return { ok: false, kind, reason: 'memo_too_long', text: '' };
  return { ok: true, kind, counterparty: handle.toLowerCase(), money: amount.money, memo };
}
