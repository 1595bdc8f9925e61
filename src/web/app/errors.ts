import { ApiError } from './api.ts';

/**
 * What the pages say about an error the API answered, in plain words, chosen by its stable code
 * (docs/ERRORS.md) and, for a bad field, by the field: never the API's technical message ("email:
 * Invalid email address", "shipping_address.postal_code is required").
 */

/** A field the API named (`param`), as the pages name their fields. */
export function fieldOf(param: string | undefined): string | undefined {
  if (!param) return undefined;
  const last = param.split('.').at(-1)!;
  return FIELD_ALIASES[last] ?? last;
}

const FIELD_ALIASES: Record<string, string> = {
  card_token: 'card',
  number: 'number',
  exp_month: 'exp',
  exp_year: 'exp',
  app_password: 'app_password',
};

/** What a bad value of each field means, for the codes that only say "this field is wrong". */
const FIELD_TEXT: Record<string, string> = {
  email: 'Enter an e-mail address like you@example.com.',
  name: 'Enter the name to ship to.',
  line1: 'Enter the street address.',
  line2: 'Shorten the second address line.',
  city: 'Enter the city.',
  region: 'Shorten the region.',
  postal_code: 'Enter the postal code.',
  country: 'Choose a country.',
  per_purchase: 'Enter an amount like 50 or 49.99, or leave it empty.',
  per_day: 'Enter an amount like 200 or 199.99, or leave it empty.',
  card: 'Add your card again.',
  number: 'Check the card number: 12 to 19 digits.',
  exp: 'Check the expiry date, as MM/YY.',
  cvc: 'The CVC is the 3 or 4 digits on the card.',
  handle: 'Enter a handle: letters, digits, dots, dashes or underscores.',
  token: 'Paste the account token you were given when the account was created.',
  api_key: 'Paste the sk_… key tagpay showed when the merchant was created.',
  server: 'Enter your server, like mastodon.social.',
  app_password: 'Enter an app password from your Bluesky settings.',
  title: 'Enter a title.',
  price: 'Enter a price like 25 or 24.99.',
  quantity: 'Enter a whole number of units, 1 or more.',
  per_buyer_max: 'Enter a whole number, or leave it empty for no cap.',
  hashtag: 'Letters, digits and _, starting with a letter, like BuyAcmeTee.',
  variants: 'Separate the options with commas, like S, M, L.',
  code: 'Enter the code as printed, like GC-ABCD-EFGH-IJKL-MN23.',
  carrier: 'Shorten the carrier name.',
  tracking: 'Shorten the tracking number.',
  amount: 'Enter an amount like 10 or 9.99.',
  text: 'Write something to post.',
};

/** A code about one field that means something of its own there. */
const CODE_FIELD_TEXT: Record<string, string> = {
  'UNAUTHENTICATED token': 'That handle and token do not match a local network account.',
  'UNAUTHENTICATED api_key': 'This API key is not valid: it is unknown or was revoked.',
  'FORBIDDEN handle': 'That account cannot be used here.',
  'INVALID_HANDLE handle': 'That handle does not exist on this network.',
};

/** Codes whose meaning does not depend on the field. */
const CODE_TEXT: Record<string, string> = {
  INVALID_JSON: 'Something went wrong sending the form. Reload the page and try again.',
  INVALID_AMOUNT: 'Enter an amount like 10 or 9.99.',
  UNKNOWN_CURRENCY: 'tagpay does not take that currency.',
  INVALID_HASHTAG: 'Letters, digits and _, starting with a letter, like BuyAcmeTee.',
  INVALID_HANDLE: 'That handle does not exist on this network.',
  INVALID_CARD: 'This card number is not valid. Check it and try again.',
  CARD_EXPIRED: 'This card has expired. Use another card.',
  UNKNOWN_CARD_TOKEN: 'Your card was not saved. Add it again.',
  TEXT_TOO_LONG: 'That is too long. Shorten it.',
  UNAUTHENTICATED: 'Sign in again: your session has ended.',
  FORBIDDEN: 'Your account cannot do that.',
  INSUFFICIENT_SCOPE: 'This key cannot do that.',
  CSRF_TOKEN_INVALID: 'This page is out of date. Reload it and try again.',
  VERIFICATION_LINK_INVALID:
    'This link has expired or was not sent by this tagpay. Ask for a new one.',
  EMAIL_NOT_VERIFIED: 'Verify this e-mail address first: open the link we sent to it.',
  NOT_FOUND: 'That is not there any more. Reload the page.',
  HANDLE_TAKEN: 'That handle is taken. Choose another.',
  HANDLE_LINKED: 'That handle is already linked to another tagpay account.',
  OWNERSHIP_NOT_PROVEN: 'Your network did not confirm the account. Check the handle and password.',
  PROOF_INVALID: 'Your sign-in has expired. Sign in again.',
  NETWORK_UNAVAILABLE: 'That network cannot be reached right now. Try again in a minute.',
  NETWORK_NOT_CONNECTED: 'This tagpay is not connected to that network.',
  HASHTAG_TAKEN: 'Another live offer uses that hashtag. Choose another.',
  HASHTAG_LOOKALIKE: 'That hashtag looks like another offer’s. Choose one that looks different.',
  ORDER_NOT_REFUNDABLE:
    'This order cannot be refunded now (a refund is under way, or it is not paid).',
  REFUND_EXCEEDS_ORDER: 'That is more than is left to refund on this order.',
  ORDER_NOT_FULFILLABLE: 'Only a paid order can be marked shipped.',
  IDEMPOTENCY_CONFLICT: 'This was already sent with other details. Reload the page and try again.',
  RATE_LIMITED: 'Too many tries at once. Wait a few seconds and try again.',
  ENGINE_BUSY: 'tagpay is busy. Try again in a few seconds.',
  OFFER_NOT_ON_SALE: 'This offer is not on sale any more.',
  OUT_OF_STOCK: 'Not enough left in stock.',
  SHOPPER_NOT_LINKED: 'Link your handle first: add a card, an e-mail and an address.',
  NOT_LINKED: 'Link your handle first: add a card, an e-mail and an address.',
  CART_EMPTY: 'Your cart is empty.',
  CART_MIXED_CURRENCY: 'Your cart has items in different currencies: pay for them separately.',
  LINK_INVALID: 'This link is not valid. Ask the shop for a new one.',
  LINK_EXPIRED: 'This link has expired. Ask the shop for a new one.',
  INSUFFICIENT_FUNDS: 'There is not enough money for that.',
  GIFT_CARD_NOT_FOUND: 'No gift card has this code. Check it and try again.',
  GIFT_CARD_USED: 'This gift card was already redeemed.',
  CLAIM_EXPIRED: 'This claim has expired; the money went back to the sender.',
  TOO_MANY_KEYS: 'You have as many API keys as allowed. Revoke one first.',
  DELIVERY_NOT_RETRYABLE: 'Only a delivery that failed for good can be sent again.',
  WEBHOOK_URL_NOT_ALLOWED: 'Webhooks can only go to a public https address.',
  BODY_TOO_LARGE: 'That is too much to send at once.',
  NETWORK: 'tagpay could not be reached. Check your connection and try again.',
  INTERNAL: 'Something went wrong on our side. Try again in a minute.',
};

/**
 * Codes whose API message is already written for people and carries what only the server knows
 * (a limit's amount, the units left): the page shows that message.
 */
const SERVER_WORDS = new Set([
  'OFFER_NOT_ON_SALE',
  'CART_MIXED_CURRENCY',
  'PURCHASE_LIMIT_EXCEEDED',
  'PAYMENT_LIMIT_EXCEEDED',
  'PURCHASE_REFUSED',
  'OUT_OF_STOCK',
  'SELF_PAYMENT',
  'INSUFFICIENT_FUNDS',
]);

/** The plain words for an error, for the field it is about when there is one. */
export function plainMessage(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  if (SERVER_WORDS.has(e.code) && e.message) return e.message;
  const field = fieldOf(e.param);
  const exact = field ? CODE_FIELD_TEXT[`${e.code} ${field}`] : undefined;
  if (exact) return exact;
  // The engine's refusals of a purchase (an option to choose, a quantity out of range) name no field
  // and are written for people; a malformed request always names its field.
  if (
    e.code === 'INVALID_REQUEST' &&
    !field &&
    e.message &&
    e.status === 400 &&
    !e.message.includes(':')
  )
    return e.message;
  const byField = field ? FIELD_TEXT[field] : undefined;
  // A bad field's own words say more than the code's general ones (INVALID_REQUEST says nothing).
  if (byField && (e.code === 'INVALID_REQUEST' || e.code === 'INVALID_AMOUNT')) return byField;
  const byCode = CODE_TEXT[e.code];
  if (byCode) return byCode;
  if (byField) return byField;
  if (e.status === 401) return CODE_TEXT.UNAUTHENTICATED!;
  if (e.status >= 500) return CODE_TEXT.INTERNAL!;
  return 'That did not work. Check the form and try again.';
}
