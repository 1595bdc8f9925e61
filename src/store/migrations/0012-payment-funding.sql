-- Pay with tagpay (and buy-now and cart payments) can pay from the wallet: the shopper's choice, and
-- the wallet's part of the amount (held while the card is charged for the rest, then posted). The
-- card's part is the amount less the wallet's. Existing payments were paid by card. And what was
-- refunded of a pay-with-tagpay payment (it has no orders to carry it).
ALTER TABLE payments ADD COLUMN pay_from text NOT NULL DEFAULT 'card'
  CHECK (pay_from IN ('card', 'wallet'));
ALTER TABLE payments ADD COLUMN wallet_minor bigint NOT NULL DEFAULT 0
  CHECK (wallet_minor >= 0 AND wallet_minor <= amount_minor);
ALTER TABLE payments ADD COLUMN refunded_minor bigint NOT NULL DEFAULT 0
  CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor);
