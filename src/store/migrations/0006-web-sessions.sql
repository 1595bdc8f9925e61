-- Web sessions: the browser holds a random id in an httpOnly cookie, and only its SHA-256 is stored. A
-- session is who proved what: a handle on a network (its account is what posts come from: a DID on
-- Bluesky, user@server on Mastodon), or a merchant (the dashboard).
-- The CSRF token is a second secret, sent back by the page in a header on every state-changing request.
CREATE TABLE web_sessions (
  hash text PRIMARY KEY,
  network text,
  account text,
  handle text,
  merchant_id text REFERENCES merchants(id),
  csrf text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
);
CREATE INDEX web_sessions_handle ON web_sessions (network, handle)
;

-- E-mail addresses a handle proved it reads: the link in a verification e-mail was opened.
CREATE TABLE verified_emails (
  network text NOT NULL,
  account text NOT NULL,
  email text NOT NULL,
  verified_at bigint NOT NULL,
  PRIMARY KEY (network, account, email)
);

-- Fulfilment a merchant recorded for an order (shipped, with an optional carrier and tracking number).
CREATE TABLE order_fulfilments (
  order_id text PRIMARY KEY REFERENCES orders(id),
  merchant_id text NOT NULL REFERENCES merchants(id),
  carrier text,
  tracking text,
  fulfilled_at bigint NOT NULL
);
CREATE INDEX order_fulfilments_merchant ON order_fulfilments (merchant_id, fulfilled_at)
