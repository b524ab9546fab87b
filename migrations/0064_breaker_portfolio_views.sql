-- What the breaker concluded from each recorded portfolio valuation (trading §9 persistence: "portfolio
-- snapshots" and "tail_concentration_snapshots"), so an operator can see why a valuation moved the breaker
-- (`paulp breaker status`). Rows are recorded when the breaker records them: every evaluation of a direct
-- portfolio update, and a change of the latched alert levels or tail breach of a scheduled valuation (ADR 0325).
CREATE TABLE views.breaker_tail_snapshots (
    notification_id  bigint PRIMARY KEY,
    scope            text NOT NULL,
    herfindahl       double precision NOT NULL,
    max_position_pct double precision NOT NULL,
    position_count   integer NOT NULL,
    total_tail_value double precision NOT NULL,
    compliant        boolean NOT NULL,
    at               timestamptz NOT NULL
);

CREATE TABLE views.breaker_portfolio_alerts (
    notification_id bigint PRIMARY KEY,
    scope           text NOT NULL,
    levels          jsonb NOT NULL,  -- alert code -> latched severity (empty: every alert re-armed)
    total_value     double precision NOT NULL,
    daily_pnl       double precision NOT NULL,
    max_drawdown    double precision NOT NULL,
    at              timestamptz NOT NULL
);
