-- Dead letters of the bus projectors (ADR 0398): where the message went on the DLQ stream, how often it was
-- tried, and whether an operator replayed it. Rows set aside by a log catch-up or rebuild leave these null.
ALTER TABLE projection_dead_letters
    ADD COLUMN consumer    text,
    ADD COLUMN stream_seq  bigint,
    ADD COLUMN dlq_seq     bigint,
    ADD COLUMN attempts    integer,
    ADD COLUMN replayed_at timestamptz,
    ADD COLUMN replayed_by text;
