"""Event-graph correlation (trading §3.4): source order, edge caps, rule selectors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paulp.domain.risk_correlation import (
    CachedPair,
    CatalogueMarket,
    CorrelationRule,
    GraphEdge,
    GraphNode,
    correlated_markets,
    edge_score,
)

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
M = GraphNode("M")


@pytest.mark.parametrize(
    ("edge_type", "weight", "expected"),
    [
        ("correlated_with", 0.95, 0.95),
        ("same_series", 1.0, 0.8),
        ("belongs_to_event", 0.9, 0.5),
        ("tagged_with_topic", None, 0.5),
        ("resolved_by_source", 1.0, 0.6),
        ("occurs_in_window", 0.4, 0.4),
        ("mentions", 1.0, 0.3),
    ],
)
def test_edge_score_when_type_has_cap_then_weight_is_capped(
    edge_type: str, weight: float | None, expected: float
) -> None:
    assert edge_score(edge_type, weight) == expected


def test_correlated_markets_when_cache_and_edge_name_same_market_then_cache_wins() -> None:
    pair = CachedPair("X", "M", 0.72, NOW + timedelta(minutes=5))
    edge = GraphEdge(M, GraphNode("X"), "correlated_with", 0.99)

    found = correlated_markets("M", NOW, cached=[pair], edges=[edge])

    assert [(c.market_id, c.correlation_score, c.correlation_type) for c in found] == [("X", 0.72, "cached")]


def test_correlated_markets_when_cache_expired_or_invalid_then_ignored() -> None:
    expired = CachedPair("M", "X", 0.7, NOW)
    invalid = CachedPair("M", "Y", 0.7, None, valid=False)

    assert correlated_markets("M", NOW, cached=[expired, invalid]) == ()


def test_correlated_markets_when_edge_matches_label_then_other_endpoint_taken() -> None:
    edge = GraphEdge(GraphNode("Y"), GraphNode("node-7", label="M"), "same_series", 0.6)

    found = correlated_markets("M", NOW, edges=[edge])

    assert [(c.market_id, c.correlation_score) for c in found] == [("Y", 0.6)]


def test_correlated_markets_when_other_endpoint_not_a_market_then_skipped() -> None:
    edge = GraphEdge(M, GraphNode("event-1", kind="event"), "belongs_to_event", 1.0)

    assert correlated_markets("M", NOW, edges=[edge]) == ()


def test_correlated_markets_when_rule_category_matches_then_adds_up_to_50_others() -> None:
    catalogue = [CatalogueMarket("M", "weather")] + [CatalogueMarket(f"W{i}", "weather") for i in range(60)]
    rule = CorrelationRule('{"category": "weather"}', 0.4, "category_rule")

    found = correlated_markets("M", NOW, rules=[rule], catalogue=catalogue)

    assert len(found) == 50
    assert all(c.correlation_score == 0.4 and c.correlation_type == "category_rule" for c in found)


def test_correlated_markets_when_selector_malformed_or_target_not_in_catalogue_then_no_rule_matches() -> None:
    catalogue = [CatalogueMarket("M", "weather", "S1"), CatalogueMarket("N", "weather", "S1")]
    rules = [CorrelationRule("not json", 0.4, "r"), CorrelationRule("[1]", 0.4, "r"), CorrelationRule("{}", 0.4, "r")]

    assert correlated_markets("M", NOW, rules=rules, catalogue=catalogue) == ()
    assert (
        correlated_markets("Z", NOW, rules=[CorrelationRule('{"series": "S1"}', 0.4, "r")], catalogue=catalogue) == ()
    )


def test_correlated_markets_when_category_selector_differs_then_series_not_consulted() -> None:
    catalogue = [CatalogueMarket("M", "weather", "S1"), CatalogueMarket("N", "sports", "S1")]
    rule = CorrelationRule('{"category": "sports", "series": "S1"}', 0.4, "r")

    assert correlated_markets("M", NOW, rules=[rule], catalogue=catalogue) == ()
