-- Execution quality (trading §5.5, §9; ADR 0387): one report per order that has filled, projected from the order's
-- own events (projection "execution_reports"); the risk check's I18 reads slippage_history, the dashboard
-- execution_reports. Prices and slippage in cents; spread, edge and VPIN as the order recorded them.

-- Every order's facts a report needs, gathered from its events until (and after) it fills.
CREATE TABLE views.execution_report_orders (
    order_uuid          uuid PRIMARY KEY,
    order_id            text NOT NULL,
    strategy            text NOT NULL,
    ticker              text NOT NULL,
    side                text NOT NULL,
    mode                text CHECK (mode IN ('PAPER', 'LIVE')),  -- from its SUBMITTED transition
    limit_cents         double precision NOT NULL,  -- maxPrice: the venue limit
    order_size          integer NOT NULL,  -- after any risk-step reduction
    signal_edge         double precision,  -- probability units
    created_at          timestamptz NOT NULL,
    sent_at             timestamptz,  -- entered SUBMITTING
    spread              double precision,  -- pre-trade check, probability units
    depth_usd           double precision,  -- pre-trade check
    vpin                double precision,  -- pre-trade check
    fills               integer NOT NULL DEFAULT 0,
    filled_size         integer NOT NULL DEFAULT 0,
    avg_fill_cents      double precision,
    first_fill_at       timestamptz,
    executed_at         timestamptz,  -- latest fill
    last_fill_nid       bigint  -- the latest FillRecorded applied (a redelivered one changes nothing)
);

CREATE TABLE views.execution_reports (
    order_id               text PRIMARY KEY,
    strategy_id            text NOT NULL,
    venue                  text NOT NULL,
    mode                   text NOT NULL CHECK (mode IN ('PAPER', 'LIVE')),
    ticker                 text NOT NULL,
    side                   text NOT NULL,
    signal_price           double precision NOT NULL,  -- cents: maxPrice = round(signal marketPrice x 100) (§1.7)
    limit_price            double precision NOT NULL,
    expected_fill_price    double precision NOT NULL,  -- the limit: a limit order fills there or better
    actual_fill_price      double precision NOT NULL,  -- average of the fills so far
    expected_slippage      double precision NOT NULL,
    realized_slippage      double precision NOT NULL,
    slippage_ratio         double precision NOT NULL,
    edge_percent           double precision NOT NULL,
    slippage_vs_edge_ratio double precision NOT NULL,
    execution_grade        text NOT NULL CHECK (execution_grade IN ('EXCELLENT', 'GOOD', 'ACCEPTABLE', 'POOR')),
    grade_score            integer NOT NULL,
    order_size             integer NOT NULL,
    filled_size            integer NOT NULL,
    order_notional         double precision NOT NULL,  -- cent-contracts
    fill_rate              double precision NOT NULL,
    fills_count            integer NOT NULL,
    partial_fills_count    integer NOT NULL,
    market_spread          double precision,  -- cents, at the pre-trade check; NULL when none was recorded
    market_depth_usd       double precision,
    vpin                   double precision,
    order_to_send_ms       bigint,
    send_to_fill_ms        bigint,
    order_to_fill_ms       bigint NOT NULL,
    time_of_day            integer NOT NULL CHECK (time_of_day BETWEEN 0 AND 23),  -- UTC hour of executed_at
    created_at             timestamptz NOT NULL,
    executed_at            timestamptz NOT NULL
);
CREATE INDEX execution_reports_executed_at ON views.execution_reports (executed_at DESC, order_id);

CREATE TABLE views.slippage_history (
    order_id               text PRIMARY KEY,
    market_id              text NOT NULL,
    mode                   text NOT NULL CHECK (mode IN ('PAPER', 'LIVE')),
    expected               double precision NOT NULL,
    realized               double precision NOT NULL,
    ratio                  double precision NOT NULL,
    slippage_vs_edge_ratio double precision NOT NULL,
    depth                  double precision,  -- USD
    spread                 double precision,  -- cents
    order_size             integer NOT NULL,
    exceeds_kill_threshold boolean NOT NULL,
    kill_threshold_pct     double precision NOT NULL,
    executed_at            timestamptz NOT NULL
);
CREATE INDEX slippage_history_market ON views.slippage_history (market_id, mode, executed_at DESC);
