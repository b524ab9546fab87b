-- Trading fees (ADR 0437): each fill's fee (LIVE: Kalshi's, PAPER: modelled), net of which PnL can be read.
-- Gross columns are unchanged. A fill whose fee is not known (recorded before fees, or an answer without a fee
-- field) adds nothing to the sums and clears the row's fees_complete: rows projected before this migration
-- are made of such fills, so the ones with fills start incomplete, as a rebuild from the log would leave them.
ALTER TABLE views.orders
    ADD COLUMN fees_cents    numeric,                       -- NULL until a fill with a known fee
    ADD COLUMN fees_complete boolean NOT NULL DEFAULT true;  -- every fill's fee known
UPDATE views.orders SET fees_complete = false WHERE filled_size > 0;

ALTER TABLE views.positions
    ADD COLUMN fees_cents    numeric NOT NULL DEFAULT 0,    -- entry fills' and exit sells' known fees
    ADD COLUMN fees_complete boolean NOT NULL DEFAULT true;
UPDATE views.positions SET fees_complete = false;

ALTER TABLE views.position_exits
    ADD COLUMN fee_cents numeric;                           -- NULL: not filled, or its fee not known
