-- Money to a handle, wallets, holds and gift cards (issue 7: flows 3 and 7).

-- A hold is a pending transfer: its money sits in the account `holds:pending` until the hold is
-- posted (to its credit account) or voided (back to its debit account). Holds and their resolutions
-- are only ever inserted: a hold is never edited, and the primary key lets it resolve once.
CREATE TABLE holds (
  id text PRIMARY KEY,
  ref text NOT NULL,
  debit text NOT NULL,
  minor bigint NOT NULL CHECK (minor > 0),
  currency text NOT NULL,
  transfer_id text NOT NULL,
  expires_at bigint,
  created_at bigint NOT NULL
);
CREATE TABLE hold_resolutions (
  hold_id text PRIMARY KEY REFERENCES holds(id),
  kind text NOT NULL CHECK (kind IN ('post', 'void')),
  credit text NOT NULL,
  transfer_id text NOT NULL,
  at bigint NOT NULL
);

CREATE TABLE handle_payments (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('pay', 'request')),
  payer_id text NOT NULL,
  payer_network text NOT NULL,
  payer_handle text NOT NULL,
  recipient_network text NOT NULL,
  recipient_handle text NOT NULL,
  recipient_id text,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  memo text NOT NULL,
  status text NOT NULL,
  code_hash text,
  expires_at bigint NOT NULL,
  wallet_minor bigint NOT NULL DEFAULT 0,
  card_minor bigint NOT NULL DEFAULT 0,
  hold_id text,
  charge_id text,
  network text NOT NULL,
  post_id text,
  failure text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX handle_payments_payer ON handle_payments (payer_id, created_at);
CREATE INDEX handle_payments_active ON handle_payments (status) WHERE status IN ('awaiting_confirmation', 'charging', 'pending_claim');

CREATE TABLE wallet_ops (
  id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('top_up', 'withdrawal')),
  shopper_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  status text NOT NULL,
  hold_id text,
  processor_ref text,
  failure text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX wallet_ops_shopper ON wallet_ops (shopper_id, created_at);

CREATE TABLE shopper_settings (
  shopper_id text PRIMARY KEY,
  visibility text NOT NULL CHECK (visibility IN ('public', 'private')),
  default_currency text,
  updated_at bigint NOT NULL
);

CREATE TABLE gift_card_offers (
  offer_id text PRIMARY KEY,
  value_minor bigint NOT NULL CHECK (value_minor > 0)
);
-- A gift card's code is kept only as its SHA-256, the code itself went to the buyer once.
CREATE TABLE gift_cards (
  id text PRIMARY KEY,
  code_hash text NOT NULL UNIQUE,
  order_id text NOT NULL,
  offer_id text NOT NULL,
  buyer_id text NOT NULL,
  value_minor bigint NOT NULL CHECK (value_minor > 0),
  currency text NOT NULL,
  redeemed_by text,
  redeemed_at bigint,
  created_at bigint NOT NULL
);

-- Money paid out to a card (wallet withdrawals) by the sandbox processor.
CREATE TABLE sandbox_credits (
  id text PRIMARY KEY,
  idem_key text NOT NULL UNIQUE,
  token text NOT NULL,
  amount_minor bigint NOT NULL,
  currency text NOT NULL,
  created_at bigint NOT NULL
);

-- The pair of the engine's assertion: no wallet and no pending-hold account is ever written negative.
ALTER TABLE balances ADD CONSTRAINT balances_wallet_not_negative
  CHECK ((account NOT LIKE 'wallet:%' AND account <> 'holds:pending') OR balance >= 0);
