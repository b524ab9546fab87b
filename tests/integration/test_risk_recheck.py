"""An unanswered risk question, asked again later (ADRs 0319, 0334, 0335), on real PostgreSQL with the loopback
Kalshi exchange: the execute step's re-check of an approval an earlier run left waits for an answer like the
first check does (never ERROR, never submitted), one retry then CANCELLED; a later answer resolves the
"not answered" note in the log and in the views; neither the timers' retry nor the re-check sends an order twice.
The governor is made to fail (its book read finds no table) or to hang (the table locked), never mocked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from paulp.api.order_timers_job import run_order_timers
from paulp.api.signal_jobs import execute_pending
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System

pytestmark = pytest.mark.integration
S = OrderState
BOOK = "views.position_exits"  # the governor's portfolio snapshot reads it


def _at(system: System, seconds: float) -> None:
    system.container.clock.set(NOW + timedelta(seconds=seconds))  # type: ignore[attr-defined]



def _governor_broken(system: System, broken: bool) -> None:
    """Without its book table the governor raises on every question."""
    old, new = ("position_exits", "position_exits_gone") if broken else ("position_exits_gone", "position_exits")
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE views.{old} RENAME TO {new}")


@contextmanager
def _governor_hangs(system: System) -> Iterator[None]:
    """The governor's book read waits while this holds the table; it answers once released."""
    with psycopg.connect(system.container.database_url) as conn:
        conn.execute(f"LOCK TABLE {BOOK} IN ACCESS EXCLUSIVE MODE")
        yield
        conn.rollback()


def _pending(system: System, sid: str) -> str:
    """A PENDING paper bonding order of 50 at the ask of a market open for days, in the orders view."""
    ticker = system.tradable_ticker()
    m = system.exchange.markets[ticker]
    later = (NOW + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    m.update(close_time=later, expected_expiration_time=later, volume_24h=50_000)
    order = Order.create(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=50,
                         max_price=m["yes_ask"], now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8)
    system.container.orders.save(order)
    system.project("orders")
    return order.order_id


def _approved_by_the_timers(system: System, sid: str) -> str:
    """An order whose first check went unanswered and whose timers' retry approved it (RISK_APPROVED, not sent)."""
    order_id = _pending(system, sid)
    _governor_broken(system, True)
    execute_pending(system.container)
    _governor_broken(system, False)
    _at(system, 31)
    system.project("orders")
    outcomes = {r["orderId"]: r["outcome"] for r in run_order_timers(system.container)["results"]}
    assert outcomes == {order_id: "risk_timeout: retry answered: RISK_APPROVED"}
    system.project("orders")
    return order_id


def _view_row(system: System, order_id: str) -> dict[str, Any]:
    system.project("orders")
    r = system.client.get("/admin/orchestrator/orders", headers=AUTH)
    assert r.status_code == 200, r.text
    [row] = [o for o in r.json()["orders"] if o["orderId"] == order_id]
    return dict(row)


def _names(system: System, order_id: str) -> list[str]:
    return [type(e).__qualname__.rsplit(".", 1)[-1] for e in system.container.orders.history(order_id)]


def _sent(system: System, order_id: str) -> int:
    """How many times the order was sent: SUBMITTING entries in its history (paper and LIVE alike)."""
    return system.order(order_id).times_entered(S.SUBMITTING)


def test_a_later_answer_resolves_the_not_answered_note_in_the_log_and_the_views(system: System):
    order_id = _pending(system, "rr-note")
    _governor_broken(system, True)
    execute_pending(system.container)
    waiting = system.order(order_id)
    assert waiting.state == S.RISK_CHECK and "not answered" in (waiting.last_error or "")
    assert "not answered" in (_view_row(system, order_id)["lastError"] or "")

    _governor_broken(system, False)
    _at(system, 31)
    system.project("orders")
    run_order_timers(system.container)
    approved = system.order(order_id)
    assert approved.state == S.RISK_APPROVED and approved.last_error is None
    names = _names(system, order_id)
    assert names.index("RiskCheckUnanswered") < names.index("ErrorResolved") < names.index("RiskChecked")
    [resolved] = [e for e in system.container.orders.history(order_id) if type(e).__name__ == "ErrorResolved"]
    assert "not answered" in resolved.error and resolved.resolution == "Risk check answered: approved"
    row = _view_row(system, order_id)
    assert (row["currentState"], row["lastError"]) == ("RISK_APPROVED", None)


def test_a_retried_order_shows_no_last_error_in_the_view(system: System):
    """§1.4.10: a retry clears lastError; the orders view now follows the Retried event as the order does."""
    order_id = _pending(system, "rr-retry")
    order = system.order(order_id)
    order.record_error("RuntimeError: boom", NOW)
    system.container.orders.save(order)
    assert _view_row(system, order_id)["lastError"] == "RuntimeError: boom"
    order.retry(NOW)
    system.container.orders.save(order)
    row = _view_row(system, order_id)
    assert (row["currentState"], row["lastError"]) == ("PENDING", None)


def test_execute_recheck_when_the_governor_raises_then_the_approval_waits_never_error_never_sent(system: System):
    """The execute step re-checks an approval an earlier run left; a governor failure there is no answer: the
    order stays RISK_APPROVED (the table has no way back to RISK_CHECK) with the note, nothing is sent, and the
    next execute run asks again and carries it on."""
    order_id = _approved_by_the_timers(system, "rr-recheck")
    _governor_broken(system, True)
    done = execute_pending(system.container)
    order = system.order(order_id)
    assert (order.state, order.times_entered(S.ERROR), _sent(system, order_id)) == (S.RISK_APPROVED, 0, 0)
    assert "Risk re-check not answered" in (order.last_error or "")
    assert [e["orderId"] for e in done["errors"]] == [order_id] and done["executed"] == []
    assert _view_row(system, order_id)["currentState"] == "RISK_APPROVED"

    _governor_broken(system, False)
    _at(system, 600)
    system.project("orders")
    assert execute_pending(system.container)["executed"] == [order_id]
    order = system.order(order_id)
    assert (order.state, order.last_error, _sent(system, order_id)) == (S.FILLED, None, 1)
    assert _names(system, order_id).count("ErrorResolved") == 2  # the first check's note, then the re-check's
    assert _view_row(system, order_id)["lastError"] is None


def test_execute_recheck_when_the_governor_stays_down_then_one_retry_then_cancelled_never_sent(system: System):
    order_id = _approved_by_the_timers(system, "rr-down")
    _governor_broken(system, True)
    execute_pending(system.container)
    assert system.order(order_id).state == S.RISK_APPROVED
    _at(system, 600)
    system.project("orders")
    done = execute_pending(system.container)
    order = system.order(order_id)
    assert (order.state, order.times_entered(S.ERROR), _sent(system, order_id)) == (S.CANCELLED, 0, 0)
    assert order.history[-1].reason == "Risk re-check not answered after one retry"
    assert done["rejected"] == [order_id]
    assert "POST" not in [r.method for r in system.exchange.requests]


def _in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(target()))
    thread.start()
    return thread, out


def _wait_until(check: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_timers_retry_beside_a_hanging_first_check_then_one_answer_stands_and_one_submission(system: System):
    """The execute run's question hangs past 30 s; the timers time it out, retry and get the answer first. The
    hanging run's answer then loses the save race (changed concurrently): recorded once, sent once, by the next
    execute run."""
    order_id = _pending(system, "rr-race-first")
    with _governor_hangs(system):
        job, report = _in_thread(lambda: execute_pending(system.container))
        _wait_until(lambda: system.order(order_id).state == S.RISK_CHECK)
        _at(system, 31)
        system.project("orders")
        timers, timed = _in_thread(lambda: run_order_timers(system.container))
        _wait_until(lambda: system.order(order_id).times_entered(S.RISK_TIMEOUT) == 1)
    job.join(20)
    timers.join(20)
    assert {r["orderId"]: r["outcome"] for r in timed["results"]} == {
        order_id: "risk_timeout: retry answered: RISK_APPROVED"}
    assert [e["orderId"] for e in report["errors"]] == [order_id] and report["executed"] == []
    assert system.order(order_id).state == S.RISK_APPROVED and _sent(system, order_id) == 0
    assert _names(system, order_id).count("RiskChecked") == 1

    _at(system, 600)
    system.project("orders")
    assert execute_pending(system.container)["executed"] == [order_id]
    system.project("orders")
    assert execute_pending(system.container)["processed"] == 0
    assert (system.order(order_id).state, _sent(system, order_id)) == (S.FILLED, 1)


def test_two_execute_runs_rechecking_one_approval_then_it_is_sent_once(system: System):
    """Two execute runs (two scheduler replicas) hold the same earlier approval and both re-check it while the
    governor hangs; released, both are answered, and only the first to record SUBMITTING sends it."""
    order_id = _approved_by_the_timers(system, "rr-race-recheck")
    _at(system, 600)
    with _governor_hangs(system):
        first, one = _in_thread(lambda: execute_pending(system.container))
        second, two = _in_thread(lambda: execute_pending(system.container))
        _wait_until(lambda: _blocked_on(system, BOOK) >= 2)
    first.join(20)
    second.join(20)
    assert sorted([*one["executed"], *two["executed"]]) == [order_id]
    assert (system.order(order_id).state, _sent(system, order_id)) == (S.FILLED, 1)
    assert _names(system, order_id).count("FillRecorded") == 1


def _blocked_on(system: System, table: str) -> int:
    """Sessions waiting for a lock on ``table`` (the runs' governor reads)."""
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                           (table,)).fetchone()
    return int(row[0]) if row else 0
