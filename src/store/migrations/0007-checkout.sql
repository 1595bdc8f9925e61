-- Buy-now links, the cart and pay with tagpay (DESIGN flows 4, 5, 6): src/engine/flows/checkout.ts.

-- Each offer post's id on its network, so a `#cart` reply names its offer.
CREATE TABLE offer_posts (
  network text NOT NULL,
  post_id text NOT NULL,
  offer_id text NOT NULL,
  PRIMARY KEY (network, post_id)
);

CREATE TABLE cart_items (
  id text PRIMARY KEY,
  network text NOT NULL,
  account text NOT NULL,
  offer_id text NOT NULL,
  variant text,
  quantity int NOT NULL CHECK (quantity > 0),
  post_id text NOT NULL,
  added_at bigint NOT NULL,
  -- The log position of the post that added it: the cart's order.
  seq bigint NOT NULL,
  status text NOT NULL
);
CREATE INDEX cart_items_owner ON cart_items (network, account) WHERE status = 'in_cart';

-- One card charge for one or more orders (order_ids, JSON), or for a shop's pay request.
CREATE TABLE payments (
  id text PRIMARY KEY,
  kind text NOT NULL,
  network text NOT NULL,
  account text NOT NULL,
  shopper_id text NOT NULL,
  merchant_id text,
  order_ids text NOT NULL,
  cart_item_ids text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  fee_minor bigint NOT NULL CHECK (fee_minor >= 0),
  currency text NOT NULL,
  status text NOT NULL,
  code_hash text,
  expires_at bigint NOT NULL,
  post_id text,
  client_id text,
  request_id text,
  redirect_uri text,
  code_challenge text,
  code_used_at bigint,
  charge_id text,
  failure text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX payments_open ON payments (status) WHERE status IN ('awaiting_confirmation', 'charging');
CREATE INDEX payments_shopper ON payments (network, account, created_at);

-- Outside shops that take payments with tagpay: OAuth 2.0 clients of a merchant.
CREATE TABLE shop_clients (
  id text PRIMARY KEY,
  merchant_id text NOT NULL REFERENCES merchants(id),
  name text NOT NULL,
  secret_hash text NOT NULL,
  redirect_uris text NOT NULL,
  webhook_url text,
  created_at bigint NOT NULL
);

CREATE TABLE pay_requests (
  id text PRIMARY KEY,
  client_id text NOT NULL REFERENCES shop_clients(id),
  merchant_id text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor > 0),
  currency text NOT NULL,
  description text NOT NULL,
  reference text,
  status text NOT NULL,
  payment_id text,
  expires_at bigint NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE INDEX pay_requests_open ON pay_requests (created_at) WHERE status = 'open';
