-- Web sessions: the browser holds a random id in an httpOnly cookie, and only its SHA-256 is stored. A
-- session is who proved what: a handle on a network (shopper pages) and/or a merchant (dashboard).
-- The CSRF token is a second secret, sent back by the page in a header on every state-changing request.
CREATE TABLE web_sessions (
  hash text PRIMARY KEY,
  network text,
  handle text,
  merchant_id text REFERENCES merchants(id),
  csrf text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
);
CREATE INDEX web_sessions_handle ON web_sessions (network, handle)
