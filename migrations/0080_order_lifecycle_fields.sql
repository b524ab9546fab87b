-- The order-lifecycle read model carries the record trading §9 marks required (§1.1, §1.3; ADR 0396):
-- state history, fill figures, signal fields, evidence, retries, the §1.3 timestamps and compact summaries of
-- the pre-trade, risk and reconciliation results. GET /admin/orchestrator/orders reads them from the row.
-- Prices in cents and probabilities are numeric; the history and evidence are jsonb lists in log order.
ALTER TABLE views.orders
    ADD COLUMN state_history            jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN entry_price              numeric,
    ADD COLUMN closing_line_price       numeric,
    ADD COLUMN clv                      numeric,
    ADD COLUMN signal_model_probability numeric,
    ADD COLUMN signal_edge              numeric,
    ADD COLUMN signal_confidence        numeric,
    ADD COLUMN evidence_hashes          jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN retry_count              integer NOT NULL DEFAULT 0,
    ADD COLUMN pre_trade_checked_at     timestamptz,
    ADD COLUMN validated_at             timestamptz,
    ADD COLUMN risk_approved_at         timestamptz,
    ADD COLUMN submitted_at             timestamptz,
    ADD COLUMN acknowledged_at          timestamptz,
    ADD COLUMN filled_at                timestamptz,
    ADD COLUMN reconciled_at            timestamptz,
    ADD COLUMN archived_at              timestamptz,
    ADD COLUMN closed_at                timestamptz,
    ADD COLUMN pre_trade_check_result   jsonb,
    ADD COLUMN risk_check_result        jsonb,
    ADD COLUMN reconciliation_result    jsonb;

-- Rows projected before this migration: what views.order_history holds is filled in here (the history, the
-- timestamps, the retries), exactly as the projector writes it. Signal fields, fill figures beyond size and
-- average, evidence and the check results are only in the log: `paulp rebuild --projection orders --yes`.
WITH h AS (
    SELECT order_uuid,
           jsonb_agg(jsonb_build_object(
               'from', from_state, 'to', to_state,
               'timestamp', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'reason', reason)
               ORDER BY notification_id) AS entries,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'PRE_TRADE_CHECK'))[1] AS ptc,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'VALIDATED'))[1] AS val,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'RISK_APPROVED'))[1] AS rap,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'SUBMITTED'))[1] AS sub,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'ORDER_ACKNOWLEDGED'))[1] AS ack,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'FILLED'))[1] AS fil,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'RECONCILED'))[1] AS rec,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state = 'ARCHIVED'))[1] AS arc,
           (array_agg(at ORDER BY notification_id DESC) FILTER (WHERE to_state IN (
               'FILLED', 'ARCHIVED', 'REJECTED', 'CANCELLED', 'EXPIRED', 'RISK_REJECTED', 'PRE_TRADE_FAILED',
               'PRICE_MOVE_CANCEL')))[1] AS clo,
           count(*) FILTER (WHERE from_state = 'ERROR' AND to_state = 'PENDING') AS retries
      FROM views.order_history GROUP BY order_uuid
)
UPDATE views.orders o
   SET state_history = jsonb_build_array(jsonb_build_object(
           'from', 'PENDING', 'to', 'PENDING',
           'timestamp', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'reason', 'Order created')) || coalesce(h.entries, '[]'),
       pre_trade_checked_at = h.ptc, validated_at = h.val, risk_approved_at = h.rap, submitted_at = h.sub,
       acknowledged_at = h.ack, filled_at = h.fil, reconciled_at = h.rec, archived_at = h.arc, closed_at = h.clo,
       retry_count = coalesce(h.retries, 0)
  FROM views.orders o2 LEFT JOIN h ON h.order_uuid = o2.order_uuid
 WHERE o2.order_uuid = o.order_uuid;
