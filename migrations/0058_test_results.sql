-- Verification-suite results (VerificationRun.Recorded, ADR 0264): one row per case of every run, the gate
-- input "test results (suite, name, status, duration, error, run time)". P1_CLV_SIGN_VALIDATION and
-- P2_17_INVARIANTS_TESTED count the passed cases of each suite's latest run (highest notification id).
CREATE TABLE views.test_results (
    run_uuid        uuid NOT NULL,
    run_id          text NOT NULL,
    suite           text NOT NULL,
    name            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('passed', 'failed', 'skipped')),
    duration_ms     double precision NOT NULL,
    error           text,
    run_at          timestamptz NOT NULL,
    triggered_by    text NOT NULL,
    code_version    text,
    notification_id bigint NOT NULL,
    PRIMARY KEY (run_uuid, name)
);
-- the latest run of a suite (gates, `paulp verify results`); its cases by the primary key
CREATE INDEX test_results_suite_latest ON views.test_results (suite, notification_id DESC);
