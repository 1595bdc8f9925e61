import { Balances, type Posting, type Transfer } from '../core/ledger.ts';
import { GENESIS_HASH, transferHash, type ChainHead } from '../core/ledger-chain.ts';
import { LEDGER_VERIFY_PAGE_MAX } from '../core/limits.ts';
import type { Db, Sql } from '../store/db.ts';
import { big, num } from '../store/db.ts';

type Row = Record<string, unknown>;

/** Reads transfers with their postings, in chain order, from `after` (exclusive), at most `limit`. */
async function readTransfers(
  db: Sql,
  where: string,
  params: unknown[],
  limit: number,
): Promise<(Transfer & { n: bigint | null; hash: string | null })[]> {
  const { rows } = await db.query<Row>(
    `SELECT id, ref, at, n::text AS chain_n, hash FROM transfers WHERE ${where} LIMIT ${limit}`,
    params,
  );
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id as string);
  const postings = await db.query<Row>(
    `SELECT transfer_id, n, debit, credit, minor::text AS minor, currency FROM postings
     WHERE transfer_id = ANY($1::text[]) ORDER BY transfer_id, n`,
    [ids],
  );
  const byTransfer = new Map<string, Posting[]>();
  for (const p of postings.rows) {
    const list = byTransfer.get(p.transfer_id as string) ?? [];
    list.push({
      from: p.debit as string,
      to: p.credit as string,
      minor: big(p.minor),
      currency: p.currency as string,
    });
    byTransfer.set(p.transfer_id as string, list);
  }
  return rows.map((r) => ({
    id: r.id as string,
    ref: r.ref as string,
    at: num(r.at),
    n: r.chain_n === null ? null : BigInt(r.chain_n as string),
    hash: (r.hash as string | null) ?? null,
    postings: byTransfer.get(r.id as string) ?? [],
  }));
}

/**
 * The head of the hash chain, read at start. Transfers written before the chain existed (no number
 * yet) are chained first, after the last chained one, in (at, id) order, and written back.
 */
export async function loadChainHead(db: Sql): Promise<ChainHead> {
  const last = await db.query<Row>(
    'SELECT n::text AS chain_n, hash FROM transfers WHERE n IS NOT NULL ORDER BY n DESC LIMIT 1',
  );
  // (Aliased: ordered by the bigint column, not by its text, where "9" sorts after "10".)
  const head: ChainHead = last.rows[0]
    ? { n: BigInt(last.rows[0].chain_n as string), hash: last.rows[0].hash as string }
    : { n: 0n, hash: GENESIS_HASH };
  for (;;) {
    const legacy = await readTransfers(db, 'n IS NULL ORDER BY at, id', [], LEDGER_VERIFY_PAGE_MAX);
    if (legacy.length === 0) return head;
    const ids: string[] = [];
    const ns: string[] = [];
    const hashes: string[] = [];
    for (const t of legacy) {
      head.n += 1n;
      head.hash = transferHash(head.hash, head.n, t);
      ids.push(t.id);
      ns.push(head.n.toString());
      hashes.push(head.hash);
    }
    await db.query(
      `UPDATE transfers t SET n = u.n, hash = u.hash
       FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, n, hash) WHERE t.id = u.id`,
      [ids, ns, hashes],
    );
  }
}

/** What `tagpay ledger verify` found. */
export type VerifyResult =
  | { ok: true; transfers: number; accounts: number; currencies: string[]; head: string }
  | {
      ok: false;
      /** The first transfer that does not check out, or null when the fault is in the balances. */
      transferId: string | null;
      n: string | null;
      reason: string;
    };

/**
 * Recomputes the ledger from its rows: the chain from the first transfer (numbers without gaps, each
 * hash from the one before), each transfer's own invariants, every balance from the postings (compared
 * with the stored balances), and zero per currency. Reads page by page, so memory stays bounded by
 * the number of accounts, not of transfers.
 */
export async function verifyLedger(
  db: Db,
  onProgress?: (checked: number) => void,
): Promise<VerifyResult> {
  const balances = new Balances();
  let prev = GENESIS_HASH;
  let expected = 1n;
  let checked = 0;
  const unchained = await db.query<Row>('SELECT id FROM transfers WHERE n IS NULL LIMIT 1');
  if (unchained.rows[0]) {
    return {
      ok: false,
      transferId: unchained.rows[0].id as string,
      n: null,
      reason: 'has no place in the hash chain',
    };
  }
  for (;;) {
    const page = await readTransfers(
      db,
      'n >= $1 ORDER BY n',
      [expected.toString()],
      LEDGER_VERIFY_PAGE_MAX,
    );
    if (page.length === 0) break;
    for (const t of page) {
      const bad = (reason: string): VerifyResult => ({
        ok: false,
        transferId: t.id,
        n: t.n!.toString(),
        reason,
      });
      if (t.n !== expected)
        return {
          ok: false,
          transferId: t.id,
          n: t.n!.toString(),
          reason: `transfer number ${expected} is missing from the chain`,
        };
      if (t.hash !== transferHash(prev, t.n, t))
        return bad('its hash does not match its content and the transfer before it');
      if (t.postings.length === 0) return bad('it has no postings');
      for (const p of t.postings) {
        if (p.minor <= 0n || p.from === p.to) return bad('it has a malformed posting');
      }
      balances.apply(t);
      prev = t.hash;
      expected += 1n;
      checked++;
    }
    onProgress?.(checked);
  }
  const stored = await db.query<Row>(
    'SELECT account, currency, balance::text AS balance FROM balances',
  );
  const storedKeys = new Set<string>();
  for (const r of stored.rows) {
    const account = r.account as string;
    const currency = r.currency as string;
    storedKeys.add(Balances.key(account, currency));
    const want = balances.get(account, currency);
    if (big(r.balance) !== want)
      return {
        ok: false,
        transferId: null,
        n: null,
        reason: `the stored balance of ${account} in ${currency} is ${r.balance as string}, the postings give ${want}`,
      };
  }
  for (const { account, currency, balance } of balances.entries(balances.dirty)) {
    if (balance !== 0n && !storedKeys.has(Balances.key(account, currency)))
      return {
        ok: false,
        transferId: null,
        n: null,
        reason: `${account} in ${currency} has no stored balance; the postings give ${balance}`,
      };
  }
  for (const [currency, sum] of balances.sums()) {
    if (sum !== 0n)
      return {
        ok: false,
        transferId: null,
        n: null,
        reason: `${currency} balances sum to ${sum}, not zero`,
      };
  }
  return {
    ok: true,
    transfers: checked,
    accounts: storedKeys.size,
    currencies: [...balances.sums().keys()].sort(),
    head: prev,
  };
}
