import { AMOUNT_MINOR_MAX } from './limits.ts';

/** An amount of money: integer minor units and an ISO 4217 currency. Never a float. */
export interface Money {
  minor: bigint;
  currency: string;
}

/** ISO 4217 currencies tagpay accepts, with their minor-unit exponent. */
export const CURRENCY_EXPONENTS: Readonly<Record<string, number>> = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  CHF: 2,
  CAD: 2,
  AUD: 2,
  NZD: 2,
  SEK: 2,
  NOK: 2,
  DKK: 2,
  PLN: 2,
  CZK: 2,
  MXN: 2,
  BRL: 2,
  INR: 2,
  SGD: 2,
  HKD: 2,
  JPY: 0,
  KRW: 0,
};

export function isCurrency(code: string): boolean {
  return Object.hasOwn(CURRENCY_EXPONENTS, code);
}

export function exponentOf(currency: string): number {
  const exponent = CURRENCY_EXPONENTS[currency];
  if (exponent === undefined) throw new Error(`unknown currency ${currency}`);
  return exponent;
}

/** Minor units in one major unit of the currency (100 for USD, 1 for JPY). */
export function minorPerMajor(currency: string): bigint {
  return 10n ** BigInt(exponentOf(currency));
}

export type ParseAmountResult =
  { ok: true; minor: bigint } | { ok: false; reason: 'invalid' | 'range' };

/** Parses a wire amount in minor units: a non-negative safe integer or a string of digits. */
export function parseMinor(value: unknown): ParseAmountResult {
  let minor: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return { ok: false, reason: 'invalid' };
    minor = BigInt(value);
  } else if (typeof value === 'string' && /^[0-9]{1,19}$/.test(value)) {
    minor = BigInt(value);
  } else {
    return { ok: false, reason: 'invalid' };
  }
  if (minor <= 0n || minor > AMOUNT_MINOR_MAX) return { ok: false, reason: 'range' };
  return { ok: true, minor };
}

/**
 * Formats money for people, with the currency's minor units and thousands separators: `$25.00`,
 * `$1,025.00`, `€3.50`, `¥1,200`, otherwise `1,200.00 CHF`. The one formatter of replies, e-mails,
 * API messages and the web pages.
 */
export function formatMoney(money: Money): string {
  const exponent = exponentOf(money.currency);
  const negative = money.minor < 0n;
  const abs = negative ? -money.minor : money.minor;
  const unit = 10n ** BigInt(exponent);
  const major = groupThousands((abs / unit).toString());
  const fraction = exponent === 0 ? '' : '.' + (abs % unit).toString().padStart(exponent, '0');
  const symbol: Record<string, string> = { USD: '$', EUR: '€', GBP: '£', JPY: '¥' };
  const sign = negative ? '-' : '';
  const s = symbol[money.currency];
  return s ? `${sign}${s}${major}${fraction}` : `${sign}${major}${fraction} ${money.currency}`;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** The platform fee of an amount, rounded down, in basis points. */
export function feeOf(minor: bigint, feeBps: number): bigint {
  return (minor * BigInt(feeBps)) / 10_000n;
}
