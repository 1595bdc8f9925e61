import { exponentOf, isCurrency } from '../../core/money.ts';

/** Digits before the decimal point a typed amount may have (the API caps the amount itself). */
export const AMOUNT_WHOLE_DIGITS_MAX = 12;

/**
 * What a person typed in an amount field, in the currency's major unit ("10", "10.50", "1,250.00",
 * "10,50", "$10"), as integer minor units in a string, or null when it is not an amount in that
 * currency. Exact: the digits are moved, never multiplied as floats. A comma is a decimal comma only
 * when one or two digits follow it ("10,50"); "1,250" is read as thousands only with a decimal point
 * after ("1,250.00"), else refused as ambiguous.
 */
export function parseMajor(text: string, currency: string): string | null {
  const exponent = isCurrency(currency) ? exponentOf(currency) : 2;
  let s = text.replace(/\s/g, '').replace(/^[$€£¥]/, '');
  if (/^\d{1,3}(,\d{3})+\.\d+$/.test(s)) s = s.replace(/,/g, '');
  else if (/^\d+,\d{1,2}$/.test(s)) s = s.replace(',', '.');
  const m = new RegExp(`^(\\d{1,${AMOUNT_WHOLE_DIGITS_MAX}})(?:\\.(\\d+))?$`).exec(s);
  if (!m) return null;
  const frac = m[2] ?? '';
  if (frac.length > exponent) return null;
  const minor = BigInt(m[1]!) * 10n ** BigInt(exponent) + BigInt(frac.padEnd(exponent, '0') || '0');
  return minor > 0n ? minor.toString() : null;
}

/** A price typed in a form: its minor units, or what to tell the person beside the field. */
export type PriceField = { ok: true; minor: string } | { ok: false; problem: string };

/**
 * Reads a price field with parseMajor, so every form reads amounts alike: "10,50" is 10.50 (a
 * decimal comma, never 1050 units), and "1,250" is refused as ambiguous rather than guessed.
 */
export function readPrice(text: string, currency: string): PriceField {
  const minor = parseMajor(text, currency);
  if (minor !== null) return { ok: true, minor };
  if (/^\s*[$€£¥]?\s*\d{1,3}(,\d{3})+\s*$/.test(text))
    return {
      ok: false,
      problem: `"${text.trim()}" could be thousands or a decimal comma: write 1250 or 12.50.`,
    };
  return { ok: false, problem: 'A price like 25, 24.99 or 24,99.' };
}
