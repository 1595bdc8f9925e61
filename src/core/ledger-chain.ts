import { createHash } from 'node:crypto';
import type { Transfer } from './ledger.ts';

/**
 * The ledger's hash chain. Every transfer, whoever makes it, gets the next number in the chain and a
 * SHA-256 that covers its own content and the hash of the transfer before it, so changing, removing or
 * reordering any transfer after the fact breaks every hash from that one on (a Merkle–Damgård-style
 * chain, as in Certificate Transparency logs and Formance's ledger logs). The engine chains transfers
 * in log order as it commits them; `tagpay ledger verify` recomputes the chain from the tables.
 */

/** The "previous hash" of the first transfer. */
export const GENESIS_HASH = '0'.repeat(64);

/** Where the chain stands: the last transfer's number (0 before any) and hash. */
export interface ChainHead {
  n: bigint;
  hash: string;
}

/** A transfer as the chain sees it: what is hashed, and where it sits. */
export interface ChainedTransfer extends Transfer {
  /** Its place in the chain, 1, 2, 3, … with no gaps. */
  n?: bigint;
  /** SHA-256 (hex) of the previous hash and this transfer's canonical form. */
  hash?: string;
}

/**
 * The canonical form of a transfer: a JSON array of fixed fields in a fixed order, amounts as decimal
 * strings. JSON's escaping makes the encoding unambiguous (no field can imitate a separator).
 */
export function canonicalTransfer(prevHash: string, n: bigint, t: Transfer): string {
  return JSON.stringify([
    prevHash,
    n.toString(),
    t.id,
    t.ref,
    t.at,
    t.postings.map((p) => [p.from, p.to, p.minor.toString(), p.currency]),
  ]);
}

export function transferHash(prevHash: string, n: bigint, t: Transfer): string {
  return createHash('sha256')
    .update(canonicalTransfer(prevHash, n, t))
    .digest('hex');
}

/** Numbers and hashes the transfers in order after `head`, and moves the head to the last of them. */
export function chainTransfers(head: ChainHead, transfers: readonly ChainedTransfer[]): void {
  for (const t of transfers) {
    const n = head.n + 1n;
    const hash = transferHash(head.hash, n, t);
    t.n = n;
    t.hash = hash;
    head.n = n;
    head.hash = hash;
  }
}
