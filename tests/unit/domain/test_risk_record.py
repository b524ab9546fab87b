"""The recorded risk evaluation (trading §3.3, §8; ADR 0377): counts, ids, each invariant's actual against its
threshold, and an input document that re-hashes to the recorded hash after the trip through the event store's
transcoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.order_values import OrderNotInRequiredState, PreTradeCheck, RiskCheckResult
from paulp.domain.orders import Order
from paulp.domain.risk import CORRELATION_LOOKUP_ID, RiskDecision, evaluate, input_hash_of
from paulp.domain.risk_input import CorrelatedMarket, PortfolioSnapshot, Position, RiskRequest
from paulp.domain.risk_invariants import INVARIANTS
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.risk_record import evaluation_record, stored_input_verifies
from paulp.domain.risk_results import Severity
from tests.support.hypothesis_scale import examples

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MARKETS = ["KXA", "KXB", "KXC"]
CATEGORIES = ["economics", "politics"]
money = st.floats(-50_000, 50_000, allow_nan=False, allow_infinity=False)

portfolios = st.builds(
    PortfolioSnapshot,
    portfolio_value=st.floats(-100, 1_000_000, allow_nan=False, allow_infinity=False),
    daily_pnl=money,
    weekly_pnl=money,
    max_drawdown=st.floats(0, 1),
    positions=st.lists(st.builds(Position, st.sampled_from(MARKETS), st.sampled_from(CATEGORIES), money, money),
                       max_size=6).map(tuple),
    correlated_markets=st.none() | st.lists(
        st.builds(CorrelatedMarket, st.sampled_from(MARKETS), st.floats(0, 1), st.just("same_series")),
        max_size=3).map(tuple),
    system_healthy=st.booleans(),
)
requests = st.builds(
    RiskRequest,
    market_id=st.sampled_from(MARKETS),
    size=st.floats(0, 20_000, allow_nan=False, allow_infinity=False),
    category=st.sampled_from(CATEGORIES),
    spread=st.floats(0, 0.05),
    volume_24h=st.floats(0, 100_000),
    vpin_score=st.none() | st.floats(0, 1),
    ambiguity_score=st.none() | st.floats(0, 1),
    equivalence_grade=st.sampled_from([None, "identical", "near_equivalent", "different"]),
    settlement_date=st.none() | st.integers(-3600, 400 * 3600).map(lambda s: NOW + timedelta(seconds=s)),
    last_price_update=st.none() | st.integers(-5, 600).map(lambda s: NOW - timedelta(seconds=s)),
    recent_slippage_ratio=st.none() | st.floats(0, 2),
)
states = st.sampled_from(["NORMAL", "CAUTION", "HALT", "RECOVERY"])


def _through_the_store(evaluation: dict) -> dict:
    """The evaluation as an order's RiskChecked event carries it after the event store's transcoder."""
    order = Order.create(signal_id="sig-rec", strategy="bonding", ticker="KXA", side="YES", requested_size=50,
                         max_price=42, now=NOW)
    order.pre_trade_check(PreTradeCheck(True), NOW)
    order.validate(NOW)
    order.apply_risk_result(RiskCheckResult(evaluation["approved"]), NOW, evaluation)
    mapper = make_mapper()
    [checked] = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in order.collect_events()
                 if type(e).__name__ == "RiskChecked"]
    assert isinstance(checked.evaluation, dict)
    return checked.evaluation


@settings(max_examples=examples(150), deadline=None)
@given(request=requests, portfolio=portfolios, state=states)
def test_evaluation_record_when_portfolios_generated_then_counts_ids_and_input_hash_agree(
        request: RiskRequest, portfolio: PortfolioSnapshot, state: str):
    # Arrange
    decision = evaluate(request, portfolio, DEFAULT_LIMITS, state, NOW)
    # Act
    record = _through_the_store(evaluation_record(decision))
    # Assert: passed + failed = the invariants evaluated: all of them, or none when the correlation lookup failed
    evaluated = 0 if portfolio.correlated_markets is None else len(INVARIANTS)
    assert record["invariantsEvaluated"] == len(record["results"]) == evaluated
    assert record["passedCount"] + record["failedCount"] == evaluated
    assert record["passedCount"] == decision.checks_passed
    failed = [r for r in record["results"] if not r["passed"]]
    assert [r["id"] for r in failed if r["severity"] == Severity.CRITICAL.value] == (
        [] if evaluated == 0 else record["criticalIds"])
    assert [r["id"] for r in failed if r["severity"] == Severity.WARNING.value] == record["warningIds"]
    assert record["approved"] is (record["criticalIds"] == []) is decision.approved
    if evaluated == 0:
        assert record["criticalIds"] == [CORRELATION_LOOKUP_ID]
    # ... and the stored input is the one the decision hashed
    assert record["inputHash"] == decision.input_hash and stored_input_verifies(record)


def _decision(**portfolio: object) -> RiskDecision:
    request = RiskRequest(market_id="KXA", size=2100.0, category="economics", spread=0.002, volume_24h=10_000.0,
                          equivalence_grade="identical", settlement_date=NOW + timedelta(days=7),
                          last_price_update=NOW)
    return evaluate(request, PortfolioSnapshot(portfolio_value=500.0, **portfolio), DEFAULT_LIMITS,  # type: ignore[arg-type]
                    "NORMAL", NOW)


def test_evaluation_record_when_blocked_then_each_result_has_actual_threshold_severity_and_message():
    record = evaluation_record(_decision())
    i1 = next(r for r in record["results"] if r["id"] == "I1_MAX_POSITION_SIZE")
    assert i1 == {"id": "I1_MAX_POSITION_SIZE", "name": "Max Position Size", "passed": False, "severity": "critical",
                  "actual": 420.0, "threshold": 5.0, "message": i1["message"]}
    assert "420" in i1["message"] and record["criticalIds"][0] == "I1_MAX_POSITION_SIZE"
    i15 = next(r for r in record["results"] if r["id"] == "I15_ORDER_SIZE_LIMITS")
    assert i15["threshold"] == "10 - 10000"
    json.dumps(record, allow_nan=False)  # plain JSON throughout


def test_stored_input_when_tampered_then_it_no_longer_verifies():
    record = evaluation_record(_decision())
    assert stored_input_verifies(record)
    record["input"]["portfolio"]["portfolioValue"] = 50_000.0
    assert not stored_input_verifies(record)
    assert not stored_input_verifies({"inputHash": record["inputHash"]})  # no document: nothing proven
    assert not stored_input_verifies({**record, "input": {"x": float("nan")}})  # no canonical form
    assert input_hash_of(evaluation_record(_decision())["input"]) == record["inputHash"]


def _approved_order() -> Order:
    order = Order.create(signal_id="sig-recheck", strategy="bonding", ticker="KXA", side="YES", requested_size=50,
                         max_price=42, now=NOW)
    order.pre_trade_check(PreTradeCheck(True), NOW)
    order.validate(NOW)
    order.apply_risk_result(RiskCheckResult(True), NOW, evaluation_record(_decision(max_drawdown=0.0)))
    order.collect_events()
    return order


def test_record_risk_recheck_when_approved_order_then_evaluation_recorded_as_recheck_without_transition():
    # Arrange
    order = _approved_order()
    evaluation = evaluation_record(_decision())
    # Act
    order.record_risk_recheck(RiskCheckResult(False, invariant_ids=("I1_MAX_POSITION_SIZE",)), evaluation, NOW)
    # Assert: one RiskChecked, marked a re-check; the order is still RISK_APPROVED (the caller rejects it)
    [event] = order.collect_events()
    assert type(event).__name__ == "RiskChecked" and event.evaluation["recheck"] is True
    assert event.evaluation["criticalIds"] == evaluation["criticalIds"] and "recheck" not in evaluation
    assert str(order.state) == "RISK_APPROVED" and order.risk_check_result.invariant_ids == ("I1_MAX_POSITION_SIZE",)


def test_record_risk_recheck_when_order_not_approved_then_refused_and_nothing_recorded():
    order = Order.create(signal_id="sig-recheck-early", strategy="bonding", ticker="KXA", side="YES",
                         requested_size=50, max_price=42, now=NOW)
    order.collect_events()
    with pytest.raises(OrderNotInRequiredState):
        order.record_risk_recheck(RiskCheckResult(True), None, NOW)
    assert order.collect_events() == []
