-- Strategy registry and operator reviews (ADR 0255). A strategy without a row has its catalogue's initial
-- status; the shown status is 'live' when a go-live (live_version) is newer than the go-live the last status
-- change saw (golive_seen), else own_status.
CREATE TABLE views.strategies (
    strategy_id                text PRIMARY KEY,
    own_status                 text NOT NULL,
    golive_seen                integer NOT NULL DEFAULT 0,
    live_version               integer NOT NULL DEFAULT 0,
    status_changed_at          timestamptz,
    status_changed_by          text,
    status_reason              text,
    max_capital_allocation_usd numeric,
    approved_by                text,
    approved_at                timestamptz,
    live_actors                jsonb,
    updated_at                 timestamptz NOT NULL,
    last_notification_id       bigint NOT NULL
);

-- Invariant violations: one row per failed critical invariant of an order's risk rejection.
CREATE TABLE views.violation_orders (
    order_uuid uuid PRIMARY KEY,
    order_id   text NOT NULL,
    strategy   text NOT NULL,
    ticker     text NOT NULL
);

CREATE TABLE views.invariant_violations (
    id               text PRIMARY KEY,
    notification_id  bigint NOT NULL,
    order_id         text NOT NULL,
    strategy         text NOT NULL,
    ticker           text NOT NULL,
    invariant_id     text NOT NULL,
    invariant_name   text NOT NULL,
    severity         text NOT NULL,
    description      text NOT NULL,
    action_taken     text NOT NULL,
    input_hash       text,
    triggered_at     timestamptz NOT NULL,
    resolved         boolean NOT NULL DEFAULT false,
    resolved_at      timestamptz,
    resolved_by      text,
    resolved_actor   text,
    resolution_notes text
);
CREATE INDEX invariant_violations_unresolved ON views.invariant_violations (triggered_at DESC, notification_id DESC)
    WHERE NOT resolved;

-- Cross-venue market pairs awaiting (or past) human review.
CREATE TABLE views.market_pairs (
    pair_id            text PRIMARY KEY,
    venue_a            text NOT NULL,
    market_a           text NOT NULL,
    venue_b            text NOT NULL,
    market_b           text NOT NULL,
    equivalence_grade  text,
    status             text NOT NULL,
    proposed_by        text NOT NULL,
    proposed_at        timestamptz NOT NULL,
    human_reviewer     text,
    human_review_date  timestamptz,
    human_review_notes text,
    reviewed_by_actor  text,
    updated_at         timestamptz NOT NULL
);
