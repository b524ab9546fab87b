-- Order lifecycle read models: one row per order (state, sizes, prices, timestamps), positions per
-- (strategy, market, side), and the event graph the risk governor's correlation lookup reads (I3).
CREATE TABLE views.orders (
    order_uuid      uuid PRIMARY KEY,
    order_id        text NOT NULL UNIQUE,
    signal_id       text,
    strategy        text NOT NULL,
    ticker          text NOT NULL,
    side            text NOT NULL,
    requested_size  integer NOT NULL,
    max_price       numeric NOT NULL,
    state           text NOT NULL,
    filled_size     integer NOT NULL DEFAULT 0,
    avg_fill_price  numeric,
    last_error      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX orders_state_created ON views.orders (state, created_at);
CREATE INDEX orders_strategy_created ON views.orders (strategy, created_at DESC);

CREATE TABLE views.order_history (
    notification_id bigint PRIMARY KEY,
    order_uuid      uuid NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    reason          text NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX order_history_order ON views.order_history (order_uuid, notification_id);

CREATE TABLE views.positions (
    strategy         text NOT NULL,
    ticker           text NOT NULL,
    side             text NOT NULL,
    contracts        integer NOT NULL,
    cost_cents       bigint NOT NULL,
    realized_pnl_usd numeric NOT NULL DEFAULT 0,
    last_fill_at     timestamptz NOT NULL,
    PRIMARY KEY (strategy, ticker, side)
);

CREATE TABLE views.event_graph_edges (
    market_id         text NOT NULL,
    related_market_id text NOT NULL,
    correlation_score double precision NOT NULL,
    correlation_type  text NOT NULL,
    PRIMARY KEY (market_id, related_market_id)
);
