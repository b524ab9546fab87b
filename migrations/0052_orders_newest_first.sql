-- GET /admin/orchestrator/orders: newest first, order id as tie-break. Filtered reads use the existing
-- (state, created_at) and (strategy, created_at DESC) indexes; the unfiltered list needs this one.
CREATE INDEX orders_created_order ON views.orders (created_at DESC, order_id DESC);
