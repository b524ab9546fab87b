-- Phase-gate signoffs (GateSignoffs.SignedOff), newest first by log position; the go-live gate reads
-- "phase = 4 AND NOT forced AND passed" (api-and-security §1.3).
CREATE TABLE views.gate_signoffs (
    signoff_id      text PRIMARY KEY,
    phase           smallint NOT NULL CHECK (phase BETWEEN 1 AND 4),
    target_phase    smallint NOT NULL CHECK (target_phase BETWEEN 1 AND 4),
    signed_off_by   text NOT NULL,
    signed_off_at   timestamptz NOT NULL,
    forced          boolean NOT NULL,
    passed          boolean NOT NULL,
    notes           text,
    gate_result     jsonb NOT NULL,
    notification_id bigint NOT NULL UNIQUE
);
CREATE INDEX gate_signoffs_phase_idx ON views.gate_signoffs (phase, notification_id DESC);
