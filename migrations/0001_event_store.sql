-- The one global event log (same DDL the eventsourcing library creates for a recorder named paulp_events),
-- the audit chain written in the same transaction, and append-only enforcement for both.
CREATE TYPE stored_event_uuid AS (originator_id uuid, originator_version bigint, topic text, state bytea);

CREATE TABLE paulp_events (
    originator_id      uuid   NOT NULL,
    originator_version bigint NOT NULL,
    topic              text,
    state              bytea,
    notification_id    bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000,
        autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000,
        autovacuum_analyze_scale_factor = 0.01);
CREATE UNIQUE INDEX paulp_events_notification_id_idx ON paulp_events (notification_id ASC);

CREATE TABLE audit_chain (
    chain_seq       bigint PRIMARY KEY CHECK (chain_seq >= 1),
    notification_id bigint NOT NULL UNIQUE,
    event_id        text   NOT NULL UNIQUE,
    timestamp       text   NOT NULL,
    agent           text   NOT NULL,
    event_type      text   NOT NULL,
    payload         text   NOT NULL,
    payload_hash    text   NOT NULL,
    evidence_hash   text,
    prev_hash       text   NOT NULL,
    hash            text   NOT NULL
);

CREATE FUNCTION paulp_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER paulp_events_append_only BEFORE UPDATE OR DELETE ON paulp_events
    FOR EACH ROW EXECUTE FUNCTION paulp_refuse_change();
CREATE TRIGGER paulp_events_no_truncate BEFORE TRUNCATE ON paulp_events
    FOR EACH STATEMENT EXECUTE FUNCTION paulp_refuse_change();
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION paulp_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION paulp_refuse_change();
