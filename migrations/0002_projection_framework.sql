-- Read models live in schema "views"; tracking and dead letters record each projection's position.
CREATE SCHEMA IF NOT EXISTS views;

CREATE TABLE projection_tracking (
    name                 text PRIMARY KEY,
    last_notification_id bigint NOT NULL DEFAULT 0,
    last_stream_seq      bigint NOT NULL DEFAULT 0,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projection_dead_letters (
    id              bigserial PRIMARY KEY,
    projection      text   NOT NULL,
    notification_id bigint NOT NULL,
    topic           text   NOT NULL,
    error           text   NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (projection, notification_id)
);
