-- Capital allocation per strategy (trading §5.7, §9; api-and-security §7.1 resolution; ADR 0389), projected
-- (projection "capital_allocations") from the events that decide it: GoLiveApproval.WentLive (capital, 5 %
-- position cap, enabled) and Strategy.StatusChanged (disabled/halted disable, paper re-enables). A strategy
-- without a row has §5.7's static allocation; the scan, the risk check's portfolio value and the dashboard read
-- this table. own_status, golive_seen and live_version are the registry's race rule (ADR 0255) that decides
-- whether a status change or a go-live stands.
CREATE TABLE views.capital_allocations (
    strategy_id          text PRIMARY KEY,
    capital              numeric NOT NULL CHECK (capital >= 0),
    max_position_pct     numeric NOT NULL CHECK (max_position_pct > 0),
    enabled              boolean NOT NULL,
    enabled_at           timestamptz,
    disabled_at          timestamptz,
    disable_reason       text,
    approved_by          text,
    approved_at          timestamptz,
    allocated_at         timestamptz,  -- when a go-live last set the capital; NULL: §5.7's static capital
    own_status           text,
    golive_seen          integer NOT NULL DEFAULT 0,
    live_version         integer NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL,
    last_notification_id bigint NOT NULL
);
