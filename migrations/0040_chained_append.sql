-- One statement per save (ADR 0007, docs/decisions/0007-one-round-trip-append.md):
-- lock the log, insert the events, read the chain head and append one chain row per event, all inside the
-- server. The client sends one message and waits once, so a save costs one network round trip plus the
-- commit, the same as a bare INSERT of one row.
--
-- The record hash is the v1 formula of api-and-security §5.1, computed here because prev_hash is only known
-- under the lock. domain/audit.py stays the reference: every verify recomputes each stored hash with it,
-- and tests/integration/test_chained_append.py checks the two agree on generated input.
CREATE FUNCTION paulp_append_events(
    events          stored_event_uuid[],
    event_ids       text[],
    stamp           text,
    agents          text[],
    event_types     text[],
    payloads        text[],
    payload_hashes  text[],
    evidence_hashes text[],
    lock_timeout    text
) RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
    n          integer := cardinality(events);
    nids       bigint[];
    head_seq   bigint;
    head_hash  text;
    head_ts    text;
    ts         text;
    seqs       bigint[] := '{}';
    prevs      text[] := '{}';
    hashes     text[] := '{}';
    h          text;
BEGIN
    IF n IS NULL OR n = 0 THEN
        RETURN;
    END IF;
    IF cardinality(event_ids) <> n OR cardinality(agents) <> n OR cardinality(event_types) <> n
       OR cardinality(payloads) <> n OR cardinality(payload_hashes) <> n OR cardinality(evidence_hashes) <> n THEN
        RAISE EXCEPTION 'paulp_append_events: % events but chain arrays of other lengths', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE paulp_events IN EXCLUSIVE MODE;
    NOTIFY paulp_events;
    WITH inserted AS (
        INSERT INTO paulp_events (originator_id, originator_version, topic, state)
        SELECT e.originator_id, e.originator_version, e.topic, e.state FROM unnest(events) AS e
        RETURNING notification_id
    )
    SELECT array_agg(notification_id ORDER BY notification_id) INTO nids FROM inserted;

    SELECT c.chain_seq, c.hash, c.timestamp INTO head_seq, head_hash, head_ts
    FROM audit_chain c ORDER BY c.chain_seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := 'genesis';
        ts := stamp;
    ELSE
        -- Store time never goes backwards (§5.4); the text is ISO-8601 UTC, so byte order is time order.
        ts := CASE WHEN stamp COLLATE "C" >= head_ts COLLATE "C" THEN stamp ELSE head_ts END;
    END IF;
    FOR i IN 1..n LOOP
        h := encode(sha256(convert_to(
                 event_ids[i] || '|' || ts || '|' || agents[i] || '|' || event_types[i] || '|'
                 || payload_hashes[i] || '|' || coalesce(evidence_hashes[i], '') || '|' || head_hash,
             'UTF8')), 'hex');
        seqs := seqs || (head_seq + i);
        prevs := prevs || head_hash;
        hashes := hashes || h;
        head_hash := h;
    END LOOP;
    INSERT INTO audit_chain (chain_seq, notification_id, event_id, timestamp, agent, event_type, payload,
                             payload_hash, evidence_hash, prev_hash, hash)
    SELECT s, nid, eid, ts, ag, et, pl, ph, eh, pv, hh
    FROM unnest(seqs, nids, event_ids, agents, event_types, payloads, payload_hashes, evidence_hashes, prevs, hashes)
        AS u(s, nid, eid, ag, et, pl, ph, eh, pv, hh);
    RETURN QUERY SELECT unnest(nids);
END $$;
