-- The market category each order's risk check judged it in (Order RiskChecked result "category", ADR 0299):
-- the risk snapshot gives a position the category of the latest order in its market (I4), 'unknown' when
-- none recorded one (orders checked before this migration, whose events do not carry it).
ALTER TABLE views.orders ADD COLUMN category text;
CREATE INDEX orders_ticker_created ON views.orders (ticker, created_at DESC);
