-- Relayed venue events are applied after they are received (ADR 0261): when, and what it did.
ALTER TABLE webhook_inbox ADD COLUMN processed_at timestamptz;
ALTER TABLE webhook_inbox ADD COLUMN outcome text;
CREATE INDEX webhook_inbox_pending_idx ON webhook_inbox (received_at, dedupe_key) WHERE processed_at IS NULL;
