-- Venue positions adopted as internal truth (trading §7 "Rebuild", §8 DR step 4; ADR 0415), projected by
-- "reconciliation" from PositionRebuild's events: one row per rebuild (who, why, the evidence of the venue read)
-- and one per adjusted (market, SIDE). Internal LIVE positions are LIVE fills - LIVE exit sells + these
-- adjustments (the reconcile job's LIVE_FILLS). Contracts are exact decimals (Kalshi counts in fixed point).
CREATE TABLE views.position_rebuilds (
    rebuild_id      text PRIMARY KEY,
    rebuild_uuid    uuid NOT NULL UNIQUE,
    venue           text NOT NULL,
    operator        text NOT NULL,
    reason          text NOT NULL,
    breaker_state   text NOT NULL,
    venue_read_at   timestamptz NOT NULL,
    status_before   text NOT NULL,  -- the adopted comparison's §7 status
    evidence_hashes text[] NOT NULL,
    at              timestamptz NOT NULL,
    notification_id bigint NOT NULL
);

CREATE TABLE views.position_adjustments (
    rebuild_id      text NOT NULL,
    ticker          text NOT NULL,
    side            text NOT NULL CHECK (side IN ('YES', 'NO')),
    internal_size   numeric NOT NULL,  -- internal contracts the comparison read
    venue_size      numeric NOT NULL,
    contracts       numeric NOT NULL CHECK (contracts <> 0),  -- venue - internal, added to internal
    at              timestamptz NOT NULL,
    notification_id bigint NOT NULL,
    PRIMARY KEY (rebuild_id, ticker, side)
);
CREATE INDEX position_adjustments_key ON views.position_adjustments (ticker, side);
