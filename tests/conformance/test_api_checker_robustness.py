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


@pytest.mark.parametrize(
    "expect,reads",
    [
        ({"status": 200, "kalshi_queried": False, "ibkr_queried": True}, {"kalshi": 0, "ibkr": 1}),
        ({"status": 200, "kalshi_queried": True}, {"kalshi": 2, "ibkr": 0}),
    ],
)
def test_http_queried_when_counts_agree_then_accepted(expect: dict[str, Any], reads: dict[str, int]) -> None:
    check_expectations(expect, 200, BODY, reads)


@pytest.mark.parametrize(
    "expect,reads",
    [
        ({"status": 200, "kalshi_queried": False}, {"kalshi": 1, "ibkr": 0}),
        ({"status": 200, "kalshi_queried": True}, {"kalshi": 0, "ibkr": 1}),
        ({"status": 200, "ibkr_queried": False}, {"kalshi": 1, "ibkr": 1}),
        ({"status": 200, "kalshi_queried": True}, None),
    ],
)
def test_http_queried_when_counts_disagree_then_rejected(expect: dict[str, Any], reads: Any) -> None:
    with pytest.raises(AssertionError):
        check_expectations(expect, 200, BODY, reads)


@pytest.mark.parametrize(
    "case,failing",
    [
        ({"venue_rows": {"kalshi": [{"order_id": "k"}], "ibkr": {"error": "down"}}}, ["ibkr"]),
        ({"venue_rows": {"kalshi": "unavailable"}}, ["kalshi"]),
        ({"venue_rows": {"ibkr": None}}, ["ibkr"]),
        ({"venue_failures": ["kalshi", "ibkr"]}, ["kalshi", "ibkr"]),
        ({"failing_venues": ["ibkr"], "venue_rows": {"ibkr": {"error": "x"}}}, ["ibkr"]),
    ],
)
def test_admin_trades_failing_venue_when_spelled_any_way_then_read(case: dict[str, Any], failing: list[str]) -> None:
    assert venue_inputs(case)[1] == failing


@pytest.mark.parametrize(
    "case",
    [
        {"venue_rows": {"polymarket": []}},
        {"venue_rows": {"ibkr": 5}},
        {"venue_failures": ["nyse"]},
        {"venue_failures": "ibkr"},
    ],
)
def test_admin_trades_venue_inputs_when_uninterpretable_then_fail(case: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        venue_inputs(case)


CTX = Context("trading.json", "admin_trades", {})
FAILING = {
    "name": "ibkr down",
    "query": {},
    "venue_rows": {
        "kalshi": [{"order_id": "k-1", "created_at": "2026-02-28T10:00:00.000Z"}],
        "ibkr": {"error": "unavailable"},
    },
}


@pytest.mark.integration
def test_admin_trades_when_venue_fails_then_partial_is_checked_both_ways() -> None:
    admin_trades_check(
        {**FAILING, "expected": {"count": 1, "partial": True, "error_venues": ["ibkr"], "order_ids_in_order": ["k-1"]}},
        CTX,
    )
    with pytest.raises(AssertionError):
        admin_trades_check({**FAILING, "expected": {"partial": False}}, CTX)
    with pytest.raises(AssertionError):
        admin_trades_check({**FAILING, "expected": {"error_venues": ["kalshi"]}}, CTX)


@pytest.mark.integration
def test_admin_trades_when_400_then_error_and_code_compared() -> None:
    case = {"name": "bad venue", "query": {"venue": "x"}}
    admin_trades_check(
        {
            **case,
            "expected": {
                "http_status": 400,
                "error": "Invalid venue. Must be all, kalshi, or ibkr.",
                "code": "invalid_venue",
            },
        },
        CTX,
    )
    with pytest.raises(AssertionError):
        admin_trades_check({**case, "expected": {"http_status": 400, "code": "invalid_limit"}}, CTX)


# ----------------------------------------------------------------- http_cases case shape (ADR 0477)

HTTP_CTX = Context("api.json", "http_cases", {})
GOOD_CASE: dict[str, Any] = {
    "id": "probe",
    "group": "admin_auth",
    "basis": "spec",
    "note": "n",
    "config": {},
    "request": {"method": "GET", "path": "/admin/status", "headers": {}},
    "expect": {"status": 401},
}


class _SessionStarted(Exception):
    """Raised by the stub session: the checker accepted the case's shape and went on to run it."""


@pytest.fixture
def no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conformance.checkers import api_http_cases

    def started() -> Any:
        raise _SessionStarted

    monkeypatch.setattr(api_http_cases, "session", started)


@pytest.mark.parametrize(
    "case",
    [
        {**GOOD_CASE, "query": {"limit": "5"}},
        {**GOOD_CASE, "expected": {"status": 200}},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "query": {"limit": "5"}}},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "cookies": {"s": "x"}}},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "json": {"a": 1}}},
        {**GOOD_CASE, "request": {"path": "/admin/status", "headers": {}}},
        {**GOOD_CASE, "request": {"method": "GET", "headers": {}}},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "headers": [["authorization", "Bearer x"]]}},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "headers": {"x-n": 5}}},
        {**GOOD_CASE, "request": "GET /admin/status"},
        {**GOOD_CASE, "config": [["ADMIN_TOKEN", "t"]]},
        {**GOOD_CASE, "expect": {"status": 401, "body_matches": {}}},
        {**GOOD_CASE, "expect": {"body": {}}},
    ],
    ids=[
        "top-query",
        "top-expected",
        "request-query",
        "request-cookies",
        "request-json",
        "no-method",
        "no-path",
        "headers-pairs",
        "header-number",
        "request-string",
        "config-pairs",
        "expect-unknown",
        "expect-no-status",
    ],
)
def test_http_case_when_shape_unknown_then_refused_before_running(no_session: None, case: dict[str, Any]) -> None:
    from tests.conformance.checkers.api_http_cases import check as http_check

    with pytest.raises(AssertionError, match="http_cases"):
        http_check(case, HTTP_CTX)


@pytest.mark.parametrize(
    "case",
    [
        GOOD_CASE,
        {**GOOD_CASE, "given": {"empty_read_models": True}, "description": "prose"},
        {**GOOD_CASE, "request": {**GOOD_CASE["request"], "body": {"targetState": "CAUTION"}}},
    ],
    ids=["minimal", "given-and-description", "with-body"],
)
def test_http_case_when_shape_known_then_run(no_session: None, case: dict[str, Any]) -> None:
    from tests.conformance.checkers.api_http_cases import check as http_check

    with pytest.raises(_SessionStarted):
        http_check(case, HTTP_CTX)
