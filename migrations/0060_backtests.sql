-- Completed backtests (BacktestRecord.Completed): the "backtest results" gate input of api-and-security §6
-- (strategy, name, period, trades, wins, pnl, expected value, sharpe, max drawdown, completed time).
-- P2_BACKTEST_QUALITY takes the mean expected_value of those completed in the last 30 days.
CREATE TABLE views.backtests (
    backtest_id      uuid PRIMARY KEY,
    strategy         text NOT NULL,
    name             text NOT NULL,
    period_start     timestamptz NOT NULL,
    period_end       timestamptz NOT NULL,
    trades           integer NOT NULL,
    wins             integer NOT NULL,
    pnl              double precision NOT NULL,
    expected_value   double precision NOT NULL,
    sharpe           double precision NOT NULL,
    max_drawdown     double precision NOT NULL,
    completed_at     timestamptz NOT NULL,
    data_hash        text NOT NULL,
    fair_hash        text NOT NULL,
    capital          double precision NOT NULL,
    slippage_cents   integer NOT NULL,
    signals          integer NOT NULL,
    trade_log        jsonb NOT NULL,
    notification_id  bigint NOT NULL
);
CREATE INDEX backtests_completed ON views.backtests (completed_at DESC, backtest_id);
