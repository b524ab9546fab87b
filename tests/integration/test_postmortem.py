"""``paulp postmortem`` on real PostgreSQL + NATS (trading §8; ADR 0404).

A small incident through the order pipeline: three orders the risk governor blocks halt the breaker, an
operator resets it with ``paulp breaker reset``, and an order is filled. The report is read from the log for
the window; a tampered event in the window makes the chain verification fail (exit 1, the report still written).
The CLI runs on the system clock, so the container's clock starts at the real time, as in test_breaker_reset.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.market_data import StaticMarketData
from paulp.api.cli import app
from paulp.domain.clock import FixedClock, iso_utc
from paulp.domain.execution_orders import MarketSnapshot
from paulp.domain.marks import Quotes
from paulp.domain.ports import MarketFacts
from tests.integration.helpers import facts, make_container, signal

pytestmark = pytest.mark.integration
TICKERS = ("KXPM-A", "KXPM-B", "KXPM-C", "KXPM-D")
BLOCKED_SIZE = 5000  # above 5 % of bonding's capital (I1, critical)


def _facts_at(ticker: str, now: datetime) -> MarketFacts:
    base = facts(ticker)
    week = now + timedelta(days=7)
    snapshot: MarketSnapshot = replace(base.snapshot, settlement_time=week, close_time=week)
    return replace(base, snapshot=snapshot, settlement_date=week, last_price_update=now - timedelta(seconds=5))


@pytest.fixture
def incident(fresh_db: str, nats_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch):
    """The incident driven once; yields the database, the window and the container."""
    start = datetime.now(UTC) - timedelta(seconds=1)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test"), ("COLUMNS", "220")):
        monkeypatch.setenv(name, value)
    pipeline = container.pipeline(StaticMarketData({t: _facts_at(t, clock.now()) for t in TICKERS}))
    try:
        for i, ticker in enumerate(TICKERS[:3]):
            assert pipeline.process(signal(f"pm-big-{i}", ticker, size=BLOCKED_SIZE)).state == "RISK_REJECTED"
        assert container.breaker.get().state.value == "HALT"
        reset = CliRunner().invoke(app, ["breaker", "reset", "--reason", "root cause patched", "--actor", "ops-dana",
                                         "--force"])
        assert reset.exit_code == 0, reset.output
        filled = pipeline.process(signal("pm-ok", TICKERS[3], size=50))
        container.markets.observe(TICKERS[3], Quotes(45, 47, 53, 55), clock.now(), None)  # marks it at 46
        order = container.orders.find(filled.order_id)
        assert order is not None and order.filled_size > 0
        filled = (filled, order.side, order.filled_size, order.avg_fill_price)
        yield fresh_db, start, datetime.now(UTC) + timedelta(seconds=1), filled
    finally:
        container.close()


def postmortem(*args: str):
    return CliRunner().invoke(app, ["postmortem", *args])


def test_postmortem_when_incident_window_then_sections_from_the_log(incident, tmp_path: Path):
    # Arrange
    _, start, end, filled = incident
    out = tmp_path / "pm.json"
    # Act
    result = postmortem("--from", iso_utc(start), "--to", iso_utc(end), "--incident-id", "INC-42",
                        "--output", str(out))
    # Assert
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    header, timeline = report["header"], report["timeline"]
    assert header["incidentId"] == "INC-42" and header["events"] > 10
    assert header["firstEventAt"] <= header["lastEventAt"] and header["unclassifiedEvents"] == {}
    ids = [x["notificationId"] for x in timeline]
    assert ids == sorted(ids)
    kinds = [x["kind"] for x in timeline]
    assert kinds.index("risk") < kinds.index("breaker") and "fill" in kinds
    assert kinds.index("fill") > max(i for i, k in enumerate(kinds) if k == "breaker")
    assert [x["summary"] for x in timeline if x["kind"] == "risk"][:3] == [
        x["summary"] for x in timeline if x["kind"] == "risk" and x["summary"].startswith("risk check BLOCKED: I1")]
    # breaker analysis: the HALT line in the spec's format, with the counter behind it; then the operator's reset
    halt, reset = report["breaker"]
    assert halt["line"] == f"NORMAL -> HALT @ {halt['at'][11:16]} (Consecutive risk check failures)"
    assert halt["metrics"]["consecutiveBlockedChecks"] == 3
    assert reset["line"].startswith("HALT -> NORMAL @ ") and reset["line"].endswith("(root cause patched)")
    # response: the operator command with its actor and time
    (command,) = report["response"]
    assert (command["actor"], command["aggregate"]) == ("ops-dana", "CircuitBreaker global") and command["at"]
    # invariants: three blocked I1 evaluations and one that passed; every evaluation counted once per invariant
    inv = report["invariants"]
    assert (inv["evaluations"], inv["legacyEvaluations"]) >= (4, 0)
    i1 = next(i for i in inv["invariants"] if i["id"] == "I1_MAX_POSITION_SIZE")
    assert i1["failed"] == 3 and i1["passed"] == inv["evaluations"] - 3
    assert all(isinstance(v["threshold"], float | int) for v in i1["values"])
    assert sum(i["passed"] + i["failed"] for i in inv["invariants"]) == 18 * inv["evaluations"]
    # detection: the first block is the first anomaly; no alert fired in this incident
    det = report["detection"]
    assert det["firstAnomaly"]["why"] == "risk check blocked" and det["alertFired"] is False
    assert det["firstAnomaly"]["notificationId"] == next(x["notificationId"] for x in timeline if x["kind"] == "risk")
    # impact and audit
    assert report["impact"]["ordersTouched"] == 4 and report["impact"]["positionsTouched"] == 1
    # unrealised PnL at both edges, from the log: nothing held at the start; the fill marked at 46 at the end
    _, side, contracts, avg = filled
    unrealized = report["impact"]["unrealizedPnlUsd"]
    assert unrealized["atStart"] == {"totalUsd": 0.0, "byMode": {}, "positions": 0, "unmarkedAtEntry": []}
    assert side == "YES"
    expected = round((46 - avg) * contracts / 100, 2)  # side-native: the YES book's mid
    assert (unrealized["atEnd"]["positions"], unrealized["atEnd"]["unmarkedAtEntry"]) == (1, [])
    assert unrealized["atEnd"]["totalUsd"] == pytest.approx(expected, abs=0.01) == unrealized["changeUsd"]
    assert unrealized["atEnd"]["byMode"] == {"PAPER": unrealized["atEnd"]["totalUsd"]}
    assert report["impact"]["realizedPnlUsd"]["resolutionPnl"] == {"totalUsd": 0, "positions": []}
    # the paper fill in the window paid the modelled taker fee (ADR 0437); PnL figures stay gross
    fees = report["impact"]["feesUsd"]
    assert (fees["fillsWithFee"], fees["fillsFeeUnknown"]) == (1, 0) and fees["total"] > 0
    audit = report["audit"]
    assert audit["chainIntact"] is True and audit["sequenceGaps"] == []
    assert audit["verification"]["eventsChecked"] >= header["events"]
    assert filled[0].state in ("FILLED", "RECONCILED", "ARCHIVED", "CLOSED")


def test_postmortem_when_markdown_to_stdout_then_sections_and_halt_line(incident):
    _, start, end, _ = incident
    result = postmortem("--from", iso_utc(start), "--to", iso_utc(end), "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "## Circuit breaker analysis" in result.output and "(Consecutive risk check failures)" in result.output
    assert " ops-dana: CircuitBreaker global: HALT -> NORMAL (root cause patched)" in result.output


def test_postmortem_when_event_in_window_tampered_then_not_intact_exit_1_and_report_written(incident, tmp_path):
    db, start, end, _ = incident
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # superuser bypasses the append-only triggers
        nid = conn.execute("SELECT max(notification_id) FROM paulp_events WHERE topic LIKE '%Transitioned'"
                           ).fetchone()[0]
        conn.execute("UPDATE paulp_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'at',"
                     " 'At'), 'UTF8') WHERE notification_id = %s", (nid,))
    out = tmp_path / "pm.json"
    result = postmortem("--from", iso_utc(start), "--to", iso_utc(end), "--output", str(out))
    assert result.exit_code == 1 and "NOT intact" in result.output
    audit = json.loads(out.read_text())["audit"]
    assert audit["chainIntact"] is False and audit["verification"]["firstBadSequence"] is not None
    assert [u["notificationId"] for u in audit["unreadableEvents"]] == [nid]  # left out of the sections, named


@pytest.mark.parametrize("args,message", [
    (["--from", "yesterday", "--to", "2026-01-01T00:00:00Z"], "--from is not an ISO 8601 time"),
    (["--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"], "--from must not be after --to"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--format", "pdf"], "--format must be"),
    (["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--incident-id", " "], "--incident-id"),
])
def test_postmortem_when_bad_input_then_exit_2_and_nothing_written(args, message, tmp_path, monkeypatch):
    monkeypatch.setenv("ENVIRONMENT", "test")
    out = tmp_path / "pm.json"
    result = postmortem(*args, "--output", str(out))
    assert result.exit_code == 2 and message in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []
