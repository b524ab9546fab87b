-- Relayed venue webhooks (api-and-security §1.6): one row per accepted event, keyed for de-duplication.
-- The raw body is evidence (content-addressed blob) before parsing; the row names its hash.
CREATE TABLE webhook_inbox (
    dedupe_key     text PRIMARY KEY,
    source         text NOT NULL,
    event_type     text NOT NULL,
    evidence_hash  text NOT NULL CHECK (evidence_hash ~ '^[0-9a-f]{64}$'),
    payload        jsonb NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_inbox_type_time_idx ON webhook_inbox (event_type, received_at);
