"""The groups served over HTTP keep their verdict when a number is written 10.0 and when a case states fewer
facts (ADR 0488; the pure groups are in test_checker_number_forms / test_checker_expected_subsets). A full pass is
minutes (``python -m tests.conformance.probes.served_forms``), so each group runs a few representative mutated
cases in one item: the ones the probe found failing, and one plain rewrite of each group's sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir
from tests.conformance.test_checker_number_forms import _floats

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"


def _case(folder: Path, file: str, group: str, prefix: str) -> dict[str, Any]:
    return next(case for cid, case in CHECKERS[(file, group)].split(load_groups(folder / file)[group])
                if cid.startswith(prefix))


def _without(case: dict[str, Any], key: str, expected: str = "expected") -> dict[str, Any]:
    return {**case, expected: {k: v for k, v in case[expected].items() if k != key}}


def _mutations(group: str) -> list[tuple[str, dict[str, Any]]]:
    sample = vectors_dir()
    if group == "http_cases":
        return [
            # product: POST /admin/audit/verify read {"startSeq": 1000000.0} as a non-integer (400)
            ("floats:derived/304", _floats(_case(DERIVED, "api.json", group, "304-audit-verify-empty-range"))),
            ("floats:sample/027", _floats(_case(sample, "api.json", group, "027-trades-partial-on-venue-failure"))),
        ]
    if group == "admin_trades":
        merge = _case(sample, "trading.json", group, "000-merge and sort")
        return [
            ("floats:sample/000", _floats(merge)),
            # a JSON number in the query is written as the reference prints it: limit=10, not limit=10.0
            ("query-number", {**merge, "query": {"limit": 10.0}}),
            ("query-number-capped", {**_case(sample, "trading.json", group, "002-limit capped"),
                                     "query": {"limit": 9999.0}}),
            # error facts without http_status mean an error answer, not the 200 a page case leaves unstated
            ("drop-status", _without(_case(DERIVED, "trading.json", group, "005-limit 2.9"), "http_status")),
        ]
    if group == "admin_routing":
        budget = _case(DERIVED, "llm-routing.json", group, "001-budget: every category")
        return [
            ("floats:derived/001", _floats(budget)),
            ("drop-status:derived/001", _without(budget, "status")),
            ("drop-recommendedStatus:sample/000",
             _without(_case(sample, "llm-routing.json", group, "000-"), "recommendedStatus")),
        ]
    assert group == "admin_auth"
    no_credentials = _case(sample, "llm-routing.json", group, "000-no credentials")
    return [("floats:sample/000", _floats(no_credentials)),
            ("drop-status:sample/000", _without(no_credentials, "status"))]


FILES = {"http_cases": "api.json", "admin_trades": "trading.json", "admin_routing": "llm-routing.json",
         "admin_auth": "llm-routing.json"}


@pytest.mark.parametrize("group", list(FILES))
def test_served_checker_when_numbers_rewritten_or_a_fact_left_out_then_same_verdict(group: str) -> None:
    file = FILES[group]
    ctx = Context(file, group, load_groups(DERIVED / file))
    failed = []
    for label, case in _mutations(group):
        try:
            CHECKERS[(file, group)].run(case, ctx)
        except AssertionError as e:
            failed.append(f"{label}: {str(e)[:300]}")
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize(("group", "expected"), [
    ("admin_auth", {"relTolerance": 0.01}),
    ("admin_routing", {"referenceStatus": 404, "referenceBody": {"error": "Not found"}}),
])
def test_served_checker_when_nothing_assertable_is_stated_then_refused(group: str, expected: dict[str, Any]) -> None:
    case = {"input": {}, "expected": expected}
    with pytest.raises(AssertionError, match="not interpretable"):
        CHECKERS[("llm-routing.json", group)].run(case, Context("llm-routing.json", group, {}))


def test_admin_trades_query_when_text_then_sent_as_written_and_numbers_as_the_reference_prints_them() -> None:
    from tests.conformance.checkers.trading_admin_trades import query_text

    assert query_text({"limit": "10.0", "venue": "ibkr"}) == "limit=10.0&venue=ibkr"  # text: §1.3 refuses it
    assert query_text({"limit": 10.0}) == query_text({"limit": 10}) == "limit=10"
    assert query_text({"limit": 2.5, "x": True}) == "limit=2.5&x=true"
    for bad in ({"limit": None}, {"limit": [10]}, ["limit", "10"]):
        with pytest.raises(AssertionError, match="not interpretable"):
            query_text(bad)
