-- Unknown fees of LIVE exit sells settled later from Kalshi (ADR 0449): PositionExit.FeesCorrected gives a FILLED
-- exit whose fee_cents was NULL Kalshi's fee for its sell. The row keeps its updated_at (the fill's time, when the
-- risk loss windows count the fee); this column names the correction that set the fee, so a fee known at the fill and
-- one settled later stay apart. No event before this migration is such a correction: existing rows keep NULL, as a
-- rebuild from the log leaves them.
ALTER TABLE views.position_exits
    ADD COLUMN fee_corrected_by bigint;             -- the FeesCorrected event's notification id; NULL: known at fill
