-- A market's determined outcome (MarketMark.Resolved): positions in it are valued at the settlement price.
ALTER TABLE views.market_marks ADD COLUMN result text;
ALTER TABLE views.market_marks ADD COLUMN resolved_at timestamptz;
ALTER TABLE views.market_marks ALTER COLUMN observed_at DROP NOT NULL;
