"""Checkers of the thin trading groups audited in ADR 0479: each test fails on the checker as it was before.

Breaker manual checks now read what an operator move leaves behind (one MANUAL event with its reason and actor,
§2.3's HALT timer rule, nothing on a refusal); bond_filter, expected_return_examples, herfindahl and kelly.batch
refuse fields they do not read; admin_trades refuses page expectations on an error answer and checks the page's
own shape (count, venue on every trade, the six filters, ``errors`` exactly when partial).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from paulp.domain.breaker import CircuitBreaker
from tests.conformance.checkers.trading_admin_trades import _page_shape
from tests.conformance.checkers.trading_admin_trades import check as admin_trades_check
from tests.conformance.registry import Context
from tests.conformance.test_checker_robustness_trading_tables import TRADING, manual, rejects, run

# ---------------------------------------------------------------- circuit_breaker manual_transition_checks


ORIGINAL = CircuitBreaker.transition


@pytest.fixture
def transition_recorded_as() -> Iterator[Any]:
    """Replace the breaker's transition with a faulty one for one test."""

    def install(faulty: Any) -> None:
        CircuitBreaker.transition = faulty  # type: ignore[method-assign]

    yield install
    CircuitBreaker.transition = ORIGINAL  # type: ignore[method-assign]


def test_manual_check_when_the_reason_is_not_recorded_then_fails(transition_recorded_as: Any) -> None:
    case = {"from": "NORMAL", "target": "CAUTION", "reason": "drill", "expected": "accepted"}
    run("circuit_breaker", manual(**case))

    def drops_reason(self: CircuitBreaker, target: str, reason: str, actor: str, now: datetime) -> Any:
        return ORIGINAL(self, target, "manual", actor, now)

    transition_recorded_as(drops_reason)
    rejects("circuit_breaker", manual(**case), "recorded as")


def test_manual_check_when_the_actor_is_not_recorded_then_fails(transition_recorded_as: Any) -> None:
    def anonymous(self: CircuitBreaker, target: str, reason: str, actor: str, now: datetime) -> Any:
        return ORIGINAL(self, target, reason, "api-token-user", now)

    transition_recorded_as(anonymous)
    rejects("circuit_breaker", manual(**{"from": "HALT", "target": "RECOVERY", "expected": "accepted"}), "recorded as")


def test_manual_check_when_a_refusal_records_something_then_fails(transition_recorded_as: Any) -> None:
    def noisy(self: CircuitBreaker, target: str, reason: str, actor: str, now: datetime) -> Any:
        self.raise_alert("REFUSED_TRANSITION", "warning", now)
        return ORIGINAL(self, target, reason, actor, now)

    transition_recorded_as(noisy)
    rejects(
        "circuit_breaker",
        manual(**{"from": "HALT", "target": "NORMAL", "expected": "refused"}),
        "refused transition recorded",
    )


def test_manual_check_when_recovery_keeps_the_halt_timer_then_fails(transition_recorded_as: Any) -> None:
    def keeps_timer(self: CircuitBreaker, target: str, reason: str, actor: str, now: datetime) -> Any:
        started = self.halt_started_at
        previous = ORIGINAL(self, target, reason, actor, now)
        if target == "RECOVERY":  # the setup's move into HALT still starts the timer
            self.halt_started_at = started
        return previous

    transition_recorded_as(keeps_timer)
    rejects("circuit_breaker", manual(**{"from": "HALT", "target": "RECOVERY", "expected": "accepted"}), "HALT timer")


def test_manual_check_when_expected_is_neither_outcome_then_fails() -> None:
    rejects("circuit_breaker", manual(**{"from": "NORMAL", "target": "HALT", "expected": "ok"}), "accepted or refused")


# ---------------------------------------------------------------- bonding_barbell

ROW = {"marketId": "b", "venue": "kalshi", "probability": 0.95, "volume24h": 5000, "spread": 0.02}


def test_bond_filter_when_a_row_or_case_carries_an_unread_field_then_fails() -> None:
    case = {"input": [ROW], "expected_in_order": [{"marketId": "b", "expectedYield": 1 / 19}]}
    run("bonding_barbell", ("bond_filter", case))
    rejects("bonding_barbell", ("bond_filter", {**case, "input": [{**ROW, "active": False}]}), "active")
    rejects("bonding_barbell", ("bond_filter", {**case, "topN": 50}), "topN")
    rejects(
        "bonding_barbell",
        ("bond_filter", {**case, "expected_in_order": [{"marketId": "b", "expectedYield": 1 / 19, "rank": 1}]}),
        "rank",
    )


def test_expected_return_when_an_unread_field_or_a_bad_pair_then_fails() -> None:
    case = {"bonds": [[100, 0.1]], "tails": [[50, 20]], "expected_bondReturn": 10.0}
    run("bonding_barbell", ("expected_return_examples", case))
    rejects("bonding_barbell", ("expected_return_examples", {**case, "config": {"tailPct": 20}}), "config")
    rejects("bonding_barbell", ("expected_return_examples", {**case, "tails": [[50, 20, 0.05]]}), "allocation, figure")


def test_herfindahl_when_an_unread_field_then_fails() -> None:
    run("bonding_barbell", ("herfindahl", {"allocations": [1, 3], "expected": 0.625}))
    rejects("bonding_barbell", ("herfindahl", {"allocations": [1, 3], "weights": [1, 1], "expected": 0.625}), "weights")


# ---------------------------------------------------------------- kelly batch

OPP = {"id": "a", "fairProbability": 0.6, "marketPrice": 0.5, "side": "YES"}
SIZED = {"id": "a", "adjustedFraction": 0.05, "positionSize": 500}


def batch(**case: Any) -> tuple[str, dict[str, Any]]:
    return "batch", {"opportunities": [OPP], "bankroll": 10000, "config": {}, "expected": [SIZED], **case}


def test_batch_when_an_unread_field_then_fails() -> None:
    run("kelly", batch())
    rejects("kelly", batch(opportunities=[{**OPP, "historicalReturns": [0.1] * 5}]), "historicalReturns")
    rejects("kelly", batch(maxPositionPct=10), "maxPositionPct")
    rejects("kelly", batch(expected=[{**SIZED, "kelly": 0.2}]), "kelly")


# ---------------------------------------------------------------- admin_trades

CTX = Context(TRADING, "admin_trades", {})
PAGE = {
    "count": 1,
    "trades": [{"order_id": "k", "venue": "kalshi"}],
    "partial": False,
    "timestamp": "now",
    "filters": {"venue": "all", "limit": 100, "strategy": None, "ticker": None, "status": None, "mode": None},
}


@pytest.mark.integration
def test_admin_trades_when_an_error_answer_is_expected_with_page_facts_then_fails() -> None:
    case = {"name": "bad limit", "query": {"limit": "0"}}
    admin_trades_check({**case, "expected": {"http_status": 400, "code": "invalid_limit"}}, CTX)
    with pytest.raises(AssertionError, match="cannot hold"):
        admin_trades_check({**case, "expected": {"http_status": 400, "count": 0}}, CTX)


@pytest.mark.parametrize(
    "body",
    [
        {**PAGE, "count": 2},
        {**PAGE, "trades": [{"order_id": "k"}]},
        {**PAGE, "partial": False, "errors": []},
        {**PAGE, "partial": True},
        {**PAGE, "filters": {"venue": "all", "limit": 100}},
        {k: v for k, v in PAGE.items() if k != "timestamp"},
    ],
)
def test_admin_trades_page_when_its_shape_departs_from_the_spec_then_fails(body: dict[str, Any]) -> None:
    _page_shape(PAGE)
    with pytest.raises(AssertionError):
        _page_shape(body)
