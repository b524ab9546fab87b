-- A DR rebuild's adopted contracts keep the venue's cost (ADR 0450): Kalshi's market_exposure of its whole position
-- of the key, in cents, exact; NULL when Kalshi gave no usable cost (or the adjustment removes contracts), and for
-- adjustments recorded before. The exit monitor judges adopted contracts only against a known cost.
ALTER TABLE views.position_adjustments ADD COLUMN venue_cost_cents numeric CHECK (venue_cost_cents > 0);
