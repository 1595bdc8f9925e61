import { newId } from '../../core/codes.ts';
import { accounts } from '../../core/ledger.ts';
import { PAYOUTS_PER_RUN_MAX } from '../../core/limits.ts';
import { ok, type Out } from '../decide.ts';
import type { State } from '../state.ts';
import type { Payout, PayoutCommand, PayoutResultEvent, PayoutRun } from './payouts-state.ts';

/**
 * Payout runs: each merchant's positive payable balance, per currency, leaves for its bank. The money
 * moves in the ledger when the run is decided (payable → paid out), so a second run cannot pay it
 * again; the bank transfer is an outbox row delivered with the payout id as its idempotency key. A
 * payout the bank refuses is reversed by a new transfer back to payable, to be paid by a later run.
 */

export function payoutView(p: Payout) {
  return {
    id: p.id,
    object: 'payout',
    run_id: p.runId,
    merchant_id: p.merchantId,
    amount: Number(p.amountMinor),
    currency: p.currency,
    status: p.status,
    bank_ref: p.bankRef,
    failure_reason: p.failure,
    created_at: new Date(p.createdAt).toISOString(),
  };
}

export function runPayouts(state: State, out: Out, cmd: PayoutCommand): void {
  const at = out.entry.at;
  const run: PayoutRun = { id: newId('pr', out.ctx.random), createdAt: at, payouts: 0 };
  const prefix = accounts.payable('');
  const payouts: Payout[] = [];
  const due = state.balances
    .all()
    .filter(
      (b) =>
        b.account.startsWith(prefix) &&
        b.balance > 0n &&
        (cmd.merchantId === null || b.account === accounts.payable(cmd.merchantId)) &&
        (cmd.currency === null || b.currency === cmd.currency),
    )
    // Balances are a hash map: sort so the same log gives the same run.
    .sort((a, b) =>
      a.account === b.account ? (a.currency < b.currency ? -1 : 1) : a.account < b.account ? -1 : 1,
    )
    .slice(0, PAYOUTS_PER_RUN_MAX);
  for (const b of due) {
    const merchantId = b.account.slice(prefix.length);
    const payout: Payout = {
      id: newId('po', out.ctx.random),
      runId: run.id,
      merchantId,
      amountMinor: b.balance,
      currency: b.currency,
      status: 'pending',
      bankRef: null,
      failure: null,
      createdAt: at,
      updatedAt: at,
    };
    const transfer = {
      id: newId('trf', out.ctx.random),
      ref: payout.id,
      at,
      postings: [
        {
          from: b.account,
          to: accounts.paidOut(merchantId),
          minor: b.balance,
          currency: b.currency,
        },
      ],
    };
    state.balances.apply(transfer);
    out.fx.transfers.push(transfer);
    state.payouts.pending.set(payout.id, payout);
    out.fx.payouts.payouts.add(payout);
    out.fx.outbox.push({
      key: `payout:${payout.id}`,
      kind: 'payout',
      body: {
        payout_id: payout.id,
        merchant_id: merchantId,
        amount: payout.amountMinor.toString(),
        currency: payout.currency,
      },
    });
    payouts.push(payout);
  }
  run.payouts = payouts.length;
  out.fx.payouts.runs.push(run);
  ok(out, 201, {
    id: run.id,
    object: 'payout_run',
    created_at: new Date(at).toISOString(),
    payouts: payouts.map(payoutView),
  });
}

export function onPayoutResult(state: State, out: Out, result: PayoutResultEvent): void {
  const payout = state.payouts.pending.get(result.payoutId);
  if (payout === undefined) return;
  state.payouts.pending.delete(payout.id);
  payout.updatedAt = out.entry.at;
  out.fx.payouts.payouts.add(payout);
  const merchant = state.merchants.get(payout.merchantId);
  if (result.ok) {
    payout.status = 'paid';
    payout.bankRef = result.bankRef;
    if (merchant) out.webhook(merchant, 'payout.paid', payoutView(payout));
    return;
  }
  payout.status = 'failed';
  payout.failure = result.error ?? 'bank refused the payout';
  const transfer = {
    id: newId('trf', out.ctx.random),
    ref: payout.id,
    at: out.entry.at,
    postings: [
      {
        from: accounts.paidOut(payout.merchantId),
        to: accounts.payable(payout.merchantId),
        minor: payout.amountMinor,
        currency: payout.currency,
      },
    ],
  };
  state.balances.apply(transfer);
  out.fx.transfers.push(transfer);
  if (merchant) out.webhook(merchant, 'payout.failed', payoutView(payout));
}
