"""/admin/routing/* parameters against llm-routing §10 (ADR 0359), over real HTTP (uvicorn, real PG + NATS).

Cases derived from §10.2's table: names, defaults, the 1-500 limit, closed sets, ISO times with an exclusive
end, ``{error, message}`` bodies (with api-and-security's ``code``), and a repeated parameter read at its
first value, as the api-and-security endpoints read it (ADR 0346).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paulp.domain.clock import FixedClock, iso_utc
from paulp.domain.routing import Provider, RunType
from tests.fakes.llm_servers import FakeLlmServer
from tests.integration.helpers import NOW, make_container
from tests.integration.routing_support import SCORING_VARS, catch_up, fake_env, use_routing
from tests.support.hypothesis_scale import examples
from tests.support.served import serve_container

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
TOKEN = "routing-params-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Served = tuple[str, dict[str, str]]


def call(base: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(base + path, data=body, headers=AUTH if headers is None else headers,
                                 method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@contextmanager
def _serving(db: str, nats: str, namespace: str, fakes: dict[Provider, FakeLlmServer]) -> Iterator[Served]:
    """Two stored decisions at NOW: a cheap_enrichment success and a premium one refused (invalid model)."""
    container = make_container(db, nats, namespace, clock=FixedClock(NOW), admin_token=TOKEN)
    try:
        routing = use_routing(container, fake_env(fakes))
        ids = {"general_enrichment": routing.govern("general_enrichment", user_prompt="hello").decision_id,
               "ambiguity_score": routing.govern("ambiguity_score", SCORING_VARS, force_model="nope:x").decision_id}
        catch_up(container)
        with serve_container(container) as base:
            yield base, ids
    finally:
        container.close()


@pytest.fixture(scope="module")
def served(module_db, module_nats, module_ns, fakes_module) -> Iterator[Served]:
    """One served app for the module: every test that uses it only reads (52 of them built their own database,
    container and server, ~0.7 s each; ADR 0439). The one test that writes uses ``served_alone``."""
    with _serving(module_db, module_nats, module_ns, fakes_module) as answer:
        yield answer


@pytest.fixture
def served_alone(fresh_db, nats_url, namespace, fakes) -> Iterator[Served]:
    with _serving(fresh_db, nats_url, namespace, fakes) as answer:
        yield answer


def ids_of(body: dict[str, Any]) -> list[str]:
    return [d["id"] for d in body["decisions"]]


def assert_400(answer: tuple[int, Any], code: str) -> None:
    status, body = answer
    assert status == 400, body
    assert body["code"] == code and isinstance(body["error"], str) and isinstance(body["message"], str), body


# --- GET /decisions: runType (closed set, optional), limit 1-500 (default 100) ---------------------------------

def test_decisions_when_run_type_repeated_then_the_first_is_the_filter(served):
    base, ids = served
    assert ids_of(call(base, "/admin/routing/decisions?runType=general_enrichment&runType=ambiguity_score")[1]) \
        == [ids["general_enrichment"]]
    assert ids_of(call(base, "/admin/routing/decisions?runType=ambiguity_score&runType=general_enrichment")[1]) \
        == [ids["ambiguity_score"]]
    assert_400(call(base, "/admin/routing/decisions?runType=bad&runType=general_enrichment"), "invalid_run_type")


def test_decisions_when_run_type_empty_or_other_case_then_absent_or_refused(served):
    base, ids = served
    assert sorted(ids_of(call(base, "/admin/routing/decisions?runType=")[1])) == sorted(ids.values())
    assert_400(call(base, "/admin/routing/decisions?runType=GENERAL_ENRICHMENT"), "invalid_run_type")


def test_decisions_when_limit_repeated_then_the_first_is_read(served):
    base, _ = served
    assert len(call(base, "/admin/routing/decisions?limit=1&limit=x")[1]["decisions"]) == 1
    assert_400(call(base, "/admin/routing/decisions?limit=x&limit=1"), "invalid_limit")
    assert len(call(base, "/admin/routing/decisions?limit=&limit=1")[1]["decisions"]) == 2  # first empty: 100


@pytest.mark.parametrize(("limit", "count"), [("1", 1), ("500", 2), ("0001", 1), ("0500", 2), ("", 2)])
def test_decisions_when_limit_in_range_then_that_many_newest_first(served, limit, count):
    base, ids = served
    status, body = call(base, f"/admin/routing/decisions?limit={limit}")
    assert status == 200
    assert ids_of(body) == [ids["ambiguity_score"], ids["general_enrichment"]][:count]


@pytest.mark.parametrize("limit", ["0", "501", "00501", "-1", "1.0", "1e2", "%205", "5%0A", "abc", "9" * 5000])
def test_decisions_when_limit_outside_1_to_500_then_400_invalid_limit(served, limit):
    assert_400(call(served[0], f"/admin/routing/decisions?limit={limit}"), "invalid_limit")


def _expected_limit(raw: str) -> int | None:
    """§10.2: absent/empty is 100; decimal digits naming 1..500 are that many; anything else is refused."""
    if raw == "":
        return 100
    digits = raw.lstrip("0")
    if re.fullmatch(r"[0-9]+", raw) and len(digits) <= 3 and 1 <= int(digits or "0") <= 500:
        return int(digits)
    return None


LIMITS = st.one_of(st.integers(-3, 600).map(str), st.from_regex(r"0{0,4}[0-9]{1,6}", fullmatch=True),
                   st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=8))


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=LIMITS, second=LIMITS)
def test_decisions_limit_property_first_value_decides_and_never_5xx(served, first, second):
    base, _ = served
    status, body = call(base, f"/admin/routing/decisions?limit={quote(first, safe='')}&limit={quote(second, safe='')}")
    expected = _expected_limit(first)
    if expected is None:
        assert (status, body["code"]) == (400, "invalid_limit"), body
    else:
        assert status == 200 and len(body["decisions"]) == min(expected, 2), body


# --- GET /stats: start, end ISO (default last 24 h), end exclusive ---------------------------------------------

def _stats(base: str, query: str) -> tuple[int, Any]:
    return call(base, "/admin/routing/stats?" + query)


def test_stats_when_end_is_the_decision_time_then_it_is_not_counted(served):
    base, _ = served
    at, before, after = iso_utc(NOW), iso_utc(NOW - timedelta(hours=1)), iso_utc(NOW + timedelta(seconds=1))
    assert _stats(base, f"start={before}&end={at}")[1]["totalDecisions"] == 0
    assert _stats(base, f"start={at}&end={after}")[1]["totalDecisions"] == 2


def test_stats_when_only_end_then_the_24_hours_before_it(served):
    base, _ = served
    status, body = _stats(base, f"end={iso_utc(NOW + timedelta(hours=1))}")
    assert status == 200
    assert (body["periodStart"], body["periodEnd"]) == (iso_utc(NOW - timedelta(hours=23)),
                                                         iso_utc(NOW + timedelta(hours=1)))
    assert (body["totalDecisions"], body["successCount"], body["failureCount"]) == (2, 1, 1)


def test_stats_when_nothing_given_then_the_24_hours_before_now(served):
    status, body = _stats(served[0], "")
    assert status == 200
    assert (body["periodStart"], body["periodEnd"]) == (iso_utc(NOW - timedelta(hours=24)), iso_utc(NOW))


def test_stats_when_start_or_end_repeated_then_the_first_is_read(served):
    base, _ = served
    start = iso_utc(NOW - timedelta(hours=2))
    status, body = _stats(base, f"start={start}&start=bad&end={iso_utc(NOW + timedelta(hours=1))}&end=bad")
    assert status == 200 and body["periodStart"] == start and body["totalDecisions"] == 2
    assert_400(_stats(base, f"start=bad&start={start}"), "invalid_start")
    assert_400(_stats(base, f"end=bad&end={start}"), "invalid_end")


@pytest.mark.parametrize(("query", "code"), [
    ("start=bad&end=bad", "invalid_start"),  # the table's order: start, then end
    ("end=bad&start=bad", "invalid_start"),
    ("start=2026-03-02T15:00:00Z&end=2026-03-02T15:00:00Z", "invalid_time_range"),  # empty: end is exclusive
    ("start=2026-03-02T16:00:00Z&end=2026-03-02T15:00:00Z", "invalid_time_range"),
    ("end=0001-01-01T00:00:00Z", "invalid_time_range"),  # no 24 h before it
    ("start=2026-03-02T25:00:00Z", "invalid_start"),
])
def test_stats_when_times_invalid_then_400_naming_the_first_failure(served, query, code):
    assert_400(_stats(served[0], query), code)


# --- GET /dry-run (ours, ADR 0272): runType required, closed set ----------------------------------------------

def test_dry_run_when_run_type_repeated_then_the_first_is_previewed(served):
    base, _ = served
    status, body = call(base, "/admin/routing/dry-run?runType=signal_scanning&runType=ambiguity_score")
    assert status == 200 and (body["runType"], body["routeClass"]) == ("signal_scanning", "scanner_fastpath")
    assert_400(call(base, "/admin/routing/dry-run?runType=bad&runType=signal_scanning"), "invalid_run_type")
    assert_400(call(base, "/admin/routing/dry-run?runType=&runType=signal_scanning"), "invalid_run_type")


@pytest.mark.parametrize("query", ["", "?runType=", "?runType=not_a_run_type", "?runType=Signal_Scanning"])
def test_dry_run_when_run_type_missing_or_unknown_then_400(served, query):
    assert_400(call(served[0], "/admin/routing/dry-run" + query), "invalid_run_type")


def test_dry_run_when_every_run_type_then_each_previewed(served):
    for rt in RunType:
        status, body = call(served[0], f"/admin/routing/dry-run?runType={rt}")
        assert status == 200 and body["runType"] == str(rt)


# --- GET /budget ---------------------------------------------------------------------------------------------

def test_budget_when_a_class_has_no_model_then_its_projection_row_has_no_model_id(served):
    status, body = call(served[0], "/admin/routing/budget")
    assert status == 200
    rows = {r["routeClass"]: r for r in body["projection"]["byRouteClass"]}
    assert "resolvedModelId" not in rows["deterministic_hard_control"]
    assert rows["premium_cognition"]["resolvedModelId"] == "anthropic:claude-opus-4-6"


# --- POST /budget/reset: body {category, periodType, reason} --------------------------------------------------

def _resets(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE %s", ("%UsageReset",)).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(("body", "code", "fields"), [
    (b"", "invalid_json", None),
    (b"{not json", "invalid_json", None),
    (b'{"category": ' + b"9" * 5000 + b"}", "invalid_json", None),
    (b"[1]", "validation_error", ["body"]),
    (b'{"category": "research_scoring"}', "validation_error", ["periodType"]),
    (b'{"periodType": "daily", "reason": "r"}', "validation_error", ["category"]),
    (b"{}", "validation_error", ["category", "periodType"]),
    (b'{"category": "bad", "periodType": "daily", "reason": "r"}', "invalid_category", None),
    (b'{"category": "research_scoring", "periodType": "weekly", "reason": "r"}', "invalid_period_type", None),
    (b'{"category": "research_scoring", "periodType": "daily"}', "reason_required", None),
    (b'{"category": "research_scoring", "periodType": "daily", "reason": "  "}', "reason_required", None),
])
def test_budget_reset_when_body_invalid_then_400_and_nothing_recorded(served, module_db, body, code, fields):
    answer = call(served[0], "/admin/routing/budget/reset", body, {**AUTH, "Content-Type": "application/json"})
    assert_400(answer, code)
    assert answer[1].get("fields") == fields
    assert _resets(module_db) == 0  # no test records a reset in the module's database


def test_budget_reset_when_valid_then_recorded_once_with_its_period(served_alone, fresh_db):
    body = json.dumps({"category": "research_scoring", "periodType": "monthly", "reason": "drill"}).encode()
    status, answer = call(served_alone[0], "/admin/routing/budget/reset", body,
                          {**AUTH, "Content-Type": "application/json"})
    assert (status, answer) == (200, {"success": True, "category": "research_scoring", "periodType": "monthly",
                                      "periodStart": "2026-03-01"})
    assert _resets(fresh_db) == 1


# --- §10.1: authentication before any parameter is read --------------------------------------------------------

@pytest.mark.parametrize("path", ["/admin/routing/decisions?limit=0", "/admin/routing/stats?start=bad",
                                  "/admin/routing/dry-run", "/admin/routing/budget"])
def test_routing_when_unauthenticated_then_401_before_validation(served, path):
    status, body = call(served[0], path, headers={})
    assert status == 401 and body["error"] == "Unauthorized" and isinstance(body["message"], str)
