"""The trades-facing checkers read every spelling the vector formats allow, and still reject wrong results.

api.json's format names ``ibkr_failure`` / ``ibkr_queried``; their kalshi twins are read the same way.
trading.json's admin_trades may name a failing venue source (partial results, trading §9.1).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.checkers.api_http_cases import check_expectations
from tests.conformance.checkers.trading_admin_trades import check as admin_trades_check
from tests.conformance.checkers.trading_admin_trades import venue_inputs
from tests.conformance.registry import Context

BODY = {"count": 0, "trades": [], "partial": False}


@pytest.mark.parametrize("expect,reads", [
    ({"status": 200, "kalshi_queried": False, "ibkr_queried": True}, {"kalshi": 0, "ibkr": 1}),
    ({"status": 200, "kalshi_queried": True}, {"kalshi": 2, "ibkr": 0}),
])
def test_http_queried_when_counts_agree_then_accepted(expect: dict[str, Any], reads: dict[str, int]) -> None:
    check_expectations(expect, 200, BODY, reads)


@pytest.mark.parametrize("expect,reads", [
    ({"status": 200, "kalshi_queried": False}, {"kalshi": 1, "ibkr": 0}),
    ({"status": 200, "kalshi_queried": True}, {"kalshi": 0, "ibkr": 1}),
    ({"status": 200, "ibkr_queried": False}, {"kalshi": 1, "ibkr": 1}),
    ({"status": 200, "kalshi_queried": True}, None),
])
def test_http_queried_when_counts_disagree_then_rejected(expect: dict[str, Any], reads: Any) -> None:
    with pytest.raises(AssertionError):
        check_expectations(expect, 200, BODY, reads)


@pytest.mark.parametrize("case,failing", [
    ({"venue_rows": {"kalshi": [{"order_id": "k"}], "ibkr": {"error": "down"}}}, ["ibkr"]),
    ({"venue_rows": {"kalshi": "unavailable"}}, ["kalshi"]),
    ({"venue_rows": {"ibkr": None}}, ["ibkr"]),
    ({"venue_failures": ["kalshi", "ibkr"]}, ["kalshi", "ibkr"]),
    ({"failing_venues": ["ibkr"], "venue_rows": {"ibkr": {"error": "x"}}}, ["ibkr"]),
])
def test_admin_trades_failing_venue_when_spelled_any_way_then_read(case: dict[str, Any], failing: list[str]) -> None:
    assert venue_inputs(case)[1] == failing


@pytest.mark.parametrize("case", [
    {"venue_rows": {"polymarket": []}},
    {"venue_rows": {"ibkr": 5}},
    {"venue_failures": ["nyse"]},
    {"venue_failures": "ibkr"},
])
def test_admin_trades_venue_inputs_when_uninterpretable_then_fail(case: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        venue_inputs(case)


CTX = Context("trading.json", "admin_trades", {})
FAILING = {"name": "ibkr down", "query": {},
           "venue_rows": {"kalshi": [{"order_id": "k-1", "created_at": "2026-02-28T10:00:00.000Z"}],
                          "ibkr": {"error": "unavailable"}}}


@pytest.mark.integration
def test_admin_trades_when_venue_fails_then_partial_is_checked_both_ways() -> None:
    admin_trades_check({**FAILING, "expected": {"count": 1, "partial": True, "error_venues": ["ibkr"],
                                                "order_ids_in_order": ["k-1"]}}, CTX)
    with pytest.raises(AssertionError):
        admin_trades_check({**FAILING, "expected": {"partial": False}}, CTX)
    with pytest.raises(AssertionError):
        admin_trades_check({**FAILING, "expected": {"error_venues": ["kalshi"]}}, CTX)


@pytest.mark.integration
def test_admin_trades_when_400_then_error_and_code_compared() -> None:
    case = {"name": "bad venue", "query": {"venue": "x"}}
    admin_trades_check({**case, "expected": {"http_status": 400, "error": "Invalid venue. Must be all, kalshi, "
                                             "or ibkr.", "code": "invalid_venue"}}, CTX)
    with pytest.raises(AssertionError):
        admin_trades_check({**case, "expected": {"http_status": 400, "code": "invalid_limit"}}, CTX)
