-- Closing lines and CLV (trading §4.2-4.3, §1.9; ADR 0419). ClosingLine.Observed rows are the §4.3 observations
-- taken from the order book near a market's close; ClosingLine.Estimated is the market's line, once; an order's
-- ClosingLineRecorded puts the line in its side's prices on the orders row. Prices: observations and lines are
-- YES probabilities; the orders columns are the order's own side's cents, as the rest of the row.
CREATE TABLE views.market_observations (
    ticker          text        NOT NULL,
    observed_at     timestamptz NOT NULL,
    mid_price       numeric     NOT NULL,
    depth_yes_usd   numeric     NOT NULL,
    depth_no_usd    numeric     NOT NULL,
    spread          numeric     NOT NULL,
    close_time      timestamptz,
    category        text,
    evidence_hash   text,
    notification_id bigint      NOT NULL,
    PRIMARY KEY (ticker, observed_at)
);

CREATE TABLE views.closing_lines (
    ticker                  text PRIMARY KEY,
    market_class            text        NOT NULL,
    method                  text        NOT NULL,
    resolution_time         timestamptz NOT NULL,
    closing_line_price      numeric     NOT NULL,
    quality_score           numeric     NOT NULL,
    is_valid                boolean     NOT NULL,
    scores                  jsonb       NOT NULL,
    observation_count       integer     NOT NULL,
    valid_observation_count integer     NOT NULL,
    estimated_at            timestamptz NOT NULL,
    notification_id         bigint      NOT NULL
);

ALTER TABLE views.orders
    ADD COLUMN closing_line_at      timestamptz,
    ADD COLUMN closing_line_time    timestamptz,
    ADD COLUMN closing_line_quality numeric,
    ADD COLUMN closing_line_method  text,
    ADD COLUMN clv_valid            boolean;

-- Per-strategy CLV history (the degradation check, `paulp clv show`): valid CLVs in closing order.
CREATE INDEX orders_strategy_clv ON views.orders (strategy, closing_line_time) WHERE clv_valid;
