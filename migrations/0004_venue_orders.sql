-- Venue order-history read models behind GET /admin/trades: one table per venue (each venue is its own
-- source and may fail on its own), every filter the endpoint offers pushed into the query (resolution).
CREATE TABLE views.kalshi_orders (
    order_id        text PRIMARY KEY,
    record          jsonb NOT NULL,
    strategy        text,          -- source_strategy
    ticker          text,
    status          text,          -- lower-cased for case-insensitive equality
    execution_mode  text,          -- upper-cased
    created_at      timestamptz,   -- NULL when missing or unparseable: sorts last
    seq             bigint NOT NULL -- notification id of the first record: stable tie order
);
CREATE TABLE views.ibkr_orders (LIKE views.kalshi_orders INCLUDING ALL);

CREATE INDEX kalshi_orders_created ON views.kalshi_orders (created_at DESC NULLS LAST, seq);
CREATE INDEX kalshi_orders_strategy ON views.kalshi_orders (strategy, created_at DESC NULLS LAST);
CREATE INDEX kalshi_orders_status_mode ON views.kalshi_orders (status, execution_mode, created_at DESC NULLS LAST);
CREATE INDEX kalshi_orders_ticker ON views.kalshi_orders (ticker, created_at DESC NULLS LAST);
CREATE INDEX ibkr_orders_created ON views.ibkr_orders (created_at DESC NULLS LAST, seq);
CREATE INDEX ibkr_orders_strategy ON views.ibkr_orders (strategy, created_at DESC NULLS LAST);
CREATE INDEX ibkr_orders_status_mode ON views.ibkr_orders (status, execution_mode, created_at DESC NULLS LAST);
CREATE INDEX ibkr_orders_ticker ON views.ibkr_orders (ticker, created_at DESC NULLS LAST);
