-- Human overrides of scoring runs (llm-routing §8.3, ``LlmScoringOverriddenByHuman``) and the per-market lookup
-- the trade path makes for the execution gate and I12/I13 (ADR 0425).
ALTER TABLE views.llm_scoring_runs
    ADD COLUMN human_override_score  double precision,
    ADD COLUMN human_override_reason text,
    ADD COLUMN overridden_by         text,
    ADD COLUMN overridden_at         timestamptz;
CREATE INDEX llm_scoring_runs_target_idx
    ON views.llm_scoring_runs (target_entity_type, target_entity_id, created_at DESC);
