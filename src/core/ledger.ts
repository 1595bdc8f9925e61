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
  /** Stored value a shopper holds, per currency; never negative. Keyed by shopper id, not handle. */
  wallet: (shopperId: string) => `wallet:${shopperId}`,
  /** Where the money of every pending hold sits until the hold is posted or voided. */
  pending: () => 'holds:pending',
  /** What tagpay owes the holders of gift cards not yet redeemed. */
  giftCards: () => 'liability:gift_cards',
  /** Paid out to the merchant's bank: money leaves tagpay, so it only grows. */
  paidOut: (merchantId: string) => `payouts:${merchantId}`,
};

/**
 * A hold: a two-phase pending transfer (TigerBeetle's pending transfers). Creating it moves the money
 * from `debit` into `holds:pending`; it then ends exactly once, posted (to a credit account chosen at
 * posting, e.g. the wallet of a recipient who linked later) or voided (back to `debit`). A hold is
 * never edited: its resolution is a new transfer and a new row.
 */
export interface Hold {
  id: string;
  /** What it is for, e.g. a payment id. */
  ref: string;
  debit: string;
  minor: bigint;
  currency: string;
  at: number;
  expiresAt: number | null;
}

/** The transfer that opens a hold. */
export function holdTransfer(hold: Hold, transferId: string): Transfer {
  return {
    id: transferId,
    ref: hold.id,
    at: hold.at,
    postings: [
      { from: hold.debit, to: accounts.pending(), minor: hold.minor, currency: hold.currency },
    ],
  };
}

/** The transfer that ends a hold: posted to `credit`, or voided back to its debit account. */
export function resolveTransfer(
  hold: Hold,
  kind: 'post' | 'void',
  credit: string,
  transferId: string,
  at: number,
): Transfer {
  const to = kind === 'void' ? hold.debit : credit;
  return {
    id: transferId,
    ref: hold.id,
    at,
    postings: [{ from: accounts.pending(), to, minor: hold.minor, currency: hold.currency }],
  };
}

/** Accounts that may never go below zero: wallets and the pending holds. */
export function isNonNegativeAccount(account: string): boolean {
  return account.startsWith('wallet:') || account === 'holds:pending';
}

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

  /**
   * Applies a transfer. Throws on a malformed one, or on one that would take a wallet or the pending
   * holds below zero: that is a bug (the engine checks funds first), not an outcome.
   */
  apply(transfer: Transfer): void {
    assertTransfer(transfer);
    const out = new Map<string, bigint>();
    for (const p of transfer.postings) {
      if (!isNonNegativeAccount(p.from)) continue;
      const key = Balances.key(p.from, p.currency);
      out.set(key, (out.get(key) ?? 0n) + p.minor);
      if (this.get(p.from, p.currency) < out.get(key)!)
        throw new Error(`ledger: transfer ${transfer.id} takes ${p.from} below zero`);
    }
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

  /** Throws if a wallet or the pending holds are below zero (read back at load). */
  assertNonNegative(): void {
    for (const [key, balance] of this.byKey) {
      const account = key.slice(0, key.lastIndexOf('|'));
      if (balance < 0n && isNonNegativeAccount(account))
        throw new Error(`ledger: ${key} is ${balance}, below zero`);
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
