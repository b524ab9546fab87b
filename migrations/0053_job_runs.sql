-- Orchestrator job runs (JobRun events: manual triggers, webhooks and §7.1 schedule slots), newest first:
-- did the 15:00 scan run, who triggered it, how did it end.
CREATE TABLE views.job_runs (
    run_uuid        uuid PRIMARY KEY,
    run_id          text NOT NULL UNIQUE,
    job             text NOT NULL,
    triggered_by    text NOT NULL,
    source          text NOT NULL,
    state           text NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    result          jsonb,
    error           text,
    notification_id bigint NOT NULL
);
CREATE INDEX job_runs_started ON views.job_runs (started_at DESC, run_id DESC);
CREATE INDEX job_runs_job_started ON views.job_runs (job, started_at DESC, run_id DESC);
