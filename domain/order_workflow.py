"""Pipeline-level pure helpers around orders: signal -> order sizing (§1.7), the order record as the
spec shows it (§1.1, for views and history display) and workflow metrics (§1.9).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.domain.clock import iso_utc
from paulp.domain.exact import as_written_decimal
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import OrderState


def requested_size_from_target(target_size_usd: float, max_price_cents: float) -> int:
    """Contracts for a USD target: ``floor(targetSizeUSD / (maxPrice/100))``; 0 drops the signal.

    Taken in decimal (ADR 0452, superseding ADR 0103's binary reading): $0.57 at 1 cent is 57 contracts, where
    binary's 56.99999999999999 floored to 56. A non-finite target or a price ≤ 0 sizes nothing (fail closed)."""
    if not (math.isfinite(target_size_usd) and math.isfinite(max_price_cents)) or max_price_cents <= 0:
        return 0
    usd, cents = as_written_decimal(target_size_usd), as_written_decimal(max_price_cents)
    return math.floor(usd / (cents / 100))


def max_price_from_market_price(market_price: float) -> int:
    """``round(marketPrice * 100)`` with round = floor(x + 0.5) in binary floating point (§0)."""
    return math.floor(market_price * 100 + 0.5)


def state_history(order: OrderRecord) -> list[dict[str, Any]]:
    """stateHistory entries {from, to, timestamp, reason, metadata?}, creation entry first."""
    return [entry.to_dict() for entry in order.history]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at)


def order_view(order: OrderRecord) -> dict[str, Any]:
    """The §1.1 order record in the spec's field names (camelCase), JSON-able."""
    pre, risk, rec = order.pre_trade_check_result, order.risk_check_result, order.reconciliation_result
    return {
        "orderId": order.order_id, "signalId": order.signal_id, "strategy": order.strategy,
        "ticker": order.ticker, "side": order.side, "requestedSize": order.requested_size,
        "maxPrice": order.max_price, "currentState": order.state.value, "stateHistory": state_history(order),
        "entryPrice": order.entry_price, "filledSize": order.filled_size, "avgFillPrice": order.avg_fill_price,
        "closingLinePrice": order.closing_line_price, "clv": order.clv,
        "signalModelProbability": order.signal_model_probability, "signalEdge": order.signal_edge,
        "signalConfidence": order.signal_confidence, "createdAt": _iso(order.created_at),
        "preTradeCheckedAt": _iso(order.pre_trade_checked_at), "validatedAt": _iso(order.validated_at),
        "riskApprovedAt": _iso(order.risk_approved_at), "submittedAt": _iso(order.submitted_at),
        "acknowledgedAt": _iso(order.acknowledged_at), "filledAt": _iso(order.filled_at),
        "reconciledAt": _iso(order.reconciled_at), "archivedAt": _iso(order.archived_at),
        "closedAt": _iso(order.closed_at),
        "preTradeCheckResult": None if pre is None else pre.to_dict(),
        "reconciliationResult": None if rec is None else rec.to_dict(),
        "riskCheckResult": None if risk is None else risk.to_dict(),
        "evidenceHashes": list(order.evidence_hashes), "lastError": order.last_error,
        "retryCount": order.retry_count, "brokerOrderId": order.broker_order_id,
        "submissionInDoubt": order.submission_in_doubt,
    }


@dataclass(frozen=True)
class WorkflowMetrics:
    total: int
    by_state: dict[str, int]
    avg_time_to_fill_ms: float
    avg_clv: float
    fill_rate: float


@dataclass(frozen=True)
class MetricsInput:
    """What §1.9 reads from an order; build it from an ``OrderRecord`` or a projection row."""

    state: OrderState
    created_at: datetime | None = None
    filled_at: datetime | None = None
    clv: float | None = None

    @classmethod
    def of(cls, order: OrderRecord) -> MetricsInput:
        return cls(order.state, order.created_at, order.filled_at, order.clv)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def workflow_metrics(orders: Iterable[MetricsInput]) -> WorkflowMetrics:
    """§1.9: fill time over FILLED orders with both stamps; fill rate over orders that reached the venue."""
    items = list(orders)
    by_state = {s.value: 0 for s in OrderState}
    for o in items:
        by_state[o.state.value] += 1
    fill_ms = [
        (o.filled_at - o.created_at).total_seconds() * 1000
        for o in items
        if o.state == OrderState.FILLED and o.filled_at is not None and o.created_at is not None
    ]
    denominator = by_state["SUBMITTED"] + by_state["PARTIAL_FILL"] + by_state["FILLED"]
    return WorkflowMetrics(
        total=len(items),
        by_state=by_state,
        avg_time_to_fill_ms=_mean(fill_ms),
        avg_clv=_mean([o.clv for o in items if o.clv is not None]),
        fill_rate=len(fill_ms) / denominator if denominator else 0.0,
    )

