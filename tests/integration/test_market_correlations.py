"""Operator-declared market correlations on real PostgreSQL + NATS (ADR 0365): declared through the API or
``paulp risk correlations``, projected into ``views.event_graph_edges``, they make I3 count a position in one
market against an order in the other; withdrawn, they stop; bad input is refused with nothing recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.cli import app as cli_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.market_correlations import MarketCorrelation
from tests.fakes.turnstile import fake_turnstile
from tests.integration.helpers import (
    assert_live_equals_replay,
    facts,
    make_container,
    signal,
    wait_tracked,
    workers,
)

pytestmark = pytest.mark.integration

AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
URL = "/admin/risk/correlations"
PROJECTION = "market_correlations"
BOOK = {"KXCOR-A": "a", "KXCOR-B": "b", "KXCOR-C": "c"}  # three categories: only I3 can relate them


def _book(at: Any) -> StaticMarketData:
    return StaticMarketData({t: replace(facts(t), category=c, last_price_update=at - timedelta(seconds=5),
                                        settlement_date=at + timedelta(days=30)) for t, c in BOOK.items()})


def _hold_in_a(system: Container, clock: FixedClock) -> None:
    """Two bonding fills of 50 contracts in KXCOR-A: about $43 held there."""
    for n in range(2):
        clock.set(clock.now() + timedelta(seconds=2))
        out = system.pipeline(_book(clock.now())).process(signal(f"hold-a-{n}", "KXCOR-A"))
        assert out.state == "FILLED", out
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections["orders"])


def _weather_order(system: Container, clock: FixedClock, sid: str, ticker: str) -> tuple[str, list[str]]:
    """30 weather contracts at 42c ($12.60, 4.2 % of weather's $300): its state and the invariants it broke."""
    clock.set(clock.now() + timedelta(seconds=2))
    out = system.pipeline(_book(clock.now())).process(replace(signal(sid, ticker, size=30), strategy="weather"))
    checked = [e for e in system.orders.history(out.order_id) if type(e).__name__ == "RiskChecked"]
    return out.state, list(checked[-1].result.get("invariantIds") or ())


def _events(db: str) -> list[str]:
    with psycopg.connect(db) as conn:
        return [r[0].rsplit(".", 1)[-1] for r in conn.execute(
            "SELECT topic FROM paulp_events WHERE topic LIKE %s ORDER BY notification_id",
            ("%MarketCorrelation%",)).fetchall()]


def _project(system: Container) -> None:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections[PROJECTION])


# ------------------------------------------------------------------------------------ HTTP, through NATS


def test_api_when_correlation_declared_then_i3_blocks_the_related_order_and_withdrawn_passes(clocked):
    # Arrange: about $43 held in KXCOR-A; the projector consumes the relayed events from JetStream
    system, clock = clocked
    client = TestClient(create_app(system))
    _hold_in_a(system, clock)
    with workers(system, projections=[PROJECTION]):
        # Act: declare B ~ A (either order names the pair), wait for the view
        r = client.post(URL, headers=AUTH, json={"marketId": "KXCOR-B", "relatedMarketId": "KXCOR-A",
                                                 "type": "correlated_with", "weight": 0.9, "reason": "same release"})
        assert r.status_code == 200, r.text
        assert r.json()["correlation"] == {"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B",
                                           "type": "correlated_with", "weight": 0.9, "effectiveScore": 0.9,
                                           "declaredBy": "api-token-user"}
        wait_tracked(system.database_url, PROJECTION, r.json()["notificationId"])
        blocked = _weather_order(system, clock, "wx-b-1", "KXCOR-B")
        other = _weather_order(system, clock, "wx-c-1", "KXCOR-C")
        listed = client.get(URL + "?market=KXCOR-B", headers=AUTH).json()["correlations"]
        # ... then withdraw it
        r = client.request("DELETE", URL, headers=AUTH,
                           json={"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "reason": "release moved"})
        assert r.status_code == 200, r.text
        wait_tracked(system.database_url, PROJECTION, r.json()["notificationId"])
        passed = _weather_order(system, clock, "wx-b-2", "KXCOR-B")
        after = client.get(URL, headers=AUTH).json()["correlations"]
    # Assert: ($12.60 + $43 x 0.9) / $300 = 17.1 % > 15 %; unrelated C and, once withdrawn, B: 4.2 %
    assert blocked == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    assert other == ("FILLED", []) and passed == ("FILLED", [])
    assert [(c["marketId"], c["relatedMarketId"], c["type"], c["weight"], c["declaredBy"], c["reason"])
            for c in listed] == [("KXCOR-A", "KXCOR-B", "correlated_with", 0.9, "api-token-user", "same release")]
    assert after == []
    pair = system.correlations.get("KXCOR-B", "KXCOR-A")
    assert pair is not None and (pair.actor, pair.withdrawn_by, pair.active) == ("api-token-user", "api-token-user",
                                                                                False)
    assert _events(system.database_url) == ["Registered", "Declared", "Withdrawn"]
    assert system.breaker.get().state.value == "NORMAL"


BAD_POSTS = [  # (body, code, fields): each refused before a command runs
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-A", "type": "correlated_with", "reason": "r"},
     "INVALID_CORRELATION", ["marketId", "relatedMarketId"]),
    ({"marketId": "kxcor-a", "relatedMarketId": "KXCOR-B", "type": "correlated_with", "reason": "r"},
     "INVALID_CORRELATION", ["marketId", "relatedMarketId"]),
    ({"relatedMarketId": "KXCOR-B", "type": "correlated_with", "reason": "r"},
     "INVALID_CORRELATION", ["marketId", "relatedMarketId"]),
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "moves_with", "reason": "r"},
     "INVALID_CORRELATION", ["type"]),
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series", "weight": 0, "reason": "r"},
     "INVALID_CORRELATION", ["weight"]),
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series", "weight": 1.5, "reason": "r"},
     "INVALID_CORRELATION", ["weight"]),
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series", "weight": "0.5", "reason": "r"},
     "INVALID_CORRELATION", ["weight"]),
    ({"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series", "reason": "  "},
     "INVALID_CORRELATION", ["reason"]),
    ([1, 2], "validation_error", ["body"]),
]


def test_api_when_input_bad_or_pair_unknown_then_4xx_with_code_and_nothing_recorded(clocked):
    system, _ = clocked
    client = TestClient(create_app(system))
    for body, code, fields in BAD_POSTS:
        r = client.post(URL, headers=AUTH, json=body)
        assert (r.status_code, r.json()["code"], r.json().get("fields")) == (400, code, fields), (body, r.text)
    assert client.post(URL, headers={**AUTH, "content-type": "application/json"},
                       content=b"{nope").json()["code"] == "invalid_json"
    never = client.request("DELETE", URL, headers=AUTH,
                           json={"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "reason": "never declared"})
    assert (never.status_code, never.json()["code"]) == (404, "NO_ACTIVE_CORRELATION")
    assert client.get(URL + "?market=bad%20ticker", headers=AUTH).json()["code"] == "INVALID_CORRELATION"
    assert client.post(URL, json={"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series",
                                  "reason": "no auth"}).status_code == 401
    assert client.get(URL).status_code == 401
    assert _events(system.database_url) == []


def test_api_when_turnstile_configured_then_mutations_need_a_verified_token(fresh_db, nats_url, namespace):
    body = {"marketId": "KXCOR-A", "relatedMarketId": "KXCOR-B", "type": "same_series", "reason": "drill"}
    with fake_turnstile({"success": True}) as ts:
        system = make_container(fresh_db, nats_url, namespace, ADMIN_TURNSTILE_SECRET="turnstile-secret-0123456789",
                                ADMIN_TURNSTILE_VERIFY_URL=ts.url)
        try:
            client = TestClient(create_app(system))
            refused = client.post(URL, headers=AUTH, json=body)
            assert _events(fresh_db) == []
            read = client.get(URL, headers=AUTH)
            accepted = client.post(URL, headers={**AUTH, "x-turnstile-token": "client-token"}, json=body)
        finally:
            system.close()
    assert (refused.status_code, refused.json()["code"]) == (401, "turnstile_required")
    assert read.status_code == 200 and accepted.status_code == 200, accepted.text
    assert _events(fresh_db) == ["Registered", "Declared"]


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture
def cli_env(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("COLUMNS", "200"), ("ENVIRONMENT", "test")):
        monkeypatch.setenv(name, value)  # the CLI, run in-process, resolves the same services
    yield fresh_db


def risk(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["risk", "correlations", *args])


WHO = ["--actor", "ops-dana", "--reason", "same FOMC meeting"]


def test_cli_when_correlation_set_then_i3_counts_it_capped_by_type_and_remove_releases_it(clocked, cli_env):
    # Arrange
    system, clock = clocked
    _hold_in_a(system, clock)
    # Act / Assert: same_series at 0.95 counts 0.8: ($12.60 + $43 x 0.8) / $300 = 15.7 % > 15 %
    out = risk("set", "KXCOR-A", "KXCOR-B", "--type", "same_series", "--weight", "0.95", *WHO)
    assert out.exit_code == 0 and "weight 0.95, counted at 0.8" in out.output, out.output
    _project(system)
    assert _weather_order(system, clock, "wx-b-1", "KXCOR-B") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    # re-declared as a shared topic: the cap of 0.5 leaves ($12.60 + $21.50) / $300 = 11.4 %
    out = risk("set", "KXCOR-B", "KXCOR-A", "--type", "tagged_with_topic", *WHO)
    assert out.exit_code == 0 and "counted at 0.5" in out.output, out.output
    _project(system)
    listed = json.loads(risk("list", "--market", "KXCOR-A", "--json").output)
    assert [(r["marketId"], r["relatedMarketId"], r["type"], r["weight"], r["effectiveScore"], r["declaredBy"],
             r["version"]) for r in listed] == [("KXCOR-A", "KXCOR-B", "tagged_with_topic", 1.0, 0.5, "ops-dana", 3)]
    assert _weather_order(system, clock, "wx-b-2", "KXCOR-B") == ("FILLED", [])
    # back to correlated_with, then removed: the next order is judged on its own market again
    assert risk("set", "KXCOR-A", "KXCOR-B", "--type", "correlated_with", *WHO).exit_code == 0
    _project(system)
    assert _weather_order(system, clock, "wx-b-3", "KXCOR-B") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    out = risk("remove", "KXCOR-B", "KXCOR-A", "--actor", "ops-erin", "--reason", "meeting moved")
    assert out.exit_code == 0 and "withdrawn" in out.output, out.output
    _project(system)
    assert _weather_order(system, clock, "wx-b-4", "KXCOR-B") == ("FILLED", [])
    assert json.loads(risk("list", "--json").output) == []
    assert _events(cli_env) == ["Registered", "Declared", "Declared", "Declared", "Withdrawn"]


BAD_SET = [  # one database for all cases: each is refused before anything is stored
    (["KXCOR-A", "KXCOR-A", "--type", "same_series", *WHO], "itself"),
    (["kxcor-a", "KXCOR-B", "--type", "same_series", *WHO], "market must be"),
    (["KXCOR-A", "", "--type", "same_series", *WHO], "related market must be"),
    (["KXCOR-A", "KXCOR-B", "--type", "correlated-with", *WHO], "type must be one of"),
    (["KXCOR-A", "KXCOR-B", "--type", "same_series", "--weight", "0", *WHO], "weight must be"),
    (["KXCOR-A", "KXCOR-B", "--type", "same_series", "--weight", "1.01", *WHO], "weight must be"),
    (["KXCOR-A", "KXCOR-B", "--type", "same_series", "--weight", "nan", *WHO], "weight must be"),
    (["KXCOR-A", "KXCOR-B", "--type", "same_series", "--actor", " ", "--reason", "why"], "actor required"),
    (["KXCOR-A", "KXCOR-B", "--type", "same_series", "--actor", "ops", "--reason", ""], "reason required"),
]


def test_cli_when_input_bad_then_exit_2_with_reason_and_nothing_recorded(cli_env):
    for args, message in BAD_SET:
        out = risk("set", *args)
        assert (out.exit_code, message in " ".join(out.output.split())) == (2, True), (args, out.output)
    never = risk("remove", "KXCOR-A", "KXCOR-B", "--actor", "ops", "--reason", "never declared")
    assert never.exit_code == 2 and "was ever declared" in never.output, never.output
    assert risk("remove", "KXCOR-A", "KXCOR-A", "--actor", "ops", "--reason", "r").exit_code == 2
    assert risk("set", "KXCOR-A", "KXCOR-B", "--actor", "ops", "--reason", "r").exit_code == 2  # --type required
    assert _events(cli_env) == []


def test_rebuild_when_replayed_then_view_equals_the_log_and_hand_rows_are_dropped(clocked, cli_env):
    # Arrange: two pairs declared, one withdrawn, and a row inserted by hand (ADR 0300's only writer) that
    # names one declared pair the other way round, plus one that is not in the log at all
    system, _ = clocked
    with psycopg.connect(cli_env, autocommit=True) as conn:
        conn.execute("INSERT INTO views.event_graph_edges (market_id, related_market_id, correlation_score,"
                     " correlation_type) VALUES ('KXCOR-C', 'KXCOR-A', 1.0, 'correlated_with'),"
                     " ('KXHAND-X', 'KXHAND-Y', 0.7, 'correlated_with')")
    assert risk("set", "KXCOR-A", "KXCOR-B", "--type", "same_series", *WHO).exit_code == 0
    assert risk("set", "KXCOR-C", "KXCOR-A", "--type", "occurs_in_window", "--weight", "0.5", *WHO).exit_code == 0
    assert risk("remove", "KXCOR-A", "KXCOR-B", "--actor", "ops-erin", "--reason", "split").exit_code == 0
    _project(system)
    live = json.loads(risk("list", "--json").output)
    # Act
    dry = CliRunner().invoke(cli_app, ["rebuild", "--projection", PROJECTION])
    rebuilt = CliRunner().invoke(cli_app, ["rebuild", "--projection", PROJECTION, "--yes"])
    # Assert: the declared pair replaced its reversed hand row; the other hand row shows as by hand until the
    # rebuild drops it, after which the view is what the log builds
    assert [(r["marketId"], r["relatedMarketId"], r["declaredBy"]) for r in live] == [
        ("KXCOR-A", "KXCOR-C", "ops-dana"), ("KXHAND-X", "KXHAND-Y", None)]
    assert dry.exit_code == 0 and rebuilt.exit_code == 0, (dry.output, rebuilt.output)
    assert [(r["marketId"], r["relatedMarketId"], r["type"], r["weight"]) for r in
            json.loads(risk("list", "--json").output)] == [("KXCOR-A", "KXCOR-C", "occurs_in_window", 0.5)]
    assert_live_equals_replay(system, PROJECTION)
    assert system.correlations.get("KXCOR-A", "KXCOR-C").id == MarketCorrelation.create_id(  # type: ignore[union-attr]
        "KXCOR-C", "KXCOR-A")


# ------------------------------------------------------------------ §3.4 step 3: correlation rules (ADR 0431)

RULE_BOOK = {**BOOK, "KXRUL-A": "a"}  # another series, in A's category


def _order_in(system: Container, clock: FixedClock, sid: str, ticker: str) -> tuple[str, list[str]]:
    """As ``_weather_order``, against a book where KXRUL-A shares KXCOR-A's category but not its series."""
    clock.set(clock.now() + timedelta(seconds=2))
    book = StaticMarketData({t: replace(facts(t), category=c, last_price_update=clock.now() - timedelta(seconds=5),
                                        settlement_date=clock.now() + timedelta(days=30))
                             for t, c in RULE_BOOK.items()})
    out = system.pipeline(book).process(replace(signal(sid, ticker, size=30), strategy="weather"))
    checked = [e for e in system.orders.history(out.order_id) if type(e).__name__ == "RiskChecked"]
    return out.state, list(checked[-1].result.get("invariantIds") or ())


def test_cli_when_rules_declared_then_i3_counts_held_markets_of_the_series_or_category_until_withdrawn(
        clocked, cli_env):
    # Arrange: about $43 held in KXCOR-A (series KXCOR, category "a")
    system, clock = clocked
    _hold_in_a(system, clock)
    # Act / Assert: a series rule at 0.9 relates KXCOR-B and KXCOR-C to A: ($12.60 + $43 x 0.9) / $300 = 17.1 %
    out = risk("rule-set", "--series", "KXCOR", "--weight", "0.9", *WHO)
    assert out.exit_code == 0 and "series 'KXCOR' declared at weight 0.9" in out.output, out.output
    _project(system)
    assert _order_in(system, clock, "r-b-1", "KXCOR-B") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    assert _order_in(system, clock, "r-c-1", "KXCOR-C") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    assert _order_in(system, clock, "r-r-1", "KXRUL-A") == ("FILLED", [])  # other series, no category rule yet
    # a category rule relates KXRUL-A (judged in category "a") to KXCOR-A: declared at 0.4, then replaced at 1
    # (one rule per selector): ($12.60 + $12.60 held in KXRUL-A + $43) / $300 = 22.7 %
    assert risk("rule-set", "--category", "a", "--weight", "0.4", *WHO).exit_code == 0
    assert risk("rule-set", "--category", "a", "--weight", "1", *WHO).exit_code == 0
    _project(system)
    assert _order_in(system, clock, "r-r-2", "KXRUL-A") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    rules = json.loads(risk("rules", "--json").output)
    assert [(r["field"], r["value"], r["type"], r["weight"], r["declaredBy"], r["version"]) for r in rules] == [
        ("category", "a", "same_category", 1.0, "ops-dana", 3), ("series", "KXCOR", "same_series", 0.9, "ops-dana", 2)]
    # withdrawn: each market is judged on its own again
    for selector in (["--series", "KXCOR"], ["--category", "a"]):
        out = risk("rule-remove", *selector, "--actor", "ops-erin", "--reason", "no longer holds")
        assert out.exit_code == 0 and "withdrawn" in out.output, out.output
    _project(system)
    assert _order_in(system, clock, "r-b-2", "KXCOR-B") == ("FILLED", [])
    assert json.loads(risk("rules", "--json").output) == []
    assert _events(cli_env).count("Withdrawn") == 2
    assert_live_equals_replay(system, PROJECTION)


def test_cli_when_rule_input_bad_then_exit_2_and_nothing_recorded(cli_env):
    for args in (["rule-set", *WHO], ["rule-set", "--series", "KXCOR", "--category", "a", *WHO],
                 ["rule-set", "--series", "kxcor", *WHO], ["rule-set", "--category", " ", *WHO],
                 ["rule-set", "--series", "KXCOR", "--weight", "0", *WHO],
                 ["rule-set", "--series", "KXCOR", "--actor", "ops", "--reason", " "],
                 ["rule-remove", "--series", "KXCOR", *WHO]):
        out = risk(*args)
        assert out.exit_code == 2, (args, out.output)
    assert _events(cli_env) == []


RULES_URL = "/admin/risk/correlation-rules"


def test_api_rules_when_declared_then_listed_and_counted_and_withdrawn_then_404_on_repeat(clocked):
    system, clock = clocked
    client = TestClient(create_app(system))
    _hold_in_a(system, clock)
    for body in ({"series": "KXCOR", "category": "a", "reason": "r"}, {"reason": "r"},
                 {"series": "kxcor", "reason": "r"}, {"series": "KXCOR", "weight": 2, "reason": "r"},
                 {"series": "KXCOR", "reason": " "}):
        r = client.post(RULES_URL, headers=AUTH, json=body)
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_CORRELATION"), (body, r.text)
    assert _events(system.database_url) == []

    r = client.post(RULES_URL, headers=AUTH, json={"series": "KXCOR", "weight": 0.9, "reason": "one release"})
    assert r.status_code == 200, r.text
    assert r.json()["rule"] == {"field": "series", "value": "KXCOR", "type": "same_series", "weight": 0.9,
                                "declaredBy": "api-token-user"}
    _project(system)
    (listed,) = client.get(RULES_URL, headers=AUTH).json()["rules"]
    assert (listed["field"], listed["value"], listed["weight"], listed["declaredBy"]) == (
        "series", "KXCOR", 0.9, "api-token-user")
    assert _order_in(system, clock, "api-r-1", "KXCOR-B") == ("RISK_REJECTED", ["I3_MAX_MARKET_EXPOSURE"])
    gone = client.request("DELETE", RULES_URL, headers=AUTH, json={"series": "KXCOR", "reason": "split"})
    again = client.request("DELETE", RULES_URL, headers=AUTH, json={"series": "KXCOR", "reason": "split"})
    assert gone.status_code == 200 and "alreadyWithdrawn" not in gone.json()
    assert (again.status_code, again.json()["alreadyWithdrawn"]) == (200, True)  # a repeat says so (ADR 0517)
    _project(system)
    assert client.get(RULES_URL, headers=AUTH).json()["rules"] == []
    assert _order_in(system, clock, "api-r-2", "KXCOR-B") == ("FILLED", [])
