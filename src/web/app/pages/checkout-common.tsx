import { useEffect, useState } from 'react';
import { api, formatMoney, type Session } from '../api.ts';

/** A payment as the API answers it (GET /v1/payments/{id}). */
export interface Payment {
  id: string;
  kind: 'buy_now' | 'cart' | 'cart_post' | 'oauth';
  status:
    | 'awaiting_confirmation'
    | 'awaiting_step_up'
    | 'charging'
    | 'paid'
    | 'refunding'
    | 'refunded'
    | 'failed'
    | 'expired'
    | 'canceled';
  amount: number;
  currency: string;
  order_ids: string[];
  failure_reason: string | null;
  pay_from: PayFrom;
  wallet_amount: number;
  card_amount: number;
}

/** Where a paid payment's money came from, in words: "from your wallet", "from your card", or both. */
export function paidFrom(p: Pick<Payment, 'wallet_amount' | 'card_amount' | 'currency'>): string {
  if (p.wallet_amount > 0 && p.card_amount > 0)
    return `${formatMoney(p.wallet_amount, p.currency)} from your wallet and ${formatMoney(p.card_amount, p.currency)} from your card`;
  return p.wallet_amount > 0 ? 'from your wallet' : 'from your card';
}

/** Where a web payment's money comes from (the API's `pay_from`). */
export type PayFrom = 'card' | 'wallet';

/**
 * The signed-in shopper's wallet balance in `currency`, in minor units: null until read, when it
 * cannot be read, or with no one signed in.
 */
export function useWalletBalance(session: Session | null, currency: string | null): number | null {
  const [balance, setBalance] = useState<number | null>(null);
  useEffect(() => {
    if (!session?.signed_in || currency === null) return;
    api<{ balances: { currency: string; amount: number }[] }>('GET', '/v1/me/wallet')
      .then((w) => setBalance(w.balances.find((b) => b.currency === currency)?.amount ?? 0))
      .catch(() => setBalance(null));
  }, [session, currency]);
  return balance;
}

/** The wallet is offered first when it holds anything in the currency; otherwise the card. */
export function defaultPayFrom(walletMinor: number | null): PayFrom {
  return walletMinor !== null && walletMinor > 0 ? 'wallet' : 'card';
}

/** How long a page waits for the card processor's answer before saying it is still processing. */
const PAYMENT_WAIT_MS = 20_000;
const PAYMENT_POLL_MS = 400;

/** Waits until the charge has answered (paid or failed), or PAYMENT_WAIT_MS has passed. */
export async function settled(payment: Payment): Promise<Payment> {
  const until = Date.now() + PAYMENT_WAIT_MS;
  let current = payment;
  while (current.status === 'charging' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, PAYMENT_POLL_MS));
    current = await api<Payment>('GET', `/v1/payments/${payment.id}`);
  }
  return current;
}

const FAILURES: Record<string, string> = {
  card_declined: 'your card was declined by your bank',
  insufficient_funds: 'your card has insufficient funds',
  processor_error: 'we could not reach your card issuer',
  card_expired: 'your card has expired',
};

/** Why a payment failed, in plain words. */
export function failureText(reason: string | null): string {
  return FAILURES[reason ?? ''] ?? 'the payment did not go through';
}

/**
 * Where the money comes from: the wallet first (the card pays whatever its balance does not cover),
 * or the card only. The split is shown before paying; the server checks the choice again.
 */
export function PayFromChoice(props: {
  amount: number;
  currency: string;
  card: string;
  walletMinor: number | null;
  chosen: PayFrom;
  onChoose: (choice: PayFrom) => void;
  disabled: boolean;
}) {
  const { amount: total, currency, card, walletMinor, chosen } = props;
  const fromWallet = Math.min(walletMinor ?? 0, total);
  const rest = total - fromWallet;
  const usable = fromWallet > 0;
  return (
    <fieldset className="pay-from">
      <legend>Pay from</legend>
      <p className="hint">
        Your wallet: {walletMinor === null ? 'balance unknown' : formatMoney(walletMinor, currency)}
        . The wallet pays first; if it holds less than the amount, your card pays the rest.
      </p>
      <label className="inline">
        <input
          type="radio"
          name="pay_from"
          value="wallet"
          checked={chosen === 'wallet'}
          disabled={props.disabled || !usable}
          onChange={() => props.onChoose('wallet')}
        />
        {!usable
          ? `Wallet (no ${currency} in it)`
          : rest === 0
            ? `Wallet: ${formatMoney(fromWallet, currency)}`
            : `Wallet ${formatMoney(fromWallet, currency)}, then ${formatMoney(rest, currency)} from ${card}`}
      </label>
      <label className="inline">
        <input
          type="radio"
          name="pay_from"
          value="card"
          checked={chosen === 'card'}
          disabled={props.disabled}
          onChange={() => props.onChoose('card')}
        />
        {`Card: ${formatMoney(total, currency)} from ${card}`}
      </label>
    </fieldset>
  );
}
