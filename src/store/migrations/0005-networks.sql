-- A shopper's handles beyond its first (which is in shoppers): one person, several networks. Each
-- (network, account) belongs to one shopper at most, whether it is a first handle or one of these.
CREATE TABLE shopper_handles (
  network text NOT NULL,
  account text NOT NULL,
  shopper_id text NOT NULL REFERENCES shoppers(id),
  handle text NOT NULL,
  added_at bigint NOT NULL,
  PRIMARY KEY (network, account)
);
CREATE INDEX shopper_handles_shopper ON shopper_handles (shopper_id);

-- The OAuth application tagpay registered on each Mastodon server for onboarding (POST /api/v1/apps),
-- kept so a server gets one registration, not one per shopper. Registered again when tagpay's
-- redirect URI changes (a new public URL).
CREATE TABLE mastodon_apps (
  server text PRIMARY KEY,
  redirect_uri text NOT NULL,
  client_id text NOT NULL,
  client_secret text NOT NULL,
  created_at bigint NOT NULL
);
