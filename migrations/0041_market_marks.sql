-- Last observed quotes per market (MarketMark events); positions are valued against them at read time.
CREATE TABLE views.market_marks (
    ticker               text PRIMARY KEY,
    yes_bid              integer,
    yes_ask              integer,
    no_bid               integer,
    no_ask               integer,
    observed_at          timestamptz NOT NULL,
    evidence_hash        text,
    last_notification_id bigint NOT NULL
);
