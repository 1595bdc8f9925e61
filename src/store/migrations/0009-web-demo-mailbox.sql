-- Addresses a handle asked tagpay to verify (a verification e-mail was sent for them). The demo
-- mailbox page shows a signed-in person the e-mail sent to these addresses and to their linked one,
-- and nothing else, so one demo visitor does not read another's mail.
CREATE TABLE email_verification_requests (
  network text NOT NULL,
  account text NOT NULL,
  email text NOT NULL,
  requested_at bigint NOT NULL,
  PRIMARY KEY (network, account, email)
);
