"""invariant_violations, risk_check_history and market_pairs views: what operators review (api-and-security §1.3,
trading §3.3/§9).

Violations come from orders' risk rejections (``OrderRecord.RiskChecked``, not approved), one row per
failed invariant, with its actual value and threshold when the event recorded the evaluation (ADR 0377);
every ``RiskChecked`` is a row of risk_check_history. ``violation_orders`` keeps each order's text id,
strategy and ticker for those rows.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from paulp.domain.reviews import (
    BLOCK,
    ORDER_BLOCKED,
    BlockedInvariant,
    MarketPair,
    ViolationResolution,
    blocked_invariants,
    risk_violation_id,
)


class ViolationsProjection:
    name = "violations"
    tables = ("violation_orders", "invariant_violations", "risk_check_history")

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: Order.Created, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO violation_orders (order_uuid, order_id, strategy, ticker) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (e.originator_id, e.order_id, e.strategy, e.ticker),
        )

    @apply.register
    def _(self, e: OrderRecord.RiskChecked, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute("SELECT order_id, strategy, ticker FROM violation_orders WHERE order_uuid = %s",
                          (e.originator_id,)).fetchone()
        if row is None:
            raise LookupError(f"risk result for unknown order {e.originator_id}")
        order_id, strategy, ticker = row
        evaluation = e.evaluation or {}
        blocked = blocked_invariants(e.result)
        _history_row(cur, e, evaluation, blocked, (order_id, strategy, ticker), notification_id)
        measured = {r.get("id"): r for r in evaluation.get("results") or ()}
        for b in blocked:
            found = measured.get(b.invariant_id)
            actual, threshold = (Jsonb(found.get("actual")), Jsonb(found.get("threshold"))) if found else (None, None)
            cur.execute(
                "INSERT INTO invariant_violations (id, notification_id, order_id, strategy, ticker, invariant_id,"
                " invariant_name, severity, description, action_taken, input_hash, triggered_at, actual_value,"
                " threshold_value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (risk_violation_id(order_id, b.invariant_id), notification_id, order_id, strategy, ticker,
                 b.invariant_id, b.name, BLOCK, b.message, ORDER_BLOCKED, e.result.get("inputHash"), e.at,
                 actual, threshold),
            )

    @apply.register
    def _(self, e: ViolationResolution.Resolved, cur: Cursor[Any], notification_id: int) -> None:
        row = cur.execute(
            "UPDATE invariant_violations SET resolved = true, resolved_at = %s, resolved_by = %s,"
            " resolved_actor = %s, resolution_notes = %s WHERE id = %s RETURNING id",
            (e.at, e.resolver, e.actor, e.notes, e.violation_id),
        ).fetchone()
        if row is None:  # the command only resolves violations the log proves, so the row must exist
            raise LookupError(f"resolution of unknown violation {e.violation_id}")


def _history_row(cur: Cursor[Any], e: OrderRecord.RiskChecked, evaluation: dict[str, Any],
                 blocked: list[BlockedInvariant], order: tuple[str, str, str], notification_id: int) -> None:
    """One evaluation; an event before ADR 0377 gives only the decision and its failed critical ids."""
    order_id, strategy, ticker = order
    recorded = bool(evaluation)
    request = (evaluation.get("input") or {}).get("request") or {}
    critical = evaluation.get("criticalIds") if recorded else [b.invariant_id for b in blocked]
    cur.execute(
        "INSERT INTO risk_check_history (notification_id, order_id, market_id, strategy, size_usd, contracts,"
        " approved, recheck, breaker_state, invariants_passed, invariants_failed, critical_failures, warnings,"
        " results, input_hash, checked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (notification_id) DO NOTHING",
        (notification_id, order_id, ticker, strategy, request.get("size"), e.requested_size,
         bool(e.result.get("approved")), bool(evaluation.get("recheck")), evaluation.get("breakerState"),
         evaluation.get("passedCount"), evaluation.get("failedCount"), list(critical or ()),
         evaluation.get("warningIds") if recorded else None,
         Jsonb(evaluation["results"]) if recorded else None, e.result.get("inputHash"), e.at),
    )


class MarketPairsProjection:
    name = "market_pairs"
    tables = ("market_pairs",)

    @singledispatchmethod
    def apply(self, event: object, cur: Cursor[Any], notification_id: int) -> None:
        """Ignore events this view does not show."""

    @apply.register
    def _(self, e: MarketPair.Proposed, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "INSERT INTO market_pairs (pair_id, venue_a, market_a, venue_b, market_b, equivalence_grade, status,"
            " proposed_by, proposed_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 'pending_review', %s, %s, %s)"
            " ON CONFLICT (pair_id) DO NOTHING",
            (e.pair_id, e.venue_a, e.market_a, e.venue_b, e.market_b, e.equivalence_grade, e.proposed_by,
             e.proposed_at, e.proposed_at),
        )

    @apply.register
    def _(self, e: MarketPair.Approved, cur: Cursor[Any], notification_id: int) -> None:
        cur.execute(
            "UPDATE market_pairs SET status = 'approved', human_reviewer = %s, human_review_date = %s,"
            " human_review_notes = %s, reviewed_by_actor = %s, updated_at = %s WHERE pair_id = %s",
            (e.reviewer, e.at, e.notes, e.actor, e.at, e.pair_id),
        )
