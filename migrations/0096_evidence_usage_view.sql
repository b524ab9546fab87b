-- Evidence usage lineage (api-and-security §4.3 `evidence_usage`; ADR 0430): which aggregate's which event named
-- which evidence blob, projected from the log (projection "evidence_usage") so it can be replayed and rebuilt like
-- every view. The table of migration 0007 was never written and had a foreign key to the blob index, which would
-- make a projection depend on a table outside the log; it is replaced by this view.
DROP TABLE IF EXISTS evidence_usage;

CREATE TABLE views.evidence_usage (
    notification_id      bigint NOT NULL,  -- the naming event's place in the log
    evidence_hash        text NOT NULL CHECK (evidence_hash ~ '^[0-9a-f]{64}$'),
    derived_entity_type  text NOT NULL,  -- the aggregate, snake_case (order, market_mark, position_exit, ...)
    derived_entity_id    text NOT NULL,  -- its originator id
    extraction_path      text NOT NULL,  -- the event class that named it (Order.FillRecorded, ...)
    extracted_at         timestamptz,    -- the event's own time when it has one
    PRIMARY KEY (evidence_hash, notification_id)
);
CREATE INDEX evidence_usage_entity ON views.evidence_usage (derived_entity_type, derived_entity_id);
