-- Scoring runs (llm-routing §8.2) and drift sweeps (§7.2); the go-live gate reads llm_drift_sweeps (§7.3).
CREATE TABLE views.llm_scoring_runs (
    run_id                   uuid PRIMARY KEY,
    decision_id              uuid NOT NULL UNIQUE,
    run_type                 text NOT NULL,
    target_entity_type       text,
    target_entity_id         text,
    prompt_version           text NOT NULL,
    prompt_hash              text NOT NULL,
    model_id                 text NOT NULL,
    input_hash               text NOT NULL,
    output                   jsonb NOT NULL,
    score                    double precision,
    confidence               double precision,
    warnings                 jsonb,
    flagged_for_human_review boolean NOT NULL,
    execution_failed         boolean NOT NULL,
    input_tokens             integer,
    output_tokens            integer,
    cost_usd                 double precision,
    created_at               timestamptz NOT NULL
);
CREATE INDEX llm_scoring_runs_created_idx ON views.llm_scoring_runs (created_at DESC);

CREATE TABLE views.llm_drift_sweeps (
    sweep_id                 uuid PRIMARY KEY,
    sweep_type               text NOT NULL,
    sweep_day                text NOT NULL,
    baseline_prompt_version  text NOT NULL,
    baseline_model_id        text NOT NULL,
    candidate_prompt_version text NOT NULL,
    candidate_model_id       text NOT NULL,
    gold_set_size            integer NOT NULL,
    mean_score_delta         double precision NOT NULL,
    max_score_delta          double precision NOT NULL,
    rank_order_changes       integer NOT NULL,
    prompt_injection_pass_rate double precision NOT NULL,
    mean_delta_threshold     double precision NOT NULL,
    max_delta_threshold      double precision NOT NULL,
    injection_pass_threshold double precision NOT NULL,
    passed                   boolean NOT NULL,
    blocked_deployment       boolean NOT NULL,
    deployment_allowed       boolean NOT NULL,
    failure_reasons          jsonb NOT NULL,
    swept_at                 timestamptz NOT NULL
);
CREATE INDEX llm_drift_sweeps_swept_idx ON views.llm_drift_sweeps (swept_at DESC);
