import { api } from '../api.ts';

/** A payment as the API answers it (GET /v1/payments/{id}). */
export interface Payment {
  id: string;
  kind: 'buy_now' | 'cart' | 'cart_post' | 'oauth';
  status: 'awaiting_confirmation' | 'charging' | 'paid' | 'failed' | 'expired' | 'canceled';
  amount: number;
  currency: string;
  order_ids: string[];
  failure_reason: string | null;
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
