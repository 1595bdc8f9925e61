/**
 * The double-entry ledger's pure half. A transfer moves money between accounts as postings; every
 * posting debits one account and credits another by the same amount, so the sum of all balances in a
 * currency is zero, always (Formance's layout, TigerBeetle's assertions).
 */

export interface Posting {
  from: string;
  to: string;
  minor: bigint;
  currency: string;
}

export interface Transfer {
  id: string;
  /** What caused it, e.g. an order id. */
  ref: string;
  at: number;
  postings: Posting[];
}

/** Account names. Ids inside them carry their prefix, so the names never collide. */
export const accounts = {
  /** The shopper's card: money comes in from outside, so it goes negative. */
  funding: (shopperId: string) => `funding:${shopperId}`,
  /** What tagpay owes the merchant. */
  payable: (merchantId: string) => `payable:${merchantId}`,
  fees: () => 'fees:platform',
  /** Paid out to the merchant's bank: money leaves tagpay, so it only grows. */
  paidOut: (merchantId: string) => `payouts:${merchantId}`,
};

/** Balances per account and currency, kept in memory by the engine. */
export class Balances {
  private readonly byKey = new Map<string, bigint>();
  readonly dirty = new Set<string>();

  static key(account: string, currency: string): string {
    return `${account}|${currency}`;
  }

  get(account: string, currency: string): bigint {
    return this.byKey.get(Balances.key(account, currency)) ?? 0n;
  }

  load(account: string, currency: string, balance: bigint): void {
    this.byKey.set(Balances.key(account, currency), balance);
  }

  /** Applies a transfer. Throws on a malformed one: that is a bug, not an outcome. */
  apply(transfer: Transfer): void {
    assertTransfer(transfer);
    for (const p of transfer.postings) {
      this.add(p.from, p.currency, -p.minor);
      this.add(p.to, p.currency, p.minor);
    }
  }

  private add(account: string, currency: string, delta: bigint): void {
    const key = Balances.key(account, currency);
    this.byKey.set(key, (this.byKey.get(key) ?? 0n) + delta);
    this.dirty.add(key);
  }

  /** Sum of balances per currency: every value must be zero. */
  sums(): Map<string, bigint> {
    const sums = new Map<string, bigint>();
    for (const [key, balance] of this.byKey) {
      const currency = key.slice(key.lastIndexOf('|') + 1);
      sums.set(currency, (sums.get(currency) ?? 0n) + balance);
    }
    return sums;
  }

  assertZeroSum(): void {
    for (const [currency, sum] of this.sums()) {
      if (sum !== 0n) throw new Error(`ledger: ${currency} balances sum to ${sum}, not zero`);
    }
  }

  /** Every balance held, for whole-ledger scans (a payout run). */
  all(): { account: string; currency: string; balance: bigint }[] {
    return this.entries(this.byKey.keys());
  }

  entries(keys: Iterable<string>): { account: string; currency: string; balance: bigint }[] {
    const out = [];
    for (const key of keys) {
      const cut = key.lastIndexOf('|');
      out.push({
        account: key.slice(0, cut),
        currency: key.slice(cut + 1),
        balance: this.byKey.get(key) ?? 0n,
      });
    }
    return out;
  }
}

/**
 * A transfer's own invariants: not empty, positive amounts, two distinct accounts per posting. Each
 * posting debits and credits the same amount, so a well-formed transfer balances by construction.
 */
export function assertTransfer(transfer: Transfer): void {
  if (transfer.postings.length === 0) throw new Error(`ledger: transfer ${transfer.id} is empty`);
  for (const p of transfer.postings) {
    if (p.minor <= 0n)
      throw new Error(`ledger: transfer ${transfer.id} has a non-positive posting`);
    if (p.from === p.to) throw new Error(`ledger: transfer ${transfer.id} posts to itself`);
  }
}
