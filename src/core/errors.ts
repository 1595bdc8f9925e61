/**
 * Error codes that cross the API. They are part of the API: never rename one, only add.
 * Each maps to one HTTP status, translated once at the edge (src/http/errors.ts).
 */
export const ERROR_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_AMOUNT: 400,
  UNKNOWN_CURRENCY: 400,
  INVALID_HASHTAG: 400,
  INVALID_HANDLE: 400,
  WEBHOOK_URL_NOT_ALLOWED: 400,
  NETWORK_NOT_CONNECTED: 400,
  INVALID_CARD: 400,
  CARD_EXPIRED: 400,
  TEXT_TOO_LONG: 400,
  IDEMPOTENCY_KEY_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  INSUFFICIENT_SCOPE: 403,
  PURCHASE_REFUSED: 403,
  INVALID_LINK: 400,
  HASHTAG_LOOKALIKE: 409,
  HANDLE_LOOKALIKE: 409,
  STEP_UP_NOT_PENDING: 409,
  TOO_MANY_KEYS: 409,
  DELIVERY_NOT_RETRYABLE: 409,
  CSRF_TOKEN_INVALID: 403,
  VERIFICATION_LINK_INVALID: 400,
  ORDER_NOT_FULFILLABLE: 409,
  EMAIL_NOT_VERIFIED: 403,
  NOT_FOUND: 404,
  HANDLE_TAKEN: 409,
  HANDLE_LINKED: 409,
  OWNERSHIP_NOT_PROVEN: 401,
  PROOF_INVALID: 401,
  NETWORK_UNAVAILABLE: 502,
  HASHTAG_TAKEN: 409,
  MERCHANT_EXISTS: 409,
  ORDER_NOT_REFUNDABLE: 409,
  PAYMENT_NOT_REFUNDABLE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  REPLY_TARGET_NOT_FOUND: 404,
  UNKNOWN_CARD_TOKEN: 400,
  BODY_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  REFUND_EXCEEDS_ORDER: 409,
  WEBHOOK_SIGNATURE_INVALID: 400,
  LINK_INVALID: 403,
  LINK_EXPIRED: 410,
  OFFER_NOT_ON_SALE: 409,
  OUT_OF_STOCK: 409,
  SHOPPER_NOT_LINKED: 409,
  PURCHASE_LIMIT_EXCEEDED: 409,
  CART_EMPTY: 409,
  CART_MIXED_CURRENCY: 409,
  PAY_REQUEST_NOT_OPEN: 409,
  OAUTH_INVALID_REQUEST: 400,
  OAUTH_INVALID_CLIENT: 401,
  OAUTH_INVALID_GRANT: 400,
  ENGINE_BUSY: 503,
  SELF_PAYMENT: 400,
  UNKNOWN_NETWORK: 400,
  INVALID_CODE: 400,
  INSUFFICIENT_FUNDS: 409,
  PAYMENT_LIMIT_EXCEEDED: 409,
  NOT_LINKED: 409,
  PAYMENT_NOT_PENDING: 409,
  GIFT_CARD_NOT_FOUND: 404,
  GIFT_CARD_USED: 409,
  CLAIM_EXPIRED: 410,
  CODE_EXPIRED: 410,
  PAYMENT_REFUSED: 403,
  PAYER_NOT_LINKED: 409,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error with a stable code, thrown at the edges and rendered once by the HTTP error handler. */
export class TagpayError extends Error {
  readonly code: ErrorCode;
  readonly param: string | undefined;
  constructor(code: ErrorCode, message: string, param?: string) {
    super(message);
    this.name = 'TagpayError';
    this.code = code;
    this.param = param;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** The body of an error response: `{ "error": { "code", "message", "param"? } }` (Stripe's shape). */
export function errorBody(code: ErrorCode, message: string, param?: string) {
  return { error: param === undefined ? { code, message } : { code, message, param } };
}
