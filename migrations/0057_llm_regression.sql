-- LLM regression and adversarial suites (llm-routing §8.6, §8.7) with their per-test results, projected from
-- RegressionSuiteRecord.Completed. llm_regression_results is the §8.8 gate read model: gate_category maps the
-- runner's vocabulary (standard_resolution -> standard, disputed_market -> historically_disputed,
-- adversarial -> prompt_injection; the others unchanged) and category keeps the original.
CREATE TABLE views.llm_regression_runs (
    run_id            text PRIMARY KEY,
    record_id         uuid NOT NULL UNIQUE,
    suite             text NOT NULL,
    prompt_version    text NOT NULL,
    prompt_hashes     jsonb NOT NULL,
    total_tests       integer NOT NULL,
    passed            integer NOT NULL,
    failed            integer NOT NULL,
    pass_rate         double precision NOT NULL,
    by_category       jsonb NOT NULL,
    execution_time_ms bigint NOT NULL,
    started_at        timestamptz NOT NULL,
    completed_at      timestamptz NOT NULL,
    notification_id   bigint NOT NULL
);
CREATE INDEX llm_regression_runs_started ON views.llm_regression_runs (started_at DESC, run_id DESC);

CREATE TABLE views.llm_regression_results (
    run_id             text NOT NULL,
    test_id            text NOT NULL,
    suite              text NOT NULL,
    category           text NOT NULL,
    gate_category      text NOT NULL,
    attack_type        text,
    run_type           text NOT NULL,
    prompt_version     text NOT NULL,
    expected_score_min double precision NOT NULL,
    expected_score_max double precision NOT NULL,
    passed             boolean NOT NULL,
    score              double precision,
    confidence         double precision,
    failures           jsonb NOT NULL,
    decision_id        text,
    run_at             timestamptz NOT NULL,
    PRIMARY KEY (run_id, test_id)
);
CREATE INDEX llm_regression_results_run_at ON views.llm_regression_results (run_at DESC);
CREATE INDEX llm_regression_results_gate ON views.llm_regression_results (gate_category, run_at DESC);
