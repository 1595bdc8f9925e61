-- The ledger's hash chain: each transfer's place in the chain and its SHA-256, which covers the
-- hash before it (src/core/ledger-chain.ts). Rows written before this migration are chained at the
-- next start, in (at, id) order, before the engine decides anything.
ALTER TABLE transfers ADD COLUMN n bigint;
ALTER TABLE transfers ADD COLUMN hash text;
CREATE UNIQUE INDEX transfers_n ON transfers (n);
CREATE INDEX transfers_ref ON transfers (ref);

-- Partial refunds: how much of an order has been refunded so far.
ALTER TABLE orders ADD COLUMN refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0);
ALTER TABLE orders ADD COLUMN restocked int NOT NULL DEFAULT 0 CHECK (restocked >= 0 AND restocked <= quantity);

-- Card-linked offers (Amex Sync offers): a statement credit for a card purchase at the merchant.
CREATE TABLE card_offers (
  id text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES merchants(id),
  title text NOT NULL,
  hashtag text NOT NULL,
  credit_minor bigint NOT NULL CHECK (credit_minor > 0),
  min_spend_minor bigint NOT NULL CHECK (min_spend_minor >= credit_minor),
  currency text NOT NULL,
  starts_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  max_enrolments int NOT NULL CHECK (max_enrolments > 0),
  enrolled int NOT NULL CHECK (enrolled >= 0 AND enrolled <= max_enrolments),
  status text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX card_offers_merchant ON card_offers (merchant_id, created_at);
CREATE TABLE card_enrolments (
  id text PRIMARY KEY,
  card_offer_id text NOT NULL REFERENCES card_offers(id),
  shopper_id text NOT NULL,
  card_token text NOT NULL,
  network text NOT NULL,
  handle text NOT NULL,
  status text NOT NULL,
  enrolled_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  UNIQUE (card_offer_id, card_token)
);
CREATE INDEX card_enrolments_card ON card_enrolments (card_token);
-- One statement credit per card transaction id, ever.
CREATE TABLE card_credits (
  id text PRIMARY KEY,
  txn_id text NOT NULL UNIQUE,
  enrolment_id text NOT NULL UNIQUE REFERENCES card_enrolments(id),
  card_offer_id text NOT NULL,
  merchant_id text NOT NULL,
  shopper_id text NOT NULL,
  network text NOT NULL,
  handle text NOT NULL,
  card_token text NOT NULL,
  purchase_minor bigint NOT NULL,
  refunded_minor bigint NOT NULL DEFAULT 0,
  credit_minor bigint NOT NULL CHECK (credit_minor > 0),
  currency text NOT NULL,
  status text NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
-- Card transactions the engine has decided, for the dashboard and the import summary.
CREATE TABLE card_transactions (
  id text PRIMARY KEY,
  type text NOT NULL,
  card_token text NOT NULL,
  merchant_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  occurred_at bigint NOT NULL,
  original_id text,
  outcome text NOT NULL,
  created_at bigint NOT NULL
);

-- Payout runs: each moves merchants' payable balances to their bank (the sandbox bank here).
CREATE TABLE payout_runs (
  id text PRIMARY KEY,
  created_at bigint NOT NULL,
  payouts int NOT NULL
);
CREATE TABLE payouts (
  id text PRIMARY KEY,
  run_id text NOT NULL REFERENCES payout_runs(id),
  merchant_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  status text NOT NULL,
  bank_ref text,
  failure text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX payouts_run ON payouts (run_id);
CREATE INDEX payouts_merchant ON payouts (merchant_id, created_at);
CREATE TABLE sandbox_bank_payouts (
  id text PRIMARY KEY,
  idem_key text NOT NULL UNIQUE,
  merchant_id text NOT NULL,
  amount_minor bigint NOT NULL,
  currency text NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE sandbox_card_credits (
  id text PRIMARY KEY,
  idem_key text NOT NULL UNIQUE,
  card_token text NOT NULL,
  amount_minor bigint NOT NULL,
  currency text NOT NULL,
  kind text NOT NULL,
  created_at bigint NOT NULL
)
