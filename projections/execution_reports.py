"""execution_reports and slippage_history views (trading §5.5, §9; ADR 0387), from the Order aggregate's events.

An order's facts are gathered in ``execution_report_orders`` as its events arrive (created, pre-trade check,
risk-step size, sent, mode); each ``FillRecorded`` recomputes its report with ``execution_report`` and writes
it to both views. Nothing but the order's own events is read, so a replay rebuilds the same rows.
"""

from __future__ import annotations

from datetime import UTC
from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor

from paulp.domain.execution_reports import KILL_THRESHOLD_PCT, ExecutionReport, OrderExecution, execution_report
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order

VENUE = "kalshi"
_FACTS = ("order_id, strategy, ticker, side, coalesce(mode, 'LIVE'), limit_cents, order_size, signal_edge,"
          " created_at, sent_at, spread, depth_usd, vpin, filled_size, avg_fill_cents, fills, first_fill_at,"
          " executed_at")  # no mode at a fill: only a venue fills an order not sent by the pipeline


def _number(value: Any) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else float(value)


def _report_row(r: ExecutionReport) -> dict[str, Any]:
    x = r.execution
    return {
        "order_id": x.order_id, "strategy_id": x.strategy, "venue": VENUE, "mode": x.mode, "ticker": x.ticker,
        "side": x.side, "signal_price": x.limit_cents, "limit_price": x.limit_cents,
        "expected_fill_price": x.limit_cents, "actual_fill_price": x.avg_fill_cents,
        "expected_slippage": r.expected_slippage, "realized_slippage": r.realized_slippage,
        "slippage_ratio": r.slippage_ratio, "edge_percent": r.edge_percent,
        "slippage_vs_edge_ratio": r.slippage_vs_edge_ratio, "execution_grade": r.grade.value,
        "grade_score": r.grade_score, "order_size": x.order_size, "filled_size": x.filled_size,
        "order_notional": r.order_notional, "fill_rate": r.fill_rate, "fills_count": x.fills,
        "partial_fills_count": r.partial_fills_count,
        "market_spread": None if x.spread is None else round(x.spread * 100, 9), "market_depth_usd": x.depth_usd,
        "vpin": x.vpin, "order_to_send_ms": r.order_to_send_ms, "send_to_fill_ms": r.send_to_fill_ms,
        "order_to_fill_ms": r.order_to_fill_ms, "time_of_day": x.executed_at.astimezone(UTC).hour,
        "created_at": x.created_at, "executed_at": x.executed_at,
    }


def _upsert(table: str, row: dict[str, Any], key: str) -> str:
    columns = ", ".join(row)
    values = ", ".join(f"%({c})s" for c in row)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != key)
    return f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


class ExecutionReportsProjection:
    name = "execution_reports"
    tables = ("execution_report_orders", "execution_reports", "slippage_history")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Order.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO execution_report_orders (order_uuid, order_id, strategy, ticker, side, limit_cents,"
            " order_size, signal_edge, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (e.originator_id, e.order_id, e.strategy, e.ticker, e.side, e.max_price, e.requested_size,
             e.signal_edge, e.created_at),
        )

    @apply.register
    def _(self, e: OrderRecord.PreTradeChecked, cur: Cursor[Any], notification_id: int) -> None:
        result = e.result if isinstance(e.result, dict) else {}
        cur.execute("UPDATE execution_report_orders SET spread = %s, depth_usd = %s, vpin = %s WHERE order_uuid = %s",
                    (_number(result.get("spread")), _number(result.get("depth")), _number(result.get("vpinScore")),
                     e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.RiskChecked, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute("UPDATE execution_report_orders SET order_size = %s WHERE order_uuid = %s",
                    (e.requested_size, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.Transitioned, cur: Cursor[Any], notification_id: int) -> None:
        mode = e.metadata.get("mode") if isinstance(e.metadata, dict) else None  # on SUBMITTED (ADR 0262)
        sent = e.at if e.to_state == OrderState.SUBMITTING.value else None
        if mode in ("PAPER", "LIVE") or sent is not None:
            cur.execute("UPDATE execution_report_orders SET mode = coalesce(%s, mode), sent_at = coalesce(%s, sent_at)"
                        " WHERE order_uuid = %s", (mode if mode in ("PAPER", "LIVE") else None, sent, e.originator_id))

    @apply.register
    def _(self, e: OrderRecord.FillRecorded, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE execution_report_orders SET fills = fills + 1, filled_size = %(filled)s, avg_fill_cents = %(avg)s,"
            " first_fill_at = coalesce(first_fill_at, %(at)s), executed_at = %(at)s, last_fill_nid = %(nid)s"
            f" WHERE order_uuid = %(order)s AND coalesce(last_fill_nid, 0) < %(nid)s RETURNING {_FACTS}",
            {"filled": e.filled_size, "avg": float(e.avg_fill_price), "at": e.at, "nid": notification_id,
             "order": e.originator_id},
        ).fetchone()
        if row is None:
            known = cur.execute("SELECT 1 FROM execution_report_orders WHERE order_uuid = %s",
                                (e.originator_id,)).fetchone()
            if known is None:
                raise LookupError(f"fill for unknown order {e.originator_id}")
            return  # applied already
        report = execution_report(OrderExecution(*row))
        cur.execute(_upsert("execution_reports", _report_row(report), "order_id"), _report_row(report))
        x = report.execution
        history = {
            "order_id": x.order_id, "market_id": x.ticker, "mode": x.mode, "expected": report.expected_slippage,
            "realized": report.realized_slippage, "ratio": report.slippage_ratio,
            "slippage_vs_edge_ratio": report.slippage_vs_edge_ratio, "depth": x.depth_usd,
            "spread": None if x.spread is None else round(x.spread * 100, 9), "order_size": x.order_size,
            "exceeds_kill_threshold": report.exceeds_kill_threshold, "kill_threshold_pct": KILL_THRESHOLD_PCT,
            "executed_at": x.executed_at,
        }
        cur.execute(_upsert("slippage_history", history, "order_id"), history)
