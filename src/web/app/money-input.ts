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
