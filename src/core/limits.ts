/**
 * Every limit in tagpay, in one place, each with its unit last (TigerBeetle's habit). The assertions at
 * the bottom state how they relate and run when this module loads.
 */

/** How long a shopper has to post the confirmation code (DESIGN.md flow 1). */
export const CONFIRM_WINDOW_MS_DEFAULT = 15 * 60 * 1000;
export const CONFIRM_WINDOW_MS_MIN = 60 * 1000;
export const CONFIRM_WINDOW_MS_MAX = 24 * 60 * 60 * 1000;

/** Events the engine decides in one batch and commits in one database transaction. */
export const BATCH_EVENTS_MAX = 2_000;
/** Events of waiting appends the log commits together in one transaction (group commit). */
export const LOG_GROUP_EVENTS_MAX = 10_000;
/**
 * Newest log entries kept in memory for the engine to read without a round trip and a JSON parse.
 * Only entries not yet decided are kept, so it fills only while appends run ahead of the engine (a
 * burst): at 100,000 the flash sale read 742,000 of its 1,000,000 posts back from the database; at
 * 500,000 it ran 6% faster (bench/scenarios/flash-sale.ts). A post entry is a few hundred bytes.
 */
export const LOG_TAIL_EVENTS_MAX = 500_000;
/** Rows one outbox worker pass takes (replies, e-mails, webhooks: delivered one by one). */
export const OUTBOX_BATCH_MAX = 200;
/** Card charges one pass takes: they go to the processor as one batch. */
export const CHARGE_BATCH_MAX = 2_000;
/** Outbox deliveries in flight at once. */
export const OUTBOX_CONCURRENCY_MAX = 16;
/** Posts a connector appends to the log in one transaction with its cursor. */
export const CONNECTOR_BATCH_MAX = 1_000;

/** A network connector reconnects after this long, doubling (with jitter) up to the maximum. */
export const CONNECTOR_RECONNECT_MS_MIN = 250;
export const CONNECTOR_RECONNECT_MS_MAX = 60_000;

/** Attempts for a card charge that fails with a processor error, then the order fails. */
export const CHARGE_ATTEMPTS_MAX = 3;
export const CHARGE_RETRY_BASE_MS = 2_000;
/**
 * Webhooks are retried with exponential backoff (WEBHOOK_RETRY_BASE_MS doubling, at most
 * RETRY_DELAY_MS_MAX apart) for up to WEBHOOK_RETRY_WINDOW_MS, Stripe's three days: the last of
 * WEBHOOK_ATTEMPTS_MAX attempts falls inside the window (asserted below), then the row is dead.
 */
export const WEBHOOK_RETRY_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;
export const WEBHOOK_ATTEMPTS_MAX = 24;
export const WEBHOOK_RETRY_BASE_MS = 5_000;
/** A receiver accepts a signature this many seconds from its timestamp at most (Stripe's default). */
export const WEBHOOK_TOLERANCE_S = 300;
/** How long the previous webhook secret signs too after a rotation, at most (Stripe: 24 hours). */
export const WEBHOOK_SECRET_OVERLAP_MS_MAX = 24 * 60 * 60 * 1000;
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Attempts for a reply post or an e-mail. */
export const DELIVERY_ATTEMPTS_MAX = 10;
export const DELIVERY_RETRY_BASE_MS = 1_000;
/**
 * The longest a reply to a linked shopper may wait for its network (the account's token bucket or
 * the network's rate limit); a reply that would wait longer goes to the shopper by e-mail instead.
 */
export const REPLY_EMAIL_FALLBACK_MS = 5 * 60 * 1000;
/** Failed attempts at posting a reply to a linked shopper before it goes by e-mail instead. */
export const REPLY_POST_ATTEMPTS_MAX = 4;
/** How long a proof of ownership of a handle (onboarding) is accepted by the API. */
export const OWNERSHIP_PROOF_TTL_MS = 30 * 60 * 1000;
/** How long a shopper has to approve tagpay on their Mastodon server (the OAuth `state`'s life). */
export const OAUTH_STATE_TTL_MS = 15 * 60 * 1000;
/** Every request to a shopper's own server (PDS, Mastodon) during onboarding gives up after this. */
export const ONBOARDING_REQUEST_TIMEOUT_MS = 10_000;
export const RETRY_DELAY_MS_MAX = 6 * 60 * 60 * 1000;
/** First retry after a delivery threw unexpectedly (then doubling up to RETRY_DELAY_MS_MAX). */
export const UNEXPECTED_RETRY_BASE_MS = 1_000;

/** Post text the engine reads; longer posts are ignored (no network we speak allows more). */
export const POST_TEXT_CHARS_MAX = 5_000;
/** Post text the local network accepts. */
export const LOCAL_POST_TEXT_CHARS_MAX = 1_000;
export const HASHTAGS_PER_POST_MAX = 20;
export const HANDLE_CHARS_MAX = 64;

/** Handles waiting on one offer; past it the sold-out reply says the waitlist is full. */
export const WAITLIST_PER_OFFER_MAX = 50_000;

/** Units one post may buy. */
export const QUANTITY_PER_POST_MAX = 10;
export const OFFER_QUANTITY_MAX = 10_000_000;
export const OFFER_VARIANTS_MAX = 50;
export const OFFER_TITLE_CHARS_MAX = 200;
export const HASHTAG_CHARS_MIN = 3;
export const HASHTAG_CHARS_MAX = 64;
/** Largest price or amount in minor units (ten million major units at exponent 2). */
export const AMOUNT_MINOR_MAX = 1_000_000_000n;

/** Codes no longer valid that are remembered, so their owner is told why (for DAY_MS at most). */
export const RETIRED_CODES_MAX = 100_000;

/** Wrong confirmation codes one handle may post in WRONG_CODES_WINDOW_MS before its codes pause. */
export const WRONG_CODES_PER_WINDOW_MAX = 5;
export const WRONG_CODES_WINDOW_MS = 60 * 60 * 1000;
/** Handles whose wrong codes are counted at once; the oldest counts go first. */
export const WRONG_CODE_COUNTERS_MAX = 100_000;

/**
 * Fraud controls (src/engine/flows/safety.ts). Velocity: checkouts one handle, or one card across
 * handles, may open per hour, and what one card may be charged per day in major units (both set by
 * the operator, these are the defaults; 0 turns one off).
 */
export const PURCHASES_PER_HOUR_MAX_DEFAULT = 10;
/**
 * The same in demo mode, where everyone shares the demo accounts and pays and buys as alice: ten an
 * hour (payments count too) stopped a new user half-way through trying the money flows.
 */
export const PURCHASES_PER_HOUR_MAX_DEMO = 100;
export const CARD_DAILY_MAJOR_MAX_DEFAULT = 2_000;
export const HOUR_MS = 60 * 60 * 1000;
/** A first spend this soon after a handle is linked asks for a step-up by e-mail. */
export const NEW_LINK_STEP_UP_MS = 24 * 60 * 60 * 1000;
/** A purchase this soon after the shipping address changed asks for a step-up. */
export const NEW_ADDRESS_STEP_UP_MS = 7 * 24 * 60 * 60 * 1000;
/** A handle that changed owner asks for a step-up on every purchase this long after. */
export const OWNER_CHANGE_STEP_UP_MS = 30 * 24 * 60 * 60 * 1000;
/** No purchase this long after a re-link changed the card or the e-mail, or the handle's owner. */
export const RELINK_COOL_DOWN_MS = 24 * 60 * 60 * 1000;
/**
 * An unusual amount: more than UNUSUAL_AMOUNT_FACTOR times the largest paid purchase of the shopper
 * in the currency, once it has UNUSUAL_AMOUNT_HISTORY_MIN of them.
 */
export const UNUSUAL_AMOUNT_FACTOR = 5n;
export const UNUSUAL_AMOUNT_HISTORY_MIN = 3;
/** Checkout times remembered per handle or card for the hourly velocity (oldest dropped). */
export const VELOCITY_KEYS_MAX = 200_000;
/** A merchant may hold this many API keys that are not revoked. */
export const API_KEYS_PER_MERCHANT_MAX = 20;
/** last_used_at of an API key is written at most this often per key. */
export const API_KEY_TOUCH_MS = 60 * 1000;
/** Confirmation codes: characters after the prefix, from a 32-letter alphabet (5 bits each). */
export const CODE_CHARS = 10;
export const CODE_BITS = CODE_CHARS * 5;

/** Shopper spending limits by default, in major units of the purchase's currency. */
export const PURCHASE_LIMIT_MAJOR_DEFAULT = 500n;
export const DAILY_LIMIT_MAJOR_DEFAULT = 1_000n;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** Platform fee per sale in basis points, and its ceiling. */
export const FEE_BPS_DEFAULT = 250;
export const FEE_BPS_MAX = 5_000;

/** Requests per second per API key or token and per client address, by default (0: off). */
export const RATE_LIMIT_PER_S_DEFAULT = 50;
/** A bucket holds this many seconds' worth of requests: the burst allowed. */
export const RATE_LIMIT_BURST_FACTOR = 4;
/** Rate-limit buckets kept in memory at most. */
export const RATE_LIMIT_KEYS_MAX = 100_000;

/** How long the HTTP edge waits for the engine to decide an API command. */
export const API_RESULT_WAIT_MS = 30_000;
/** Idempotency keys are kept with the log, forever; Stripe's promise is 24 hours. */
export const IDEMPOTENCY_KEY_CHARS_MAX = 255;
export const REQUEST_BODY_BYTES_MAX = 64 * 1024;
export const PAGE_LIMIT_DEFAULT = 20;
export const PAGE_LIMIT_MAX = 100;

/** How often the background loops look for work when nobody woke them. */
export const ENGINE_IDLE_POLL_MS = 250;
export const OUTBOX_IDLE_POLL_MS = 250;

/**
 * Money to a handle (DESIGN.md flow 3). A payment above this many major units of its currency needs
 * a confirmation code, as does every first payment to a new recipient.
 */
export const PAY_CONFIRM_ABOVE_MAJOR = 25n;
/** How long an unlinked recipient has to claim money by linking, before it goes back to the sender. */
export const CLAIM_PERIOD_MS_DEFAULT = 14 * 24 * 60 * 60 * 1000;
export const CLAIM_PERIOD_MS_MIN = 60 * 60 * 1000;
export const CLAIM_PERIOD_MS_MAX = 90 * 24 * 60 * 60 * 1000;
/** How long the payer has to confirm a `#request` with its code. */
export const REQUEST_WINDOW_MS = 3 * 24 * 60 * 60 * 1000;
/** Money one handle may send (payments and paid requests) per UTC day and per rolling 7 days. */
export const PAY_DAILY_LIMIT_MAJOR = 500n;
export const PAY_WEEKLY_LIMIT_MAJOR = 1_500n;
export const WEEK_DAYS = 7;
/** Gift card codes: characters after the prefix, 5 bits each (>= 64 bits of randomness). */
export const GIFT_CODE_CHARS = 16;
export const GIFT_CODE_BITS = GIFT_CODE_CHARS * 5;
/** Gift cards one order may buy (the offer's quantity limits per post apply too). */
export const GIFT_CARDS_PER_ORDER_MAX = QUANTITY_PER_POST_MAX;
/** A buy-now link in an offer post works this long when the offer has no end (ticket buttons: DESIGN flow 5). */
export const BUY_LINK_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Items one cart holds (#AmazonCart: DESIGN flow 4). */
export const CART_ITEMS_MAX = 20;
/** Offer post ids remembered for `#cart` replies; the oldest go first. */
export const OFFER_POSTS_MAX = 100_000;
/** A pay request from an outside shop can be approved within this (pay with tagpay: DESIGN flow 6). */
export const PAY_REQUEST_TTL_MS = 60 * 60 * 1000;
/** An OAuth authorization code works once, within this of its approval (RFC 6749 §4.1.2: 10 minutes at most). */
export const OAUTH_CODE_TTL_MS = 10 * 60 * 1000;
/** The access token a code is exchanged for reads that one payment, this long. */
export const OAUTH_ACCESS_TOKEN_TTL_MS = 60 * 60 * 1000;
/** Redirect URIs one shop client may register, and their length. */
export const OAUTH_REDIRECT_URIS_MAX = 5;
export const OAUTH_REDIRECT_URI_CHARS_MAX = 512;
/** The `state` a shop sends through the authorization request (echoed back as is). */
export const OAUTH_STATE_CHARS_MAX = 512;
/** A pay request's description and the shop's own reference. */
export const PAY_DESCRIPTION_CHARS_MAX = 200;
export const PAY_REFERENCE_CHARS_MAX = 100;
/** Open pay requests and unexchanged payment codes kept in memory at most. */
export const PAY_REQUESTS_OPEN_MAX = 100_000;
/** A web session (cookie) lives this long from sign-in; signing out ends it at once. */
export const WEB_SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Bounds on what a sign-in form may send (handles, tokens, app passwords, API keys). */
export const WEB_SECRET_CHARS_MAX = 512;
/** How long an e-mail verification link works. */
export const EMAIL_VERIFY_TTL_MS = 24 * 60 * 60 * 1000;
/** Days of revenue a dashboard chart shows at most, and rows a dashboard list answers at most. */
export const DASHBOARD_DAYS_MAX = 90;
export const DASHBOARD_ROWS_MAX = 200;
/** E-mails the demo mailbox page shows (newest first). */
export const DEMO_MAILBOX_ROWS_MAX = 50;
/** Open live timelines (server-sent events) at once, and the comment that keeps each one open. */
export const LOCAL_STREAMS_MAX = 1_000;
export const LOCAL_STREAM_HEARTBEAT_MS = 15_000;

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`limits: ${message}`);
}
assert(REPLY_POST_ATTEMPTS_MAX < DELIVERY_ATTEMPTS_MAX, 'a reply falls back before it is given up');
assert(CODE_BITS >= 40, 'confirmation codes carry at least 40 bits of randomness');
assert(CONFIRM_WINDOW_MS_MIN <= CONFIRM_WINDOW_MS_DEFAULT, 'default window within bounds');
assert(CONFIRM_WINDOW_MS_DEFAULT <= CONFIRM_WINDOW_MS_MAX, 'default window within bounds');
assert(LOCAL_POST_TEXT_CHARS_MAX <= POST_TEXT_CHARS_MAX, 'the engine reads every local post');
assert(QUANTITY_PER_POST_MAX <= OFFER_QUANTITY_MAX, 'one post never buys more than an offer holds');
assert(LOG_TAIL_EVENTS_MAX >= BATCH_EVENTS_MAX, 'the tail holds at least a batch');
assert(OUTBOX_BATCH_MAX >= OUTBOX_CONCURRENCY_MAX, 'a pass can fill the workers');
assert(FEE_BPS_DEFAULT <= FEE_BPS_MAX && FEE_BPS_MAX < 10_000, 'a fee is a fraction of a sale');
assert(HASHTAG_CHARS_MIN <= HASHTAG_CHARS_MAX, 'hashtag bounds');
{
  let lastAttemptAtMs = 0;
  for (let attempt = 1; attempt < WEBHOOK_ATTEMPTS_MAX; attempt++)
    lastAttemptAtMs += Math.min(RETRY_DELAY_MS_MAX, WEBHOOK_RETRY_BASE_MS * 2 ** (attempt - 1));
  assert(
    lastAttemptAtMs <= WEBHOOK_RETRY_WINDOW_MS,
    'the last webhook attempt is within the window',
  );
  assert(
    lastAttemptAtMs + RETRY_DELAY_MS_MAX > WEBHOOK_RETRY_WINDOW_MS,
    'webhooks are retried until the end of the window',
  );
}
assert(RELINK_COOL_DOWN_MS <= NEW_LINK_STEP_UP_MS * 7, 'a cool-down is shorter than a week');
assert(
  AMOUNT_MINOR_MAX * BigInt(QUANTITY_PER_POST_MAX) < 2n ** 62n,
  'an order total fits a Postgres bigint',
);
assert(GIFT_CODE_BITS >= 64, 'gift card codes carry at least 64 bits of randomness');
assert(PAY_DAILY_LIMIT_MAJOR <= PAY_WEEKLY_LIMIT_MAJOR, 'a day fits in a week');
assert(
  PAY_CONFIRM_ABOVE_MAJOR < PAY_DAILY_LIMIT_MAJOR,
  'payments below the limits can need a code',
);
assert(CLAIM_PERIOD_MS_MIN <= CLAIM_PERIOD_MS_DEFAULT, 'default claim period within bounds');
assert(CLAIM_PERIOD_MS_DEFAULT <= CLAIM_PERIOD_MS_MAX, 'default claim period within bounds');
assert(
  OAUTH_CODE_TTL_MS <= 10 * 60 * 1000,
  'RFC 6749 §4.1.2: authorization codes live 10 minutes at most',
);
assert(CART_ITEMS_MAX <= BATCH_EVENTS_MAX, 'a cart checks out within one decision');

/** Transfers read per page by `tagpay ledger verify` and by the chain backfill at start. */
export const LEDGER_VERIFY_PAGE_MAX = 5_000;
/** Card-linked offers on one card at once (enrolled, not yet redeemed): bounds a purchase's match. */
export const CARD_ENROLMENTS_PER_CARD_MAX = 100;
/** Card-linked offer enrolments per offer at most (an offer's max_enrolments). */
export const CARD_OFFER_ENROLMENTS_MAX = 10_000_000;
/** How far a processor webhook's timestamp may be from the clock (Stripe's default tolerance). */
export const PROCESSOR_WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;
/** Rows of a settlement file at most, and rows appended to the log per statement while importing. */
export const IMPORT_ROWS_MAX = 1_000_000;
export const IMPORT_BATCH_ROWS = 1_000;
/** Payouts in one payout run at most (one per merchant and currency). */
export const PAYOUTS_PER_RUN_MAX = 10_000;
