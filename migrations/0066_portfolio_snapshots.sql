-- Portfolio snapshots (trading §9 persistence: {total_value, daily_pnl, weekly_pnl, max_drawdown,
-- position_count, timestamp}): one row per valuation of the book handed to the breaker, projected from the
-- exits run's report (JobRun.Completed `portfolio`; ADR 0356). `GET /admin/status` shows the latest.
CREATE TABLE views.portfolio_snapshots (
    notification_id bigint PRIMARY KEY,  -- the JobRun.Completed that carries the valuation
    mode            text NOT NULL CHECK (mode IN ('PAPER', 'LIVE')),
    total_value     double precision NOT NULL,
    daily_pnl       double precision NOT NULL,
    weekly_pnl      double precision NOT NULL,
    max_drawdown    double precision NOT NULL,  -- a fraction of peak equity (trading §2.3)
    position_count  integer,  -- NULL for runs recorded before reports carried it
    valued_at       timestamptz NOT NULL
);
CREATE INDEX portfolio_snapshots_latest ON views.portfolio_snapshots (valued_at DESC, notification_id DESC);

-- Exits runs started and not yet finished: a JobRun.Completed does not name its job, its Created does.
CREATE TABLE views.portfolio_snapshot_runs (
    run_uuid uuid PRIMARY KEY
);
