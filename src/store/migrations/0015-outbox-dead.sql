-- The dead letters (status 2: a delivery that gave up after its last attempt) have their own partial
-- index: /metrics counts them at every scrape (tagpay_outbox_dead_letters, DEAD_LETTERS_SQL), and the
-- outbox only grows, delivered rows by the million, and without it every scrape read the whole table.
-- tests/outbox-lanes.test.ts checks the plan.
CREATE INDEX outbox_dead ON outbox (kind) WHERE status = 2;
