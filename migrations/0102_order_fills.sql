-- Each entry fill with its time and fee (ADR 0442), projected by "orders" from OrderRecord.FillRecorded: the
-- risk check's daily and weekly loss and drawdown count a fee as a loss at the time it was paid, and the order and
-- position rows only hold the sums. Exit sells' fees are on views.position_exits (fee_cents, updated_at).
CREATE TABLE views.order_fills (
    notification_id bigint PRIMARY KEY,          -- the FillRecorded event's place in the log
    order_uuid      uuid NOT NULL,
    strategy        text NOT NULL,
    ticker          text NOT NULL,
    side            text NOT NULL,
    mode            text NOT NULL,               -- the order's, as the positions row takes it
    fill_size       integer NOT NULL,
    fill_price      double precision NOT NULL,   -- cents of the order's side
    fee_cents       numeric,                     -- NULL: not known (ADR 0437)
    filled_at       timestamptz NOT NULL
);
CREATE INDEX order_fills_book ON views.order_fills (strategy, mode, filled_at);

-- The fills the orders projector applied before this migration, read from the log as the projection reads them
-- (the JSON transcoder's {"_type_", "_data_"} for Decimal and datetime; a v1 fill has no fee_cents: NULL), so the
-- view equals a rebuild's from the first day. Later fills are the projector's.
INSERT INTO views.order_fills (notification_id, order_uuid, strategy, ticker, side, mode, fill_size, fill_price,
                               fee_cents, filled_at)
SELECT e.notification_id, o.order_uuid, o.strategy, o.ticker, o.side, coalesce(o.mode, 'LIVE'),
       (j.s ->> 'fill_size')::integer, (j.s ->> 'fill_price')::double precision,
       (j.s -> 'fee_cents' ->> '_data_')::numeric, (j.s -> 'at' ->> '_data_')::timestamptz
FROM paulp_events e
CROSS JOIN LATERAL (SELECT convert_from(e.state, 'UTF8')::jsonb AS s) j
JOIN views.orders o ON o.order_uuid = e.originator_id
WHERE e.topic IN ('paulp.domain.order_record:OrderRecord.FillRecorded', 'paulp.domain.orders:Order.FillRecorded')
  AND e.notification_id <= (SELECT coalesce(max(last_notification_id), 0) FROM projection_tracking
                            WHERE name = 'orders');
