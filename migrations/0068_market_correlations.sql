-- Operator-declared market correlations (MarketCorrelation.Declared / .Withdrawn; ADR 0365) are the rows of
-- views.event_graph_edges (migration 0005), which the risk check reads from either end (ADR 0300). Each row
-- the projection writes says who declared it, why and when; a row without them was inserted by hand before
-- there was a writer, is not in the log, and goes away on `paulp rebuild --projection market_correlations`.
ALTER TABLE views.event_graph_edges
    ADD COLUMN declared_by     text,
    ADD COLUMN reason          text,
    ADD COLUMN declared_at     timestamptz,
    ADD COLUMN version         bigint,
    ADD COLUMN notification_id bigint;

-- The lookup asks `market_id = M OR related_market_id = M`: the primary key serves the first half only.
CREATE INDEX event_graph_edges_related ON views.event_graph_edges (related_market_id);
