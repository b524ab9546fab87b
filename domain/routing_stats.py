"""Routing stats read model (llm-routing §9.6): pure aggregation over decisions of one window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from paulp.domain.js_text import js_sum
from paulp.domain.routing import RouteClass


@dataclass(frozen=True)
class DecisionFact:
    route_class: str
    success: bool
    latency_ms: float | None
    actual_cost_usd: float | None


@dataclass(frozen=True)
class ClassStats:
    count: int
    success_rate: float
    avg_latency_ms: float


@dataclass(frozen=True)
class RoutingStats:
    total_decisions: int
    success_count: int
    failure_count: int
    success_rate: float
    total_cost_usd: float
    avg_latency_ms: float
    by_route_class: Mapping[RouteClass, ClassStats]


def _mean(values: list[float]) -> float:
    return js_sum(values) / len(values) if values else 0.0


def routing_stats(decisions: Iterable[DecisionFact]) -> RoutingStats:
    """Overall latency weights each class's mean latency by its decision count (source behaviour)."""
    items = list(decisions)
    by_class: dict[RouteClass, ClassStats] = {}
    for rc in RouteClass:
        mine = [d for d in items if d.route_class == rc]
        latencies = [float(d.latency_ms) for d in mine if d.latency_ms is not None]
        ok = sum(1 for d in mine if d.success)
        by_class[rc] = ClassStats(len(mine), ok / len(mine) if mine else 0.0, _mean(latencies))
    total = len(items)
    successes = sum(1 for d in items if d.success)
    weighted = js_sum(s.avg_latency_ms * s.count for s in by_class.values())
    return RoutingStats(total, successes, total - successes, successes / total if total else 0.0,
                        js_sum(d.actual_cost_usd or 0.0 for d in items), weighted / total if total else 0.0,
                        by_class)
