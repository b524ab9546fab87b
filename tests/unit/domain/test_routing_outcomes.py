"""The outcome writer over a real LedgerBatcher: retries what failed for a transient reason, never what was
stored or refused by the domain, and flush() is an honest barrier. The batcher's save port is the only
stand-in here (it is the database port; the integration tests run the same path on PostgreSQL)."""

from __future__ import annotations

import threading
import time
from copy import deepcopy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from paulp.domain.budget_ledger import BudgetPeriodLedger, open_ledger
from paulp.domain.budgets import PeriodType
from paulp.domain.errors import DomainError
from paulp.domain.services import routing_outcomes
from paulp.domain.services.routing_commit import LedgerBatcher, Prebuilt
from paulp.domain.services.routing_outcomes import OutcomeWriteFailed, OutcomeWriter

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CATEGORY = "research_scoring"


class Store:
    """An in-memory log of ledgers: records each save's events, and loads what was saved (as the batcher's
    load port does from PostgreSQL). Fails the first ``fail`` saves like a dropped connection would."""

    def __init__(self, fail: int = 0) -> None:
        self.fail, self.saves, self.lock = fail, [], threading.Lock()  # type: ignore[var-annotated]
        self.stored: dict[Any, BudgetPeriodLedger] = {}

    def save(self, *aggregates: Any) -> int:
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise ConnectionError("server closed the connection unexpectedly")
            events = [e for a in aggregates for e in a.collect_events()]
            self.saves.append(events)
            for a in aggregates:
                self.stored[a.id] = deepcopy(a)
            return len(self.saves)

    def load(self, category: str, ledger_id: Any, at: datetime, daily: bool) -> BudgetPeriodLedger:
        with self.lock:
            if ledger_id in self.stored:
                return deepcopy(self.stored[ledger_id])
        return open_ledger(category, PeriodType.DAILY if daily else PeriodType.MONTHLY, at)


def _reserve(rid: str, amount: str = "0.01") -> Any:
    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Any]]:
        for ledger in (daily, monthly):
            ledger.reserve(rid, Decimal(amount), Decimal("100"), AT)
        return None, []

    return job


def _settle(rid: str, actual: str = "0.005") -> Any:
    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Any]]:
        for ledger in (daily, monthly):
            ledger.settle(rid, Decimal(actual), AT)
        return None, []

    return job


def _refused(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Any]]:
    raise DomainError("hold unknown")


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_outcomes, "RETRY_BACKOFF_S", (0.01, 0.01, 0.01))


def _writer(port: Store, linger_s: float = 0.001) -> tuple[LedgerBatcher, OutcomeWriter]:
    batcher = LedgerBatcher(CATEGORY, port.load, port.save)
    return batcher, OutcomeWriter({CATEGORY: batcher}, linger_s=linger_s)


def _topics(port: Store) -> list[str]:
    return [type(e).__qualname__ for save in port.saves for e in save]


def test_flush_when_outcome_queued_then_stored_once_by_the_writer() -> None:
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)
    writer.submit(CATEGORY, _settle("r1"), AT)
    writer.flush(timeout=5)
    assert _topics(port).count("BudgetPeriodLedger.Settled") == 2  # daily and monthly, once each
    writer.close()


def test_outcome_when_next_reservation_comes_first_then_carried_in_its_save() -> None:
    port = Store()
    batcher, writer = _writer(port, linger_s=5.0)  # the writer would wait; the next caller does not
    batcher.run(_reserve("r1"), AT)
    writer.submit(CATEGORY, _settle("r1"), AT)
    batcher.run(_reserve("r2"), AT)
    assert len(port.saves) == 2
    assert [type(e).__qualname__ for e in port.saves[1]].count("BudgetPeriodLedger.Settled") == 2
    writer.flush(timeout=1)  # already stored: returns without waiting for the linger
    assert len(port.saves) == 2


def test_flush_when_save_fails_transiently_then_retried_until_stored() -> None:
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)
    port.fail = 2
    writer.submit(CATEGORY, _settle("r1"), AT)
    writer.flush(timeout=5)
    assert _topics(port).count("BudgetPeriodLedger.Settled") == 2
    writer.close()


def test_flush_when_called_during_a_retry_backoff_then_waits_for_the_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retried outcome is off the queue while the writer sleeps its backoff; a flush then must not take
    the empty queue for "all stored" (it did: a flush under load returned before the retry, or without
    reporting a failure)."""
    monkeypatch.setattr(routing_outcomes, "RETRY_BACKOFF_S", (0.5,))
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)
    port.fail = 1
    writer.submit(CATEGORY, _settle("r1"), AT)
    deadline = time.monotonic() + 5
    while port.fail and time.monotonic() < deadline:  # the first save has failed: the backoff begins
        time.sleep(0.001)
    time.sleep(0.05)  # well inside the 0.5 s backoff
    writer.flush(timeout=5)
    assert _topics(port).count("BudgetPeriodLedger.Settled") == 2
    writer.close()


def test_flush_when_save_keeps_failing_then_raises_and_hold_stays_counted() -> None:
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)
    port.fail = 100
    writer.submit(CATEGORY, _settle("r1"), AT)
    with pytest.raises(OutcomeWriteFailed):
        writer.flush(timeout=5)
    port.fail = 0
    assert "BudgetPeriodLedger.Settled" not in _topics(port)
    assert all("r1" in ledger.holds for ledger in port.stored.values())  # as stored: still counted
    writer.close()


def test_flush_when_domain_refuses_outcome_then_not_retried_and_reported() -> None:
    port = Store()
    _, writer = _writer(port)
    writer.submit(CATEGORY, _refused, AT)
    writer.submit(CATEGORY, _reserve("r9"), AT)  # stored in the same batch despite its neighbour
    with pytest.raises(OutcomeWriteFailed):
        writer.flush(timeout=5)
    assert _topics(port).count("BudgetPeriodLedger.Reserved") == 2
    writer.flush(timeout=1)  # a failure is reported once
    writer.close()


def test_submit_when_closed_then_refused() -> None:
    _, writer = _writer(Store())
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit(CATEGORY, _settle("r1"), AT)


def test_outcome_when_submitted_with_prepare_then_built_by_the_writer_outside_the_lock() -> None:
    """ADR 0435: the caller returns without building the outcome; the writer builds it outside the lock."""
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)
    built: list[tuple[str, bool]] = []

    def build() -> list[Any]:
        built.append((threading.current_thread().name, batcher.lock.locked()))
        return []

    prebuilt = Prebuilt(build)
    settle = _settle("r1")

    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Any]]:
        return settle(daily, monthly)[0], prebuilt.take()

    writer.submit(CATEGORY, job, AT, prebuilt.prepare)
    writer.flush(timeout=5)
    assert built == [("paulp-routing-outcomes", False)]  # once, on the writer, outside the category's lock
    assert _topics(port).count("BudgetPeriodLedger.Settled") == 2
    writer.close()


def test_prebuilt_when_taken_then_later_takes_build_afresh_and_prepare_does_nothing() -> None:
    builds: list[int] = []

    def build() -> int:
        builds.append(len(builds))
        return len(builds)

    prebuilt = Prebuilt(build)
    prebuilt.prepare()
    prebuilt.prepare()
    assert prebuilt.take() == 1 and builds == [0]  # the prepared value, built once
    prebuilt.prepare()  # after the take: a re-run builds its own copy, nothing is kept for it
    assert builds == [0]
    assert prebuilt.take() == 2 and builds == [0, 1]
    assert Prebuilt(lambda: "fresh").take() == "fresh"  # never prepared: built by the taker


def test_outcome_when_building_it_fails_then_writer_survives_and_flush_reports_it() -> None:
    port = Store()
    batcher, writer = _writer(port)
    batcher.run(_reserve("r1"), AT)

    def broken() -> list[Any]:
        raise DomainError("attempt out of order")

    prebuilt = Prebuilt(broken)

    def job(daily: BudgetPeriodLedger, monthly: BudgetPeriodLedger) -> tuple[Any, list[Any]]:
        return None, prebuilt.take()

    writer.submit(CATEGORY, job, AT, prebuilt.prepare)
    with pytest.raises(OutcomeWriteFailed):
        writer.flush(timeout=5)
    writer.submit(CATEGORY, _settle("r1"), AT)  # the writer thread is still there to store the next one
    writer.flush(timeout=5)
    assert _topics(port).count("BudgetPeriodLedger.Settled") == 2
    writer.close()
