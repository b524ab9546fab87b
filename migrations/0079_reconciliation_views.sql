-- Reconciliation runs and their drift rows (trading §7, §9 "reconciliation"; ADR 0393), projected from every
-- ReconciliationReport.Completed (projection "reconciliation"): a schedule slot, a trigger, a webhook or
-- POST /admin/reconcile. Sizes and percentages are exact decimals (ADR 0362), never binary floats.
CREATE TABLE views.reconciliation_runs (
    run_id               text PRIMARY KEY,  -- the JobRun's id (scheduled:reconcile:<minute> for a slot)
    report_uuid          uuid NOT NULL UNIQUE,
    venue                text NOT NULL,
    at                   timestamptz NOT NULL,
    internal_count       integer NOT NULL,
    venue_count          integer NOT NULL,
    matched_count        integer NOT NULL,
    drift_count          integer NOT NULL,  -- keys whose severity is not none
    max_drift_pct        numeric NOT NULL,  -- max |driftPct| over the compared keys
    total_absolute_drift numeric NOT NULL,
    status               text NOT NULL
                         CHECK (status IN ('ok', 'drift_detected', 'major_drift', 'critical_drift')),
    triggered_by         text NOT NULL,
    source               text CHECK (source IN ('admin', 'webhook', 'scheduler')),  -- null: a v1 report
    slot                 timestamptz,  -- the schedule slot's minute
    evidence_hashes      text[] NOT NULL,
    notification_id      bigint NOT NULL
);
CREATE INDEX reconciliation_runs_newest ON views.reconciliation_runs (at DESC, run_id DESC);

-- One row per compared (market, SIDE) whose severity is not none (§7 "each non-none drift").
CREATE TABLE views.reconciliation_drifts (
    run_id          text NOT NULL,
    market_id       text NOT NULL,
    side            text NOT NULL,
    internal_size   numeric NOT NULL,
    venue_size      numeric NOT NULL,
    drift           numeric NOT NULL,  -- venue - internal
    drift_pct       numeric NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
    at              timestamptz NOT NULL,
    notification_id bigint NOT NULL,
    PRIMARY KEY (run_id, market_id, side)
);
CREATE INDEX reconciliation_drifts_market ON views.reconciliation_drifts (market_id, at DESC, run_id DESC);
