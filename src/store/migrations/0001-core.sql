
CREATE TABLE log (
  seq bigserial PRIMARY KEY,
  key text COLLATE "C" NOT NULL UNIQUE,
  kind text NOT NULL,
  at bigint NOT NULL,
  body text NOT NULL
);
CREATE TABLE cursors (name text PRIMARY KEY, value text NOT NULL);
CREATE TABLE settings (name text PRIMARY KEY, value text NOT NULL);

CREATE TABLE merchants (
  id text PRIMARY KEY,
  network text NOT NULL,
  handle text NOT NULL,
  name text NOT NULL,
  webhook_url text,
  webhook_secret text NOT NULL,
  fee_bps int,
  created_at bigint NOT NULL,
  UNIQUE (network, handle)
);
CREATE TABLE merchant_handles (
  merchant_id text NOT NULL REFERENCES merchants(id),
  network text NOT NULL,
  handle text NOT NULL,
  PRIMARY KEY (network, handle)
);
CREATE TABLE api_keys (
  hash text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES merchants(id),
  created_at bigint NOT NULL,
  revoked_at bigint
);
CREATE TABLE offers (
  id text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES merchants(id),
  title text NOT NULL,
  price_minor bigint NOT NULL CHECK (price_minor > 0),
  currency text NOT NULL,
  quantity int NOT NULL CHECK (quantity >= 0),
  available int NOT NULL CHECK (available >= 0),
  sold int NOT NULL CHECK (sold >= 0 AND sold + available <= quantity),
  variants text NOT NULL,
  per_buyer_max int,
  hashtag text NOT NULL,
  window_ms int NOT NULL,
  starts_at bigint NOT NULL,
  ends_at bigint,
  status text NOT NULL,
  published_at bigint,
  created_at bigint NOT NULL
);
CREATE INDEX offers_merchant ON offers (merchant_id, created_at);
CREATE TABLE shoppers (
  id text PRIMARY KEY,
  network text NOT NULL,
  account text NOT NULL,
  handle text NOT NULL,
  email text NOT NULL,
  shipping_address text NOT NULL,
  card_token text NOT NULL,
  card_brand text NOT NULL,
  card_last4 text NOT NULL,
  purchase_limit_minor bigint,
  daily_limit_minor bigint,
  limit_currency text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  UNIQUE (network, account)
);
CREATE INDEX shoppers_handle ON shoppers (network, handle);
CREATE TABLE orders (
  id text PRIMARY KEY,
  offer_id text NOT NULL,
  merchant_id text NOT NULL,
  shopper_id text,
  network text NOT NULL,
  handle text NOT NULL,
  variant text,
  quantity int NOT NULL CHECK (quantity > 0),
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  fee_minor bigint NOT NULL CHECK (fee_minor >= 0),
  currency text NOT NULL,
  status text NOT NULL,
  code_hash text,
  expires_at bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  post_id text NOT NULL,
  shipping_address text,
  failure text,
  charge_id text
) WITH (fillfactor = 70);
CREATE INDEX orders_handle ON orders (network, handle);
CREATE INDEX orders_merchant ON orders (merchant_id, created_at);
CREATE TABLE waitlist (
  id text PRIMARY KEY,
  offer_id text NOT NULL,
  network text NOT NULL,
  handle text NOT NULL,
  variant text,
  quantity int NOT NULL,
  post_id text NOT NULL,
  joined_at bigint NOT NULL,
  seq bigint NOT NULL,
  status text NOT NULL
);
CREATE INDEX waitlist_offer ON waitlist (offer_id, seq) WHERE status = 'waiting';

CREATE TABLE transfers (
  id text PRIMARY KEY,
  ref text NOT NULL,
  at bigint NOT NULL
);
CREATE TABLE postings (
  transfer_id text NOT NULL,
  n smallint NOT NULL,
  debit text NOT NULL,
  credit text NOT NULL,
  minor bigint NOT NULL CHECK (minor > 0),
  currency text NOT NULL,
  PRIMARY KEY (transfer_id, n)
);
CREATE TABLE balances (
  account text NOT NULL,
  currency text NOT NULL,
  balance bigint NOT NULL,
  PRIMARY KEY (account, currency)
);

-- The outbox key is the idempotency key on the receiving side. It needs no unique index: rows are
-- written only with the engine cursor, so a batch is never written twice.
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  key text COLLATE "C" NOT NULL,
  kind text NOT NULL,
  body text NOT NULL,
  status smallint NOT NULL DEFAULT 0,
  attempts int NOT NULL DEFAULT 0,
  next_at bigint NOT NULL DEFAULT 0,
  last_error text,
  delivered_at bigint
);
CREATE INDEX outbox_due ON outbox (kind, id) WHERE status = 0;
CREATE TABLE api_results (
  key text COLLATE "C" PRIMARY KEY,
  status int NOT NULL,
  body text NOT NULL
);

CREATE TABLE mailbox (
  id bigserial PRIMARY KEY,
  key text NOT NULL UNIQUE,
  to_addr text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX mailbox_to ON mailbox (to_addr, id);

CREATE TABLE local_accounts (
  handle text PRIMARY KEY,
  demo boolean NOT NULL DEFAULT false,
  claimable boolean NOT NULL DEFAULT false,
  created_at bigint NOT NULL
);
CREATE TABLE local_tokens (
  hash text PRIMARY KEY,
  handle text NOT NULL REFERENCES local_accounts(handle),
  created_at bigint NOT NULL
);
CREATE TABLE local_posts (
  id bigserial PRIMARY KEY,
  author text NOT NULL REFERENCES local_accounts(handle),
  text text NOT NULL,
  reply_to bigint REFERENCES local_posts(id),
  mentions text[] NOT NULL,
  created_at bigint NOT NULL,
  idem_key text UNIQUE
);
CREATE INDEX local_posts_reply_to ON local_posts (reply_to);

CREATE TABLE sandbox_tokens (
  id text PRIMARY KEY,
  brand text NOT NULL,
  last4 text NOT NULL,
  exp_month int NOT NULL,
  exp_year int NOT NULL,
  behavior text NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE sandbox_charges (
  id text PRIMARY KEY,
  idem_key text NOT NULL UNIQUE,
  token text NOT NULL,
  amount_minor bigint NOT NULL,
  currency text NOT NULL,
  status text NOT NULL,
  refunded_minor bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL
);
CREATE TABLE sandbox_refunds (
  id text PRIMARY KEY,
  idem_key text NOT NULL UNIQUE,
  charge_id text NOT NULL REFERENCES sandbox_charges(id),
  amount_minor bigint NOT NULL,
  created_at bigint NOT NULL
);
