import { shopperHandles, type Merchant, type Offer, type Order, type Shopper } from './state.ts';

/**
 * The public JSON shape of each entity, shared by the API and the webhooks so both say the same.
 * Amounts are integers in minor units on the wire.
 */

export function offerView(o: Offer) {
  return {
    id: o.id,
    object: 'offer',
    merchant_id: o.merchantId,
    title: o.title,
    price: { amount: Number(o.priceMinor), currency: o.currency },
    quantity: o.quantity,
    available: o.available,
    sold: o.sold,
    variants: o.variants,
    per_buyer_max: o.perBuyerMax,
    hashtag: o.hashtag,
    confirm_window_s: Math.round(o.windowMs / 1000),
    starts_at: new Date(o.startsAt).toISOString(),
    ends_at: o.endsAt === null ? null : new Date(o.endsAt).toISOString(),
    status: o.status,
    created_at: new Date(o.createdAt).toISOString(),
  };
}

export function orderView(o: Order) {
  return {
    id: o.id,
    object: 'order',
    status: o.status,
    offer_id: o.offerId,
    merchant_id: o.merchantId,
    shopper_id: o.shopperId,
    network: o.network,
    handle: o.handle,
    variant: o.variant,
    quantity: o.quantity,
    amount: Number(o.amountMinor),
    fee: Number(o.feeMinor),
    amount_refunded: Number(o.refundedMinor),
    currency: o.currency,
    shipping_address: o.shippingAddress,
    failure_reason: o.failure,
    expires_at: new Date(o.expiresAt).toISOString(),
    created_at: new Date(o.createdAt).toISOString(),
    updated_at: new Date(o.updatedAt).toISOString(),
  };
}

export function merchantView(m: Merchant) {
  return {
    id: m.id,
    object: 'merchant',
    network: m.network,
    handle: m.handle,
    handles: [{ network: m.network, handle: m.handle }, ...m.alsoOn],
    name: m.name,
    webhook_url: m.webhookUrl,
    fee_bps: m.feeBps,
    created_at: new Date(m.createdAt).toISOString(),
  };
}

export function shopperView(s: Shopper) {
  return {
    id: s.id,
    object: 'shopper',
    network: s.network,
    account: s.account,
    handle: s.handle,
    handles: shopperHandles(s).map((h) => ({
      network: h.network,
      account: h.account,
      handle: h.handle,
    })),
    email: s.email,
    shipping_address: s.shippingAddress,
    card: { brand: s.cardBrand, last4: s.cardLast4 },
    limits: {
      per_purchase: s.purchaseLimitMinor === null ? null : Number(s.purchaseLimitMinor),
      per_day: s.dailyLimitMinor === null ? null : Number(s.dailyLimitMinor),
      currency: s.limitCurrency,
    },
    created_at: new Date(s.createdAt).toISOString(),
  };
}
