-- LLM routing read models (llm-routing §9.1, §9.6): one row per decision, one per attempt.
CREATE TABLE views.llm_decisions (
    decision_id          uuid PRIMARY KEY,
    decided_at           timestamptz NOT NULL,
    run_type             text NOT NULL,
    route_class          text,
    budget_category      text,
    resolution_source    text NOT NULL,
    routing_reason       text NOT NULL,
    strategy_id          text,
    chain                jsonb NOT NULL,
    selected_model_id    text,
    selected_provider    text,
    override_used        boolean NOT NULL,
    override_reason      text,
    projected_cost_usd   double precision NOT NULL,
    metadata             jsonb NOT NULL,
    status               text NOT NULL,
    success              boolean NOT NULL DEFAULT false,
    final_model_id       text,
    final_provider       text,
    error_code           text,
    failure_reason       text,
    retryable            boolean,
    attempts_count       integer NOT NULL DEFAULT 0,
    attempted            jsonb NOT NULL DEFAULT '[]',
    fallbacks_attempted  jsonb NOT NULL DEFAULT '[]',
    latency_ms           integer,
    input_tokens         integer,
    output_tokens        integer,
    cached_tokens        integer,
    actual_cost_usd      double precision,
    finished_at          timestamptz,
    decision_hash        text NOT NULL,
    last_notification_id bigint NOT NULL
);
CREATE INDEX llm_decisions_decided_at_idx ON views.llm_decisions (decided_at DESC, decision_id);
CREATE INDEX llm_decisions_run_type_idx ON views.llm_decisions (run_type, decided_at DESC);

CREATE TABLE views.llm_attempts (
    notification_id bigint PRIMARY KEY,
    decision_id     uuid NOT NULL,
    attempt_no      integer NOT NULL,
    run_type        text NOT NULL,
    model_id        text NOT NULL,
    provider        text NOT NULL,
    success         boolean NOT NULL,
    latency_ms      integer,
    error_code      text,
    error_message   text,
    UNIQUE (decision_id, attempt_no)
);

-- §9.6: rolling 7 days per route class, computed at read time with a real time comparison.
CREATE VIEW views.llm_routing_success_rate AS
SELECT route_class,
       count(*)::integer                                                   AS total_decisions,
       count(*) FILTER (WHERE success)::integer                            AS success_count,
       round(100.0 * count(*) FILTER (WHERE success) / count(*), 2)        AS success_rate_pct,
       round(avg(latency_ms))                                              AS avg_latency_ms,
       round(sum(coalesce(actual_cost_usd, 0))::numeric, 4)                AS total_cost_usd
  FROM views.llm_decisions
 WHERE decided_at >= now() - interval '7 days' AND status <> 'resolved' AND route_class IS NOT NULL
 GROUP BY route_class
 ORDER BY total_decisions DESC, route_class;
