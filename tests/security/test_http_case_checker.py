"""The http_cases checker's expectation matcher fails on every kind of mismatch (it cannot pass vacuously)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.checkers.api_http_cases import check_expectations

BODY = {"error": "Unauthorized", "message": "JWT validation failed: signature", "count": 2, "flag": True,
        "filters": {"venue": "kalshi", "limit": 100}, "trades": [{"order_id": "k1", "venue": "kalshi"},
                                                               {"order_id": "i1", "venue": "ibkr"}],
        "errors": [{"venue": "ibkr", "message": "down"}]}
NONE = {"kalshi": 0, "ibkr": 0}  # per-venue trade source reads of the request


def test_expectations_when_all_match_then_pass() -> None:
    check_expectations({"status": 401, "body": {"error": "Unauthorized", "filters": {"venue": "kalshi"}},
                        "body_contains": {"message": "JWT validation"}, "body_types": {"count": "integer",
                        "flag": "boolean", "filters": "object"}, "trade_ids": ["k1", "i1"],
                        "trade_venues": ["kalshi", "ibkr"], "error_venues": ["ibkr"], "body_absent": ["partial"],
                        "ibkr_queried": False}, 401, BODY, {"kalshi": 1, "ibkr": 0})


@pytest.mark.parametrize("expect,reads", [
    ({"status": 200}, NONE),
    ({"status": 401, "body": {"error": "Forbidden"}}, NONE),
    ({"status": 401, "body": {"filters": {"venue": "ibkr"}}}, NONE),
    ({"status": 401, "body": {"count": 2.5}}, NONE),
    ({"status": 401, "body": {"flag": 1}}, NONE),
    ({"status": 401, "body": {"missing": None}}, NONE),
    ({"status": 401, "body_contains": {"message": "expired"}}, NONE),
    ({"status": 401, "body_types": {"flag": "number"}}, NONE),
    ({"status": 401, "body_types": {"count": "wat"}}, NONE),
    ({"status": 401, "trade_ids": ["i1", "k1"]}, NONE),
    ({"status": 401, "trade_venues": ["kalshi"]}, NONE),
    ({"status": 401, "error_venues": []}, NONE),
    ({"status": 401, "body_absent": ["count"]}, NONE),
    ({"status": 401, "ibkr_queried": False}, {"kalshi": 0, "ibkr": 1}),
    ({"status": 401, "ibkr_queried": False}, None),
    ({"status": 401, "something_new": 1}, NONE),
])
def test_expectations_when_any_part_differs_then_assertion(expect: dict[str, Any],
                                                           reads: dict[str, int] | None) -> None:
    with pytest.raises(AssertionError):
        check_expectations(expect, 401, BODY, reads)
