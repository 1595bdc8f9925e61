-- The payments a start reloads (src/engine/flows/checkout-store.ts, OPEN_PAYMENTS_SQL): those still
-- waiting for a code, an approval or a charge, and pay-with-tagpay payments whose authorization code
-- a shop may still exchange. payments_open left out 'awaiting_step_up' and nothing indexed the
-- unexchanged codes, so the planner read the whole payments table at every start: a table that only
-- grows, paid payments by the million on a busy tagpay. Each part now has its own partial index and
-- the query reads the two with a BitmapOr (tests/payments-open.test.ts checks the plan).
DROP INDEX payments_open;
CREATE INDEX payments_open ON payments (created_at)
  WHERE status IN ('awaiting_confirmation', 'awaiting_step_up', 'charging');
CREATE INDEX payments_oauth_unexchanged ON payments (created_at)
  WHERE kind = 'oauth' AND code_used_at IS NULL;
