"""orders, order_history and positions views from the Order aggregate's events; position_exits from
PositionExit's (an exit's fill takes its contracts out of the position and realises its PnL). Fills' fees
(ADR 0437) add up on the order and the position beside the gross figures, which they never change; each entry
fill is also a row of its own with its time and fee (order_fills, ADR 0442). A fee left unknown and settled later
from Kalshi (``FeesCorrected``, ADR 0448; an exit sell's, ADR 0449) is added to those sums and to the fill rows (or
the exit row) it settles.

Order's apply methods live on OrderRecord, so its events are OrderRecord.* classes (only Created is Order's).
An orders row holds the whole §1.1 record (ADR 0396), so the order list reads one row per order.
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.clock import iso_utc
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import CLOSING_STATES, STAMPED_FIELDS, OrderState
from paulp.domain.order_values import PreTradeCheck, ReconciliationResult, RiskCheckResult
from paulp.domain.orders import Order
from paulp.domain.position_exits import ExitState, PositionExit
from paulp.domain.prices import half_up

STAMPS = tuple(STAMPED_FIELDS.values())  # the §1.3 timestamps a transition may stamp (closed_at aside)
TRANSITION = (
    "UPDATE orders SET state = %(to)s, updated_at = %(at)s, mode = coalesce(%(mode)s, mode),"
    " state_history = state_history || %(entry)s, closed_at = coalesce(%(closed_at)s, closed_at), "
    + ", ".join(f"{c} = coalesce(%({c})s, {c})" for c in STAMPS)
    + " WHERE order_uuid = %(order)s"
)


def history_entry(source: str, target: str, at: datetime, reason: str) -> list[dict[str, str]]:
    """One stateHistory entry as the API shows it (§1.1 names); metadata stays in the log (``orders show``)."""
    return [{"from": source, "to": target, "timestamp": iso_utc(at), "reason": reason}]


def pre_trade_summary(result: dict[str, Any]) -> dict[str, Any]:
    """§1.1's preTradeCheckResult and the size the book allows; the impact assessment is execution_reports'."""
    summary = PreTradeCheck.from_dict(result).to_dict()
    summary.pop("marketImpact", None)
    return summary


def risk_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The decision, not the evaluation: approved, size, violations, failed invariant ids, input hash."""
    summary = RiskCheckResult.from_dict(result).to_dict()
    summary.pop("category", None)  # its own column (ADR 0299)
    return summary


# A fee correction (ADRs 0448, 0449) added to its position's sum, which says complete once no entry fill or FILLED
# exit of the position is left without a fee.
ADD_CORRECTED_FEE_TO_POSITION = (
    "UPDATE positions p SET fees_cents = p.fees_cents + %(fee)s, fees_complete = NOT EXISTS ("
    "  SELECT 1 FROM order_fills f WHERE (f.strategy, f.ticker, f.side, f.mode)"
    "  = (p.strategy, p.ticker, p.side, p.mode) AND f.fee_cents IS NULL)"
    " AND NOT EXISTS (SELECT 1 FROM position_exits x WHERE (x.strategy, x.ticker, x.side, x.mode)"
    "  = (p.strategy, p.ticker, p.side, p.mode) AND x.state = 'FILLED' AND x.fee_cents IS NULL)"
    " WHERE p.strategy = %(s)s AND p.ticker = %(t)s AND p.side = %(side)s AND p.mode = %(mode)s"
)


def _add_corrected_fee_to_position(cur: Cursor[Any], fee_cents: Any, key: tuple[Any, ...]) -> None:
    """``key``: the (strategy, ticker, side, mode) the corrected order or exit belongs to."""
    strategy, ticker, side, mode = key
    cur.execute(ADD_CORRECTED_FEE_TO_POSITION, {"fee": fee_cents, "s": strategy, "t": ticker, "side": side,
                                                "mode": mode})


class OrdersProjection:
    name = "orders"
    tables = ("orders", "order_history", "positions", "position_exits", "order_fills")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Order.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO orders (order_uuid, order_id, signal_id, strategy, ticker, side, requested_size, max_price,"
            " state, created_at, updated_at, signal_model_probability, signal_edge, signal_confidence,"
            " state_history) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'PENDING', %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (e.originator_id, e.order_id, e.signal_id, e.strategy, e.ticker, e.side, e.requested_size, e.max_price,
             e.created_at, e.created_at, e.signal_model_probability, e.signal_edge, e.signal_confidence,
             Jsonb(history_entry("PENDING", "PENDING", e.created_at, "Order created"))),
        )

    @apply.register
    def _(self, e: OrderRecord.Transitioned, cur: Cursor[Any], notification_id: int) -> None:
        mode = e.metadata.get("mode") if isinstance(e.metadata, dict) else None  # on SUBMITTED (ADR 0262)
        target = OrderState(e.to_state)
        stamped = STAMPED_FIELDS.get(target)
        cur.execute(TRANSITION, {
            "to": e.to_state, "at": e.at, "mode": mode if mode in ("PAPER", "LIVE") else None,
            "entry": Jsonb(history_entry(e.from_state, e.to_state, e.at, e.reason)),
            "closed_at": e.at if target in CLOSING_STATES else None, "order": e.originator_id,
            **{c: e.at if c == stamped else None for c in STAMPS},
        })
        cur.execute(
            "INSERT INTO order_history (notification_id, order_uuid, from_state, to_state, reason, at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (notification_id, e.originator_id, e.from_state, e.to_state, e.reason, e.at),
        )

    @apply.register
    def _(self, e: OrderRecord.RiskChecked, cur: Cursor[Any], notification_id: int) -> None:
        category = e.result.get("category") if isinstance(e.result, dict) else None  # ADR 0299
        cur.execute("UPDATE orders SET requested_size = %s, category = coalesce(%s, category),"
                    " risk_check_result = %s WHERE order_uuid = %s",
                    (e.requested_size, category, Jsonb(risk_summary(e.result)), e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.PreTradeChecked, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET pre_trade_check_result = %s WHERE order_uuid = %s",
                    (Jsonb(pre_trade_summary(e.result)), e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.ReconciliationRecorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET reconciliation_result = %s WHERE order_uuid = %s",
                    (Jsonb(ReconciliationResult.from_dict(e.result).to_dict()), e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.EvidenceAttached, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET evidence_hashes = evidence_hashes || %s WHERE order_uuid = %s",
                    (Jsonb([e.evidence_hash]), e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.ErrorRecorded, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET last_error = %s WHERE order_uuid = %s", (e.message, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.RiskCheckUnanswered, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET last_error = %s WHERE order_uuid = %s", (e.message, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.ErrorResolved, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET last_error = NULL WHERE order_uuid = %s", (e.originator_id,))

    @apply.register
    def _(self, e: OrderRecord.Retried, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE orders SET last_error = NULL, retry_count = %s WHERE order_uuid = %s",  # §1.4.10
                    (e.retry_count, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.FillRecorded, cur: Cursor[Any], notification_id: int) -> None:
        fee = e.fee_cents  # None: not known (ADR 0437); it adds nothing and marks the fees incomplete
        row = cur.execute(
            "UPDATE orders SET filled_size = %s, avg_fill_price = %s, entry_price = %s,"
            " closing_line_price = %s, clv = %s, updated_at = %s,"
            " fees_cents = CASE WHEN %s::numeric IS NULL THEN fees_cents ELSE coalesce(fees_cents, 0) + %s END,"
            " fees_complete = fees_complete AND %s::numeric IS NOT NULL WHERE order_uuid = %s"
            " RETURNING strategy, ticker, side, coalesce(mode, 'LIVE')",  # no mode: only a venue fills it
            (e.filled_size, e.avg_fill_price, e.entry_price, e.closing_line_price, e.clv, e.at, fee, fee, fee,
             e.originator_id),
        ).fetchone()
        if row is None:
            raise LookupError(f"fill for unknown order {e.originator_id}")
        cost = half_up(e.fill_size * e.fill_price)  # §0: money rounds half up, never to even
        cur.execute(
            "INSERT INTO positions (strategy, ticker, side, mode, contracts, cost_cents, first_fill_at, last_fill_at,"
            " fees_cents, fees_complete) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (strategy, ticker, side, mode) DO UPDATE SET"
            " contracts = positions.contracts + EXCLUDED.contracts,"
            " cost_cents = positions.cost_cents + EXCLUDED.cost_cents, last_fill_at = EXCLUDED.last_fill_at,"
            " first_fill_at = coalesce(positions.first_fill_at, EXCLUDED.first_fill_at),"
            " fees_cents = positions.fees_cents + EXCLUDED.fees_cents,"
            " fees_complete = positions.fees_complete AND EXCLUDED.fees_complete",
            (*row, e.fill_size, cost, e.at, e.at, fee or 0, fee is not None),
        )
        cur.execute(  # each fill with its time and fee: the risk check's loss windows count the fee then (ADR 0442)
            "INSERT INTO order_fills (notification_id, order_uuid, strategy, ticker, side, mode, fill_size, fill_price,"
            " fee_cents, filled_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (notification_id, e.originator_id, *row, e.fill_size, e.fill_price, fee, e.at),
        )

    @apply.register
    def _(self, e: OrderRecord.FeesCorrected, cur: Cursor[Any], notification_id: int) -> None:
        """Kalshi's later fee settles the order's fills of unknown fee (ADR 0448): all of it on the latest of them,
        so it counts at that fill's time, 0 on the earlier ones; the order's and the position's sums take it, and
        each says complete when no fill (or exit sell) of it is left without a fee."""
        settled = cur.execute(
            "UPDATE order_fills SET fee_corrected_by = %(n)s, fee_cents = CASE WHEN notification_id = ("
            " SELECT max(notification_id) FROM order_fills WHERE order_uuid = %(o)s AND fee_cents IS NULL)"
            " THEN %(fee)s ELSE 0 END WHERE order_uuid = %(o)s AND fee_cents IS NULL",
            {"n": notification_id, "o": e.originator_id, "fee": e.fee_cents},
        ).rowcount
        if settled != e.fills_settled:
            raise LookupError(f"fee correction of order {e.originator_id} settles {e.fills_settled} fills, the view"
                              f" has {settled} without a fee")
        row = cur.execute(
            "UPDATE orders SET fees_cents = coalesce(fees_cents, 0) + %(fee)s, fees_complete = NOT EXISTS ("
            " SELECT 1 FROM order_fills f WHERE f.order_uuid = %(o)s AND f.fee_cents IS NULL) WHERE order_uuid = %(o)s"
            " RETURNING strategy, ticker, side, coalesce(mode, 'LIVE')",
            {"fee": e.fee_cents, "o": e.originator_id},
        ).fetchone()
        if row is None:
            raise LookupError(f"fee correction for unknown order {e.originator_id}")
        _add_corrected_fee_to_position(cur, e.fee_cents, row)

    @apply.register
    def _(self, e: OrderRecord.ClosingLineRecorded, cur: Cursor[Any], notification_id: int) -> None:
        """The market's closing line on the order (ADR 0419); an invalid one leaves the price and CLV unset."""
        cur.execute(
            "UPDATE orders SET closing_line_at = %s, closing_line_time = %s, closing_line_quality = %s,"
            " closing_line_method = %s, clv_valid = %s, closing_line_price = CASE WHEN %s THEN %s"
            " ELSE closing_line_price END, clv = CASE WHEN %s THEN %s ELSE clv END WHERE order_uuid = %s",
            (e.at, e.line_time, e.quality_score, e.method, e.is_valid, e.is_valid, e.closing_line_price, e.is_valid,
             e.clv, e.originator_id),
        )

    @apply.register
    def _(self, e: PositionExit.Decided, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO position_exits (exit_uuid, strategy, ticker, side, opened_at, sequence, contracts,"
            " entry_price, observed_price, reason, mode, state, decided_at, updated_at, requested_by, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (e.originator_id, e.strategy, e.ticker, e.side, e.opened_at, e.sequence, e.contracts, e.entry_price,
             e.observed_price, e.reason, e.mode, ExitState.DECIDED.value, e.at, e.at, e.requested_by, e.note),
        )

    @apply.register
    def _(self, e: PositionExit.Redecided, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE position_exits SET state = %s, contracts = %s, observed_price = %s, reason = %s,"
            " attempt = attempt + 1, detail = NULL, decided_at = %s, updated_at = %s, requested_by = %s, note = %s"
            " WHERE exit_uuid = %s",
            (ExitState.DECIDED.value, e.contracts, e.observed_price, e.reason, e.at, e.at, e.requested_by, e.note,
             e.originator_id),
        )

    @apply.register
    def _(self, e: PositionExit.InDoubt, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE position_exits SET state = %s, detail = %s, updated_at = %s WHERE exit_uuid = %s",
                    (ExitState.IN_DOUBT.value, e.detail, e.at, e.originator_id))

    @apply.register
    def _(self, e: PositionExit.Failed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE position_exits SET state = %s, detail = %s, updated_at = %s WHERE exit_uuid = %s",
                    (ExitState.FAILED.value, e.detail, e.at, e.originator_id))

    @apply.register
    def _(self, e: PositionExit.FeesCorrected, cur: Cursor[Any], notification_id: int) -> None:
        """Kalshi's later fee for a LIVE exit's sell (ADR 0449): on the exit's row, whose ``updated_at`` stays the
        fill's time (the risk loss figures count it then), and added to the position's sum, which says complete
        when no entry fill or FILLED exit of it is left without a fee."""
        row = cur.execute(
            "UPDATE position_exits SET fee_cents = %s, fee_corrected_by = %s"
            " WHERE exit_uuid = %s AND state = %s AND fee_cents IS NULL RETURNING strategy, ticker, side, mode",
            (e.fee_cents, notification_id, e.originator_id, ExitState.FILLED.value),
        ).fetchone()
        if row is None:
            raise LookupError(f"fee correction of exit {e.originator_id}: no FILLED exit without a fee in the view")
        _add_corrected_fee_to_position(cur, e.fee_cents, row)

    @apply.register
    def _(self, e: PositionExit.Filled, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE position_exits SET state = %s, filled_size = %s, exit_price = %s, realized_pnl_usd = %s,"
            " entry_price = coalesce(%s, entry_price),"  # the entry as of the fill, the PnL's (ADR 0306)
            " fee_cents = %s, detail = NULL, updated_at = %s WHERE exit_uuid = %s"
            " RETURNING strategy, ticker, side, mode",
            (ExitState.FILLED.value, e.size, e.exit_price, e.realized_pnl_usd, e.entry_price, e.fee_cents, e.at,
             e.originator_id),
        ).fetchone()
        if row is None:
            raise LookupError(f"fill for unknown exit {e.originator_id}")
        # cost leaves at the position's average; a position sold out ends its episode (first fill cleared)
        cur.execute(
            "UPDATE positions SET contracts = contracts - %(n)s,"
            " cost_cents = CASE WHEN contracts <= %(n)s THEN 0"
            "   ELSE cost_cents - round(cost_cents::numeric * %(n)s / contracts) END,"
            " realized_pnl_usd = realized_pnl_usd + %(pnl)s,"
            " fees_cents = fees_cents + coalesce(%(fee)s::numeric, 0),"  # the sell's fee (ADR 0437)
            " fees_complete = fees_complete AND %(fee)s::numeric IS NOT NULL,"
            " exits = CASE WHEN contracts <= %(n)s THEN 0 ELSE exits + 1 END,"
            " first_fill_at = CASE WHEN contracts <= %(n)s THEN NULL ELSE first_fill_at END"
            " WHERE strategy = %(s)s AND ticker = %(t)s AND side = %(side)s AND mode = %(mode)s",
            {"n": e.size, "pnl": e.realized_pnl_usd, "fee": e.fee_cents, "s": row[0], "t": row[1], "side": row[2],
             "mode": row[3]},
        )
