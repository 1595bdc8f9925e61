import type { ErrorCode } from '../../core/errors.ts';
import type { ApiCommand, RefundResultEvent } from '../events.ts';
import type { Order } from '../state.ts';

/**
 * Partial refunds. A paid order can be refunded in several parts up to its amount; each part goes to
 * the processor as its own refund and comes back as a refund result, and reverses its share of the
 * sale's transfer: the merchant's net and the platform fee in proportion, so a refund in full always
 * returns the whole fee however it was split.
 */

export type PartialRefund =
  | { ok: true; amountMinor: bigint; restockQuantity: number }
  | { ok: false; code: ErrorCode; message: string; param?: string };

/** Checks a refund request against what is left of the order; the amount defaults to all of it. */
export function partialRefund(
  order: Order,
  cmd: Extract<ApiCommand, { op: 'order.refund' }>,
): PartialRefund {
  const left = order.amountMinor - order.refundedMinor;
  const amountMinor =
    cmd.amountMinor === undefined || cmd.amountMinor === null ? left : BigInt(cmd.amountMinor);
  if (amountMinor <= 0n)
    return { ok: false, code: 'INVALID_AMOUNT', message: 'A refund is positive.', param: 'amount' };
  if (amountMinor > left) {
    return {
      ok: false,
      code: 'REFUND_EXCEEDS_ORDER',
      message: `Order ${order.id} has ${left} minor units left to refund; ${amountMinor} asked.`,
      param: 'amount',
    };
  }
  // Units go back on sale at most once each, across all of an order's refunds.
  const restockable = order.quantity - (order.restocked ?? 0);
  const restockQuantity = cmd.restockQuantity ?? (cmd.restock ? restockable : 0);
  if (restockQuantity < 0 || restockQuantity > restockable) {
    return {
      ok: false,
      code: 'INVALID_REQUEST',
      message: `restock_quantity is 0 to ${restockable} for this order (units not yet restocked).`,
      param: 'restock_quantity',
    };
  }
  return { ok: true, amountMinor, restockQuantity };
}

/**
 * The part of the sale a refund result reverses: its amount (the whole order for results written
 * before partial refunds existed), the fee share, and the units to restock.
 */
export function refundShare(
  order: Order,
  result: RefundResultEvent,
): { amountMinor: bigint; feeMinor: bigint; restockQuantity: number } {
  const amountMinor =
    result.amountMinor === undefined
      ? order.amountMinor - order.refundedMinor
      : BigInt(result.amountMinor);
  const before = feeShare(order, order.refundedMinor);
  const after = feeShare(order, order.refundedMinor + amountMinor);
  if (order.refundedMinor + amountMinor > order.amountMinor)
    throw new Error(`engine: order ${order.id} refunded beyond its amount`);
  return {
    amountMinor,
    feeMinor: after - before,
    restockQuantity: Math.min(
      result.restockQuantity ?? order.quantity,
      order.quantity - (order.restocked ?? 0),
    ),
  };
}

/** The fee that goes with `refunded` of the order's amount (rounded down; all of it at the end). */
function feeShare(order: Order, refunded: bigint): bigint {
  return (order.feeMinor * refunded) / order.amountMinor;
}
