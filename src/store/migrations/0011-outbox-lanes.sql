-- One index per outbox lane (src/outbox/worker.ts, OUTBOX_LANES), holding only the lane's rows
-- waiting for delivery, in the order a pass takes them: due time, then id. The lane's poll reads the
-- rows it will deliver and no other. With outbox_due (kind, id) and `ORDER BY id`, the planner read
-- the primary key instead and filtered past every pending row of the other lane and all the delivered
-- history on each poll: it estimates pending rows of a kind as (share pending) x (share of the kind),
-- and delivered charges make that far more than the few really waiting.
-- A kind added to a lane must be added here by a new migration (tests/outbox-lanes.test.ts checks).
CREATE INDEX outbox_charges_due ON outbox (next_at, id)
  WHERE status = 0 AND kind IN ('charge', 'refund', 'statement_credit', 'payout', 'card_credit');
CREATE INDEX outbox_effects_due ON outbox (next_at, id)
  WHERE status = 0 AND kind IN ('post', 'email', 'webhook');
DROP INDEX outbox_due;
