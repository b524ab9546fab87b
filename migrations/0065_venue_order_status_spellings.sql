-- One key per order status in the trade views' filter column (ADR 0336): Kalshi's spellings `canceled` and
-- `executed`, written by relayed order updates, are keyed as ours, `cancelled` and `filled` (trading §1.6/§9).
-- The column is the record's status lower-cased, so only those two values change; the records keep the status
-- as it was written. A rebuild from the log gives the same rows (`paulp rebuild --projection venue_orders`).
UPDATE views.kalshi_orders SET status = CASE status WHEN 'canceled' THEN 'cancelled' ELSE 'filled' END
 WHERE status IN ('canceled', 'executed');
UPDATE views.ibkr_orders SET status = CASE status WHEN 'canceled' THEN 'cancelled' ELSE 'filled' END
 WHERE status IN ('canceled', 'executed');
