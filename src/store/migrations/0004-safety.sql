-- Safety: fraud controls, the audit log, scoped API keys, merchant verification, webhook secret
-- rotation and the sandbox's card fingerprints (issue 3).

-- Every security-relevant action, append-only: the rules below turn an UPDATE or a DELETE into nothing.
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  action text NOT NULL,
  actor text NOT NULL,
  subject text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE RULE audit_log_no_update AS ON UPDATE TO audit_log DO INSTEAD NOTHING;
CREATE RULE audit_log_no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;

-- What the fraud checks remember of a shopper beyond its profile (src/engine/flows/safety.ts).
CREATE TABLE shopper_guards (
  shopper_id text PRIMARY KEY,
  network text NOT NULL,
  account text NOT NULL,
  handle text NOT NULL,
  card_fingerprint text,
  linked_at bigint NOT NULL,
  cool_down_until bigint,
  address_changed_at bigint,
  owner_changed_at bigint,
  step_up_above_minor bigint,
  step_up_currency text,
  frozen_at bigint,
  frozen_by text,
  trusted_at bigint NOT NULL DEFAULT 0
);
CREATE INDEX shopper_guards_handle ON shopper_guards (network, handle);

-- Wrong confirmation codes per handle, so a restart does not reset the count or lift a pause.
CREATE TABLE wrong_codes (
  handle_key text PRIMARY KEY,
  since bigint NOT NULL,
  count int NOT NULL,
  paused_until bigint NOT NULL
);

-- Several keys per merchant, each with scopes: the hash stays the key, the id names it.
ALTER TABLE api_keys ADD COLUMN id text;
ALTER TABLE api_keys ADD COLUMN name text;
ALTER TABLE api_keys ADD COLUMN scopes text NOT NULL DEFAULT 'read,write';
ALTER TABLE api_keys ADD COLUMN last_used_at bigint;
CREATE UNIQUE INDEX api_keys_id ON api_keys (id);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, created_at);

ALTER TABLE merchants ADD COLUMN verified boolean NOT NULL DEFAULT false;
ALTER TABLE merchants ADD COLUMN webhook_secret_previous text;
ALTER TABLE merchants ADD COLUMN webhook_previous_until bigint;

-- The dead-letter list and the delivery list read webhooks per merchant.
CREATE INDEX outbox_webhooks ON outbox ((body::jsonb ->> 'merchant_id'), id) WHERE kind = 'webhook';

-- A keyed hash of the card number (never the number): the same card gives the same fingerprint.
ALTER TABLE sandbox_tokens ADD COLUMN fingerprint text
;
-- Keys made before this migration get their id, derived from the hash as for new keys.
UPDATE api_keys SET id = 'key_' || left(hash, 20) WHERE id IS NULL
