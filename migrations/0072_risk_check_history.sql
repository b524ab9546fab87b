-- The whole risk evaluation an order's RiskChecked event records from ADR 0377 on (trading §3.3, §8, §9).
-- Actual and threshold of each violated invariant: JSON values, since they are numbers, text ("10 - 10000",
-- "NOT HALT") or booleans; NULL for violations recorded before (their events did not keep them).
ALTER TABLE views.invariant_violations
    ADD COLUMN actual_value    jsonb,
    ADD COLUMN threshold_value jsonb;

-- One row per evaluation (the first check and the execute step's re-checks). Counts, warnings, results and the
-- checked USD size are NULL for evaluations recorded before ADR 0377; critical_failures is always known.
CREATE TABLE views.risk_check_history (
    notification_id   bigint PRIMARY KEY,
    order_id          text NOT NULL,
    market_id         text NOT NULL,
    strategy          text NOT NULL,
    size_usd          double precision,
    contracts         integer NOT NULL,
    approved          boolean NOT NULL,
    recheck           boolean NOT NULL,
    breaker_state     text,
    invariants_passed integer,
    invariants_failed integer,
    critical_failures text[] NOT NULL,
    warnings          text[],
    results           jsonb,
    input_hash        text,
    checked_at        timestamptz NOT NULL
);
CREATE INDEX risk_check_history_order ON views.risk_check_history (order_id, notification_id);
CREATE INDEX risk_check_history_checked_at ON views.risk_check_history (checked_at DESC, notification_id DESC);
