-- Unknown fees of LIVE fills settled later from Kalshi (ADR 0448): OrderRecord.FeesCorrected gives an order's
-- fills whose fee was NULL the part of Kalshi's cumulative fee not known before. The whole amount goes on the latest
-- of those fills (the time it counts as paid in the risk loss windows), 0 on the earlier ones; this column names the
-- correction that set them, so a fee known at fill time and one settled later stay apart. No event before this
-- migration is a correction: existing rows keep NULL, as a rebuild from the log leaves them.
ALTER TABLE views.order_fills
    ADD COLUMN fee_corrected_by bigint;             -- the FeesCorrected event's notification id; NULL: known at fill
