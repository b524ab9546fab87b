"""Budget ledgers record a checkpoint every CHECKPOINT_EVERY events and load from it (ADR 0501), over real
PostgreSQL and loopback providers: the resumed ledger is the one the log describes, and calls carry on from it."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.utils import get_topic

from paulp.domain.budget_ledger import BudgetPeriodLedger, ledger_ids
from paulp.domain.checkpoints import CHECKPOINT_EVERY
from tests.integration.helpers import make_container
from tests.integration.routing_support import catch_up, fake_env, provider_fakes, use_routing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
CATEGORY = "ingestion_classification"  # where signal_scanning is charged


def _topics(db: str, ledger_id: object) -> list[str]:
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT topic FROM paulp_events WHERE originator_id = %s ORDER BY originator_version",
                            (ledger_id,)).fetchall()
    return [r[0] for r in rows]


def _view(db: str, ledger_id: object) -> tuple[object, ...]:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT spent_usd, reserved_usd, open_reservations FROM views.llm_budget"
                           " WHERE ledger_id = %s", (ledger_id,)).fetchone()
    assert row is not None
    return tuple(row)


def test_ledger_when_longer_than_the_checkpoint_interval_then_a_new_process_resumes_it_and_carries_on(
        fresh_db, nats_url, namespace) -> None:
    # Arrange: one process makes enough calls for the month's ledger to pass one checkpoint
    calls = CHECKPOINT_EVERY // 2 + 40  # two ledger events per call (reserve, settle)
    first = make_container(fresh_db, nats_url, namespace)
    with provider_fakes() as fakes:
        routing = use_routing(first, fake_env(fakes))
        for _ in range(calls):
            assert routing.govern("signal_scanning", user_prompt="scan: headline").success
        routing.flush()
        _, month = ledger_ids(CATEGORY, first.clock.now())
        topics = _topics(fresh_db, month)
        # Act: a second process (its own routing context) reads the ledger, then makes calls of its own
        second = make_container(fresh_db, nats_url, namespace + "b")
        resumed = use_routing(second, fake_env(fakes))
        daily_before, monthly_before = resumed.ledger_snapshots(CATEGORY)
        more = [resumed.govern("signal_scanning", user_prompt="scan: headline") for _ in range(5)]
        resumed.flush()
    catch_up(first, "llm_budget")
    # Assert: one checkpoint, where the interval put it, and the full log still starts at Opened
    checkpoint = get_topic(BudgetPeriodLedger.Checkpointed)
    assert topics[0] == get_topic(BudgetPeriodLedger.Opened) and topics.count(checkpoint) == 1
    assert CHECKPOINT_EVERY + 1 <= topics.index(checkpoint) + 1 <= CHECKPOINT_EVERY + 8  # within one batch's events
    # the resumed month is the month the log describes (the view folds every event from Opened)
    assert monthly_before.open_reservations == 0 and monthly_before.consumed_usd == daily_before.consumed_usd > 0
    assert all(o.success for o in more)
    _, monthly_after = resumed.ledger_snapshots(CATEGORY)
    assert (monthly_after.consumed_usd, monthly_after.reserved_usd, monthly_after.open_reservations) == \
        _view(fresh_db, month)
    assert monthly_after.consumed_usd > monthly_before.consumed_usd
    second.close()
    first.close()
