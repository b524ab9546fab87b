-- Operator correlation rules (trading §3.4 step 3; ADR 0431): "every market of this category / series moves
-- together at this weight", one row per active selector, projected from MarketCorrelationRule events by the
-- market_correlations projection. The risk check reads the active rows for I3.
CREATE TABLE views.correlation_rules (
    field            text NOT NULL CHECK (field IN ('category', 'series')),
    value            text NOT NULL,
    rule_type        text NOT NULL,
    weight           double precision NOT NULL CHECK (weight > 0 AND weight <= 1),
    declared_by      text NOT NULL,
    reason           text NOT NULL,
    declared_at      timestamptz NOT NULL,
    version          integer NOT NULL,
    notification_id  bigint NOT NULL,
    PRIMARY KEY (field, value)
);
