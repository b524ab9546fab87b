-- Risk limits and execution policies as operators set them (RiskLimitSettings / StrategyExecutionPolicy events;
-- ADRs 0379, 0380), for operators and postmortems. The risk check and the execution step read the log, not these
-- views. No row = nothing changed yet: the spec's defaults (§3.2) and each mode's §5.1 policy, version 0.
CREATE TABLE views.risk_limits (
    id              text PRIMARY KEY CHECK (id = 'global'),
    limits          jsonb NOT NULL,       -- the whole row in the spec's names, as the risk check applies it
    version         bigint NOT NULL,      -- 0 until the first change; +1 per change
    updated_by      text,                 -- who put the last change in force (the approver of a loosening)
    proposed_by     text,                 -- who proposed it, when it was a loosening
    reason          text,
    updated_at      timestamptz,
    notification_id bigint NOT NULL
);

-- Every change and every loosening proposal, oldest first by notification id (the postmortem timeline).
CREATE TABLE views.risk_limit_changes (
    notification_id bigint PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('updated', 'proposed')),
    proposal_id     text,
    version         bigint,               -- the version the change made (updated) or was made on (proposed)
    changes         jsonb NOT NULL,
    previous        jsonb NOT NULL,
    actor           text NOT NULL,
    proposed_by     text,
    reason          text NOT NULL,
    at              timestamptz NOT NULL,
    expires_at      timestamptz           -- a proposal's last moment for approval
);

-- One row per strategy, venue and mode an operator has changed: the policy in force and the stored values.
CREATE TABLE views.execution_policies (
    strategy_id     text NOT NULL,
    venue           text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('PAPER', 'LIVE')),
    version         bigint NOT NULL,      -- the strategy's policy version at that venue (all modes count)
    policy          jsonb NOT NULL,       -- §5.1 fields in the spec's names
    overrides       jsonb NOT NULL,       -- what operators set over the mode's §5.1 column
    updated_by      text NOT NULL,
    reason          text NOT NULL,
    updated_at      timestamptz NOT NULL,
    notification_id bigint NOT NULL,
    PRIMARY KEY (strategy_id, venue, mode)
);

CREATE TABLE views.execution_policy_changes (
    notification_id bigint PRIMARY KEY,
    strategy_id     text NOT NULL,
    venue           text NOT NULL,
    mode            text NOT NULL,
    version         bigint NOT NULL,
    changes         jsonb NOT NULL,
    previous        jsonb NOT NULL,
    actor           text NOT NULL,
    reason          text NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX execution_policy_changes_strategy ON views.execution_policy_changes (strategy_id, venue);
