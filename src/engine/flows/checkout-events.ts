/** The log events and API commands of buy-now, cart and pay-with-tagpay (see ../events.ts). */

/** An offer's post went out on a network: `#cart` replies to it name the offer. Key: `posted:<outbox key>`. */
export interface OfferPostedEvent {
  kind: 'offer_posted';
  offerId: string;
  network: string;
  postId: string;
}

/**
 * Where a web payment's money comes from: the linked card only, or the wallet first and the card for
 * whatever the wallet's balance does not cover (as a purchase by hashtag is paid).
 */
export type PayFrom = 'card' | 'wallet';
export const PAY_FROM: readonly PayFrom[] = ['card', 'wallet'];

export interface CheckoutItemInput {
  offerId: string;
  variant: string | null;
  quantity: number;
}

export type CheckoutCommand =
  | {
      /** One tap on a buy-now link by a signed-in shopper: reserve, charge, no code. */
      op: 'checkout.buy_now';
      network: string;
      account: string;
      item: CheckoutItemInput;
      /** The link's expiry (its signature was checked at the edge); past it, refused. */
      linkExpiresAt: number;
      /** Where the money comes from (absent in entries logged before the wallet could pay: card). */
      payFrom?: PayFrom;
    }
  | {
      op: 'cart.checkout';
      network: string;
      account: string;
      itemIds: string[] | null;
      payFrom?: PayFrom;
    }
  | { op: 'cart.remove'; network: string; account: string; itemId: string }
  | {
      op: 'shop_client.create';
      merchantId: string;
      name: string;
      secretHash: string;
      redirectUris: string[];
      webhookUrl: string | null;
    }
  | {
      op: 'pay_request.create';
      clientId: string;
      amountMinor: string;
      currency: string;
      description: string;
      reference: string | null;
    }
  | {
      op: 'pay_request.approve';
      clientId: string;
      requestId: string;
      redirectUri: string;
      codeChallenge: string;
      network: string;
      account: string;
      payFrom?: PayFrom;
    }
  | {
      /**
       * The merchant refunds a pay-with-tagpay payment, in full (`amountMinor` null) or in part; a
       * payment with orders is refunded order by order (order.refund).
       */
      op: 'payment.refund';
      paymentId: string;
      /** The merchant of the key; null for the admin key. */
      merchantId: string | null;
      amountMinor: string | null;
    }
  | {
      /** The shop trades the code for the payment; `challenge` is S256 of the verifier it sent. */
      op: 'oauth.exchange';
      clientId: string;
      paymentId: string;
      redirectUri: string;
      challenge: string;
    };

export const CHECKOUT_OPS: ReadonlySet<string> = new Set<CheckoutCommand['op']>([
  'checkout.buy_now',
  'cart.checkout',
  'cart.remove',
  'shop_client.create',
  'pay_request.create',
  'pay_request.approve',
  'oauth.exchange',
  'payment.refund',
]);

export function isCheckoutCommand(cmd: { op: string }): cmd is CheckoutCommand {
  return CHECKOUT_OPS.has(cmd.op);
}
