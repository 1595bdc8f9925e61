import { createHmac, timingSafeEqual } from 'node:crypto';
import { AMOUNT_MINOR_MAX, IMPORT_BATCH_ROWS } from '../core/limits.ts';
import { isCurrency } from '../core/money.ts';
import type { CardTransactionEvent } from '../engine/events.ts';
import type { InputLog } from '../engine/log.ts';

/**
 * Card transactions from the processor, for card-linked offers: by its signed webhook or a settlement
 * file. Both become the same log event keyed `txn:<transaction id>`, so a transaction seen twice (by
 * webhook and in the file, or in a file imported again) is one event and earns at most one credit.
 */

/** The columns of a settlement file, in this order, after a header line naming them. */
export const SETTLEMENT_COLUMNS = [
  'transaction_id',
  'type',
  'card_token',
  'merchant_id',
  'amount',
  'currency',
  'occurred_at',
  'original_transaction_id',
] as const;

export type TransactionFields = Record<(typeof SETTLEMENT_COLUMNS)[number], unknown>;

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
const TOKEN_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Reads one transaction (a webhook's JSON or a file's row); an error names the bad field. */
export function readTransaction(
  f: Partial<TransactionFields>,
): { ok: true; event: CardTransactionEvent } | { ok: false; field: string; message: string } {
  const bad = (field: string, message: string) => ({ ok: false as const, field, message });
  const id = f.transaction_id;
  if (typeof id !== 'string' || !ID_RE.test(id))
    return bad('transaction_id', 'is 1 to 64 letters, digits, _ . : or -');
  if (f.type !== 'purchase' && f.type !== 'refund') return bad('type', 'is "purchase" or "refund"');
  if (typeof f.card_token !== 'string' || !TOKEN_RE.test(f.card_token))
    return bad('card_token', 'is the processor card token');
  if (typeof f.merchant_id !== 'string' || !ID_RE.test(f.merchant_id))
    return bad('merchant_id', 'is a tagpay merchant id');
  const amount = typeof f.amount === 'number' ? String(f.amount) : f.amount;
  if (typeof amount !== 'string' || !/^[0-9]{1,19}$/.test(amount))
    return bad('amount', 'is a whole number of minor units, e.g. 5000 for $50.00');
  if (BigInt(amount) <= 0n || BigInt(amount) > AMOUNT_MINOR_MAX)
    return bad('amount', `is between 1 and ${AMOUNT_MINOR_MAX} minor units`);
  const currency = typeof f.currency === 'string' ? f.currency.toUpperCase() : '';
  if (!isCurrency(currency)) return bad('currency', 'is an ISO 4217 code tagpay knows');
  const occurredAt =
    typeof f.occurred_at === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(f.occurred_at)
      ? Date.parse(f.occurred_at)
      : NaN;
  if (!Number.isFinite(occurredAt))
    return bad('occurred_at', 'is an ISO 8601 time with its offset, e.g. 2026-11-26T12:00:00Z');
  const original =
    f.original_transaction_id === undefined ||
    f.original_transaction_id === null ||
    f.original_transaction_id === ''
      ? null
      : f.original_transaction_id;
  if (f.type === 'refund' && (typeof original !== 'string' || !ID_RE.test(original)))
    return bad('original_transaction_id', 'names the purchase a refund refunds');
  if (f.type === 'purchase' && original !== null)
    return bad('original_transaction_id', 'is empty for a purchase');
  return {
    ok: true,
    event: {
      kind: 'card_transaction',
      txnId: id,
      type: f.type,
      cardToken: f.card_token,
      merchantId: f.merchant_id,
      amountMinor: BigInt(amount).toString(),
      currency,
      occurredAt,
      originalId: original as string | null,
    },
  };
}

/** The log key of a card transaction. */
export const transactionKey = (txnId: string) => `txn:${txnId}`;

/**
 * Checks a processor webhook's `Processor-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
 * "t.body")>` (Stripe's scheme), within a tolerance of the clock against replays of old requests.
 */
export function signatureValid(
  secret: string,
  header: string | undefined,
  body: string,
  nowMs: number,
  toleranceMs: number,
): boolean {
  if (header === undefined) return false;
  const parts = new Map<string, string[]>();
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    parts.set(k, [...(parts.get(k) ?? []), part.slice(eq + 1).trim()]);
  }
  const t = parts.get('t')?.[0];
  if (t === undefined || !/^\d{1,12}$/.test(t)) return false;
  if (Math.abs(nowMs - Number(t) * 1000) > toleranceMs) return false;
  const want = Buffer.from(signTransaction(secret, body, Number(t)).split('v1=')[1]!, 'hex');
  return (parts.get('v1') ?? []).some((v) => {
    if (!/^[0-9a-f]{64}$/.test(v)) return false;
    return timingSafeEqual(Buffer.from(v, 'hex'), want);
  });
}

/** The header a processor sends (and tests and the sandbox use to send). */
export function signTransaction(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Splits one CSV line (RFC 4180 quoting, no line breaks inside fields); null if the quoting is bad. */
export function splitCsvLine(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      out.push(value);
      if (i === line.length) return out;
      if (line[i] !== ',') return null;
      i++;
    } else {
      const comma = line.indexOf(',', i);
      const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) return null;
      out.push(value);
      if (comma < 0) return out;
      i = comma + 1;
    }
  }
}

export interface SettlementProblem {
  line: number;
  message: string;
}

/**
 * Reads a whole settlement file before anything is imported: a file with any bad row is refused
 * whole, with every bad row's line number, so nothing is half-imported.
 */
export function readSettlementFile(
  text: string,
  rowsMax: number,
): { events: CardTransactionEvent[]; problems: SettlementProblem[] } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const problems: SettlementProblem[] = [];
  const events: CardTransactionEvent[] = [];
  const header = lines[0] === undefined ? null : splitCsvLine(lines[0]);
  if (header === null || header.join(',') !== SETTLEMENT_COLUMNS.join(',')) {
    problems.push({ line: 1, message: `the header must be: ${SETTLEMENT_COLUMNS.join(',')}` });
    return { events, problems };
  }
  if (lines.length - 1 > rowsMax) {
    problems.push({ line: rowsMax + 2, message: `a file has at most ${rowsMax} rows` });
    return { events, problems };
  }
  const seen = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = i + 1;
    const cells = splitCsvLine(lines[i]!);
    if (cells === null) {
      problems.push({ line, message: 'bad CSV quoting' });
      continue;
    }
    if (cells.length !== SETTLEMENT_COLUMNS.length) {
      problems.push({
        line,
        message: `${cells.length} fields, expected ${SETTLEMENT_COLUMNS.length}`,
      });
      continue;
    }
    const fields = Object.fromEntries(SETTLEMENT_COLUMNS.map((c, n) => [c, cells[n]]));
    const read = readTransaction(fields);
    if (!read.ok) {
      problems.push({ line, message: `${read.field} ${read.message}` });
      continue;
    }
    const again = seen.get(read.event.txnId);
    const same = JSON.stringify(read.event);
    if (again !== undefined) {
      if (again !== same)
        problems.push({
          line,
          message: `transaction ${read.event.txnId} appears earlier with other values`,
        });
      continue;
    }
    seen.set(read.event.txnId, same);
    events.push(read.event);
  }
  return { events, problems };
}

/**
 * Appends transactions to the input log in batches; each is keyed by its id, so rows already there
 * (a re-run, or a transaction the webhook reported first) are counted as duplicates and left alone.
 */
export async function appendTransactions(
  log: InputLog,
  events: readonly CardTransactionEvent[],
  onProgress?: (done: number) => void,
): Promise<{ added: number; duplicates: number }> {
  let added = 0;
  let duplicates = 0;
  for (let i = 0; i < events.length; i += IMPORT_BATCH_ROWS) {
    const slice = events.slice(i, i + IMPORT_BATCH_ROWS);
    const seqs = await log.append(slice.map((e) => ({ key: transactionKey(e.txnId), body: e })));
    for (const seq of seqs) {
      if (seq === null) duplicates++;
      else added++;
    }
    onProgress?.(i + slice.length);
  }
  return { added, duplicates };
}
