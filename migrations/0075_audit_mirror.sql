-- The audit mirror writer's position (api-and-security §5.1, ADR 0385): per mirror location, the highest chain
-- sequence whose file is durably written, and the writer's last failure, so /admin/audit/status
-- (unsyncedEvents) and /health/deep (audit_mirror) in any process see how far the mirror is behind and why.
CREATE TABLE audit_mirror_position (
    mirror          text        PRIMARY KEY,
    chain_seq       bigint      NOT NULL DEFAULT 0 CHECK (chain_seq >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    last_error_at   timestamptz,
    mismatch_seq    bigint
);
