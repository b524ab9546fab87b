CREATE TABLE views.breaker_state (
    scope                text PRIMARY KEY,
    breaker_id           uuid NOT NULL UNIQUE,
    state                text NOT NULL,
    consecutive_failures integer NOT NULL,
    halt_started_at      timestamptz,
    last_state_change    timestamptz,
    last_reason          text,
    last_actor           text,
    last_notification_id bigint NOT NULL
);

CREATE TABLE views.breaker_transitions (
    notification_id bigint PRIMARY KEY,
    scope           text NOT NULL,
    from_state      text NOT NULL,
    to_state        text NOT NULL,
    reason          text NOT NULL,
    actor           text NOT NULL,
    trigger         text NOT NULL,
    at              timestamptz NOT NULL
);

CREATE TABLE views.breaker_alerts (
    notification_id bigint PRIMARY KEY,
    scope           text NOT NULL,
    code            text NOT NULL,
    severity        text NOT NULL,
    message         text NOT NULL,
    at              timestamptz NOT NULL
);
