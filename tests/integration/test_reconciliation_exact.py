"""Reconciliation (trading §7) through the reconcile job, on real PostgreSQL and NATS, against the loopback
Kalshi exchange answering positions in fixed point only (``position_fp``): a fraction of a contract is graded by
§7's bands on the exact sizes (ADR 0362), so the run's status, its report and the breaker follow the spec's
percentages, not ADR 0331's "any fraction is critical" nor binary floating point's 4.999… for 5 %."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.kalshi_system import KEY_ID, System

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def exchange(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    """Kalshi since the fixed-point migration: counts as ``*_fp`` strings only."""
    with FakeKalshiExchange(key.public_key(), KEY_ID, shape="dollars") as fake:
        yield fake


def _reconcile_job(system: System) -> tuple[dict[str, Any], Any]:
    """One run of the reconcile job as the scheduler and the trigger endpoints start it: (result, report event)."""
    system.project("orders", "venue_orders")
    head = system.head()
    result = system.container.jobs.trigger("reconcile", "ops-on-call", "admin")
    started, done = system.events("JobRun", head)
    assert (started.job, type(done).__qualname__) == ("reconcile", "JobRun.Completed")
    [report] = system.events("ReconciliationReport", head)
    assert done.result == result == report.result  # one result: the job's, the report's, the view's
    return result, report


def _alerts(system: System, after: int) -> list[tuple[str, str]]:
    return [(a.code, a.severity) for a in system.events("CircuitBreaker.AlertRaised", after)]


def test_reconcile_job_when_kalshi_holds_a_small_fraction_more_then_minor_drift_and_no_breaker_effect(
        system: System):
    ticker, _ = system.live_fill("exact-minor", size=40)
    system.exchange.set_position(ticker, Decimal("40.50"))
    head = system.head()

    result, report = _reconcile_job(system)

    assert (result["status"], result["matchedCount"], report.drift_count) == ("drift_detected", 0, 1)
    assert result["drifts"] == [{"marketId": ticker, "side": "YES", "internalSize": 40, "venueSize": 40.5,
                                 "drift": 0.5, "driftPct": 1.25, "severity": "minor"}]
    assert (result["maxDriftPct"], result["totalAbsoluteDrift"]) == (1.25, 0.5)
    assert _alerts(system, head) == [] and system.container.breaker.get().state.value == "NORMAL"


def test_reconcile_job_when_a_fraction_makes_exactly_five_percent_then_critical_and_halt(system: System):
    ticker, _ = system.live_fill("exact-crit", size=43)
    system.exchange.set_position(ticker, Decimal("45.15"))  # 5 % exactly; 4.9999999999999964 in floats
    head = system.head()

    result, _ = _reconcile_job(system)

    [drift] = result["drifts"]
    assert (result["status"], drift["driftPct"], drift["severity"]) == ("critical_drift", 5, "critical")
    assert _alerts(system, head) == [("RECONCILIATION_DRIFT", "critical")]
    assert system.container.breaker.get().state.value == "HALT"


def test_reconcile_job_when_a_fraction_makes_exactly_two_percent_then_major_and_caution(system: System):
    ticker, _ = system.live_fill("exact-major", size=40)
    system.exchange.set_position(ticker, Decimal("40.80"))  # 2 % exactly; 1.9999999999999927 in floats
    head = system.head()

    result, _ = _reconcile_job(system)

    assert (result["status"], [d["severity"] for d in result["drifts"]]) == ("major_drift", ["major"])
    assert _alerts(system, head) == [("RECONCILIATION_DRIFT", "warning")]
    assert system.container.breaker.get().state.value == "CAUTION"


def test_reconcile_job_when_kalshi_alone_holds_a_fraction_then_a_critical_orphan_beside_a_match(system: System):
    ticker, _ = system.live_fill("exact-orphan", size=40)
    other = next(t for t in sorted(system.exchange.markets) if t != ticker)
    system.exchange.set_position(other, Decimal("-0.50"))  # half a NO contract no order of ours bought

    result, _ = _reconcile_job(system)

    by_key = {(d["marketId"], d["side"]): d for d in result["drifts"]}
    assert by_key == {
        (ticker, "YES"): {"marketId": ticker, "side": "YES", "internalSize": 40, "venueSize": 40, "drift": 0,
                          "driftPct": 0, "severity": "none"},
        (other, "NO"): {"marketId": other, "side": "NO", "internalSize": 0, "venueSize": 0.5, "drift": 0.5,
                        "driftPct": 100, "severity": "critical"},
    }
    assert (result["status"], result["matchedCount"], result["internalPositionCount"],
            result["venuePositionCount"]) == ("critical_drift", 1, 1, 2)


def test_reconcile_job_when_a_held_market_settled_at_the_venue_then_left_out_not_drift(system: System):
    """Kalshi zeroes a position once its market settles; our fills stay until the order is archived. A determined
    market is settled money on both sides (ADR 0287), so it is named in the report, not graded (ADR 0397)."""
    settled, _ = system.live_fill("settled-1", size=40)
    system.exchange.set_position(settled, 0)
    system.exchange.markets[settled].update(status="settled", result="yes")
    head = system.head()

    result, report = _reconcile_job(system)

    assert (result["status"], result["matchedCount"], report.drift_count) == ("ok", 0, 0)
    assert result["settledMarkets"] == [settled] and result["drifts"] == []
    assert _alerts(system, head) == [] and system.container.breaker.get().state.value == "NORMAL"


def test_reconcile_job_when_a_position_vanished_from_an_open_market_then_still_critical(system: System):
    ticker, _ = system.live_fill("vanished-1", size=40)
    system.exchange.set_position(ticker, 0)  # the market is still active: a missing position is real drift
    head = system.head()

    result, _ = _reconcile_job(system)

    assert result["status"] == "critical_drift" and "settledMarkets" not in result
    assert _alerts(system, head) == [("RECONCILIATION_DRIFT", "critical")]
    assert system.container.breaker.get().state.value == "HALT"
