"""Execution reports from an order's own events (trading §5.5, §9; ADR 0387): how one filled order executed.

The projection gathers what the order recorded (its limit, size, signal edge, the market the pre-trade check
saw, when it was sent, its fills) into an ``OrderExecution``; ``execution_report`` turns it into the §5.5
report with the normative slippage-vs-edge unit. Pure, so a replay of the log rebuilds the same reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from paulp.domain.execution_quality import (
    GRADE_SCORES,
    KILL_SWITCH_SLIPPAGE_VS_EDGE,
    ExecutionGrade,
    FillObservation,
    quality_report,
)

# I18 reads the market's reports executed in this window before the check (ADR 0387).
RECENT_SLIPPAGE_WINDOW = timedelta(hours=24)
KILL_THRESHOLD_PCT = KILL_SWITCH_SLIPPAGE_VS_EDGE * 100  # slippage_history.kill_threshold_pct (§9: 50)


@dataclass(frozen=True)
class OrderExecution:
    """An order's execution as its events tell it. Prices in cents; ``spread`` and ``signal_edge`` in probability
    units; ``depth_usd`` what the pre-trade check measured; None where the order recorded nothing."""

    order_id: str
    strategy: str
    ticker: str
    side: str
    mode: str
    limit_cents: float  # the order's maxPrice, the venue limit (§5.3 with no limit method)
    order_size: int  # contracts asked for, after any risk-step reduction
    signal_edge: float | None
    created_at: datetime
    sent_at: datetime | None  # entered SUBMITTING
    spread: float | None
    depth_usd: float | None
    vpin: float | None
    filled_size: int
    avg_fill_cents: float
    fills: int
    first_fill_at: datetime
    executed_at: datetime  # the latest fill


@dataclass(frozen=True)
class ExecutionReport:
    """One row of ``views.execution_reports`` (and of ``slippage_history``)."""

    execution: OrderExecution
    order_notional: float  # contracts x limit, cent-contracts (§5.5)
    realized_slippage: float  # |avg fill - limit|, cents
    expected_slippage: float
    slippage_ratio: float  # realized / expected
    edge_percent: float
    slippage_vs_edge_ratio: float  # (realized / limit x 100) / edgePercent; I18's input
    grade: ExecutionGrade
    fill_rate: float
    partial_fills_count: int
    order_to_send_ms: int | None
    send_to_fill_ms: int | None
    order_to_fill_ms: int

    @property
    def grade_score(self) -> int:
        return GRADE_SCORES[self.grade]

    @property
    def exceeds_kill_threshold(self) -> bool:
        """Counted by the kill switch (§5.5: slippageVsEdge > 0.5)."""
        return self.slippage_vs_edge_ratio > KILL_SWITCH_SLIPPAGE_VS_EDGE


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return (end - start) // timedelta(milliseconds=1)


def _cents(probability: float | None) -> float:
    """A spread in probability units as cents; none recorded reads as 0 (the expectation's floor then applies)."""
    return 0.0 if probability is None or not math.isfinite(probability) else round(probability * 100, 9)


def execution_report(x: OrderExecution) -> ExecutionReport:
    """The §5.5 report of an order's fills so far. Depth is the pre-trade check's USD figure taken in cents, the
    notional's unit; without one the spec's 1000 applies. A missing VPIN reads as 0 (as I9 reads it); a missing or
    non-positive edge as 0, which makes slippage-vs-edge 0 (§5.5 "edgePercent 0 -> 0")."""
    edge = x.signal_edge if x.signal_edge is not None and math.isfinite(x.signal_edge) else 0.0
    depth = x.depth_usd * 100 if x.depth_usd else None
    q = quality_report(FillObservation(
        order_id=x.order_id, ticker=x.ticker, side=x.side, limit_price=x.limit_cents, fill_price=x.avg_fill_cents,
        order_size=x.order_size, edge_percent=max(0.0, round(edge * 100, 9)), market_spread=_cents(x.spread),
        vpin=x.vpin or 0.0, market_depth=depth,
    ))
    complete = x.filled_size >= x.order_size
    return ExecutionReport(
        execution=x, order_notional=q.order_notional, realized_slippage=q.realized_slippage,
        expected_slippage=q.expected_slippage, slippage_ratio=q.slippage_ratio, edge_percent=q.edge_percent,
        slippage_vs_edge_ratio=q.slippage_vs_edge_ratio, grade=q.grade,
        fill_rate=x.filled_size / x.order_size if x.order_size > 0 else 0.0,
        partial_fills_count=x.fills - 1 if complete else x.fills,
        order_to_send_ms=_ms(x.created_at, x.sent_at), send_to_fill_ms=_ms(x.sent_at, x.first_fill_at),
        order_to_fill_ms=_ms(x.created_at, x.executed_at) or 0,
    )


def slippage_window(now: datetime) -> tuple[datetime, datetime]:
    """The executions I18 reads at ``now``: after ``now - RECENT_SLIPPAGE_WINDOW``, up to ``now``."""
    return now - RECENT_SLIPPAGE_WINDOW, now
