"""Event-graph correlation (trading §3.4): which markets move with the target, feeding I3.

Pure: the adapter loads cached pairs, graph edges, rules and the catalogue, and hands them here.
If any of those loads fails, the adapter passes ``correlated_markets=None`` to the governor, which
then blocks the order (fail closed, :data:`paulp.domain.risk.CORRELATION_LOOKUP_ID`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from paulp.domain.risk_input import UNKNOWN_CATEGORY, CorrelatedMarket, Position

# Highest score an edge of each type may contribute; None = uncapped; unknown types get OTHER_EDGE_CAP.
EDGE_TYPE_CAPS: dict[str, float | None] = {
    "correlated_with": None,
    "same_series": 0.8,
    "belongs_to_event": 0.5,
    "tagged_with_topic": 0.5,
    "resolved_by_source": 0.6,
    "occurs_in_window": 0.6,
}
OTHER_EDGE_CAP = 0.3
DEFAULT_EDGE_WEIGHT = 1.0
MAX_RULE_MATCHES = 50


@dataclass(frozen=True)
class CachedPair:
    market_a: str
    market_b: str
    score: float
    expires_at: datetime | None = None
    valid: bool = True


@dataclass(frozen=True)
class GraphNode:
    """A graph node; only ``kind == "market"`` nodes count as correlated markets (recommended, §3.4)."""

    node_id: str
    label: str | None = None
    kind: str = "market"

    def names(self, market_id: str) -> bool:
        return market_id in (self.node_id, self.label)


@dataclass(frozen=True)
class GraphEdge:
    source: GraphNode
    target: GraphNode
    edge_type: str
    weight: float | None = None


@dataclass(frozen=True)
class CatalogueMarket:
    market_id: str
    category: str | None = None
    series: str | None = None


@dataclass(frozen=True)
class CorrelationRule:
    """An operator rule; ``selector`` is JSON text with ``category`` or ``series``."""

    selector: str
    weight: float
    rule_type: str
    active: bool = True


def kalshi_series(ticker: str) -> str:
    """A Kalshi market's series: its ticker up to the first '-' (``KXHIGHNY-25NOV27-B45`` → ``KXHIGHNY``), the
    venue's SERIES-EVENT-MARKET naming; a ticker without '-' is its own series (ADR 0431)."""
    return ticker.split("-", 1)[0]


def catalogue(target: str, category: str | None, held: Iterable[Position]) -> list[CatalogueMarket]:
    """What rules match within (ADR 0431): the target and the markets held, each with its category ('unknown'
    matches no rule) and series. Markets not held add no exposure to I3, so they are not needed."""
    def known(c: str | None) -> str | None:
        return None if c in (None, "", UNKNOWN_CATEGORY) else c

    out = [CatalogueMarket(target, known(category), kalshi_series(target))]
    seen = {target}
    for p in held:
        if p.market_id not in seen:
            seen.add(p.market_id)
            out.append(CatalogueMarket(p.market_id, known(p.category), kalshi_series(p.market_id)))
    return out


def edge_score(edge_type: str, weight: float | None) -> float:
    """Edge weight (default 1.0) capped by what its type can plausibly imply."""
    w = DEFAULT_EDGE_WEIGHT if weight is None else weight
    cap = EDGE_TYPE_CAPS.get(edge_type, OTHER_EDGE_CAP)
    return w if cap is None else min(w, cap)


def _selector(rule: CorrelationRule) -> tuple[str, str] | None:
    """The (field, value) a rule selects on, category before series; None when malformed."""
    try:
        parsed = json.loads(rule.selector)
    except (ValueError, TypeError):
        return None
    if not isinstance(parsed, dict):
        return None
    for key in ("category", "series"):
        value = parsed.get(key)
        if isinstance(value, str):
            return key, value
    return None


def _from_cache(target: str, now: datetime, cached: Iterable[CachedPair]) -> Iterable[CorrelatedMarket]:
    for pair in cached:
        if not pair.valid or (pair.expires_at is not None and pair.expires_at <= now):
            continue
        if pair.market_a == target:
            yield CorrelatedMarket(pair.market_b, pair.score, "cached")
        elif pair.market_b == target:
            yield CorrelatedMarket(pair.market_a, pair.score, "cached")


def _from_edges(target: str, edges: Iterable[GraphEdge]) -> Iterable[CorrelatedMarket]:
    for edge in edges:
        if edge.source.names(target):
            other = edge.target
        elif edge.target.names(target):
            other = edge.source
        else:
            continue
        if other.kind == "market" and not other.names(target):
            yield CorrelatedMarket(other.node_id, edge_score(edge.edge_type, edge.weight), edge.edge_type)


def _from_rules(
    target: str, rules: Iterable[CorrelationRule], catalogue: Sequence[CatalogueMarket]
) -> Iterable[CorrelatedMarket]:
    me = next((m for m in catalogue if m.market_id == target), None)
    if me is None:
        return
    for rule in rules:
        sel = _selector(rule) if rule.active else None
        if sel is None:
            continue
        key, value = sel
        if getattr(me, key) != value:
            continue
        others = [m for m in catalogue if m.market_id != target and getattr(m, key) == value]
        for m in others[:MAX_RULE_MATCHES]:
            yield CorrelatedMarket(m.market_id, rule.weight, rule.rule_type)


def correlated_markets(
    target: str,
    now: datetime,
    cached: Iterable[CachedPair] = (),
    edges: Iterable[GraphEdge] = (),
    rules: Iterable[CorrelationRule] = (),
    catalogue: Sequence[CatalogueMarket] = (),
) -> tuple[CorrelatedMarket, ...]:
    """Cache, then graph edges, then rules; the first occurrence of a market wins."""
    seen: dict[str, CorrelatedMarket] = {}
    sources = (_from_cache(target, now, cached), _from_edges(target, edges), _from_rules(target, rules, catalogue))
    for source in sources:
        for cm in source:
            seen.setdefault(cm.market_id, cm)
    return tuple(seen.values())
