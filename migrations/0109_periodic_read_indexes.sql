-- Reads on a periodic or per-event path that scanned a whole table growing with the log (ADR 0518).
-- Each index is partial or narrow: it holds only the rows those reads look for.

-- The scheduler's abandoned-run sweep, every minute: RUNNING runs started long ago. The (started_at) index
-- walked every run ever recorded to find none (about 900,000 runs a year).
CREATE INDEX job_runs_running ON views.job_runs (started_at) WHERE state = 'RUNNING';

-- Relayed venue events matched to our order by the venue's order id (webhook_jobs.BY_KALSHI_ID), per event:
-- the filter on the record's JSON read every Kalshi order.
CREATE INDEX kalshi_orders_venue_order_id ON views.kalshi_orders ((record->>'order_id'));

-- The CLV sweep, every minute: filled orders still awaiting their closing line (clv_job.AWAITING), a few at a
-- time, among all orders ever placed.
CREATE INDEX orders_awaiting_closing_line ON views.orders (ticker, order_id)
    WHERE filled_size > 0 AND closing_line_at IS NULL;
