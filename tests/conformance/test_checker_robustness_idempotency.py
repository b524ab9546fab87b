"""order_lifecycle.idempotency, §1.8's system-level statements (ADR 0484): the checker reads the open-order key and
the command/replay statements against the real system, fails a case whose expected text contradicts the spec, and
still fails prose it cannot tie to a check. Each test runs a right case (it passes) beside a wrong one (it fails).
The observations come from one throwaway database per interpreter (trading_idempotency_system.observe)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.conformance.checkers import trading_idempotency_system as system
from tests.conformance.registry import CHECKERS, Context, load_checkers

load_checkers()
TRADING, GROUP = "trading.json", "order_lifecycle"


def run(case: dict[str, Any]) -> None:
    item = ("idempotency", case, {})
    CHECKERS[(TRADING, GROUP)].run(item, Context(TRADING, GROUP, {GROUP: item}))


def rejects(case: dict[str, Any], match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        run(case)


SAME_KEY = {"case": "a new signal for the same (strategy, ticker, side) while an order for that key is still open",
            "expected": "ignored: no new order is created"}
OTHER_SIDE = {"case": "a signal for the other side of the same market while the YES order is open",
              "expected": "a new order is created"}
AFTER_CLOSE = {"case": "a new signal for the same key after the first order was cancelled (closed)",
               "expected": "a new order is created"}
REPLAY = {"case": "replaying the order's events after its venue submission",
          "expected": "the venue order is not re-submitted"}


def test_open_order_key_when_expected_says_ignored_then_passes_and_when_it_says_created_then_fails() -> None:
    run(SAME_KEY)
    rejects({**SAME_KEY, "expected": "a second order is created for the same key"}, "0 order")


def test_open_order_controls_when_expected_says_ignored_then_fail() -> None:
    run(OTHER_SIDE)
    run(AFTER_CLOSE)
    rejects({**OTHER_SIDE, "expected": "ignored"}, "other side")
    rejects({**AFTER_CLOSE, "expected": "no new order"}, "closed")


def test_open_order_when_expected_claims_nothing_then_not_interpretable() -> None:
    rejects({**SAME_KEY, "expected": "see the strategy docs"}, "not interpretable")


def test_command_when_expected_says_it_is_sent_again_then_fails() -> None:
    run(REPLAY)
    run({"case": "the same command applied twice (aggregateId, commandId)", "expected": "applied at most once"})
    rejects({**REPLAY, "expected": "the venue order is submitted again"}, "contradicts")
    rejects({"case": "the same command applied twice", "expected": "applied twice"}, "contradicts")


def test_when_the_system_creates_a_second_open_order_then_the_same_key_case_fails(monkeypatch: Any) -> None:
    """What the checker asserts if create_orders ignored the open key: the observed facts are replaced by those of
    a system that made the second order (the case itself stays right)."""
    orders, replay = system.observe()
    monkeypatch.setitem(system._CACHE, "facts", (replace(orders, same_key=1, open_per_key=2), replay))
    rejects(SAME_KEY, "two non-closed orders")


def test_when_the_replay_appends_a_submission_then_the_replay_case_fails(monkeypatch: Any) -> None:
    orders, replay = system.observe()
    monkeypatch.setitem(system._CACHE, "facts", (orders, replace(replay, fills=2, events_after_first=3)))
    rejects(REPLAY, "applied 2 times")


def test_unrelated_prose_still_fails_as_not_interpretable() -> None:
    rejects({"case": "the weather in Paris", "expected": "sunny"}, "not interpretable")
    rejects({"case": "orders are listed by creation time", "expected": "newest first"}, "not interpretable")


def test_open_order_for_another_strategy_or_market_is_not_read_as_the_same_key() -> None:
    case = {"case": "a signal from another strategy for the same ticker and side while one order is open",
            "expected": "a new order is created"}
    rejects(case, "not interpretable")
    rejects({**case, "case": "a new signal for a different market while an order is open"}, "not interpretable")
