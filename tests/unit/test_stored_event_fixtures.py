"""Events stored by earlier versions must still decode: change an event only with class_version + upcast.

``stored_events_v1.json`` holds stored rows (topic + state JSON) exactly as the recorder wrote them at v1, for
events that are still at v1. ``stored_events_old_versions.json`` holds rows of events that have since gained a
version, written by the code before the bump (``old_version_events.py`` beside it runs that code): every older
version of every versioned event must have one, so a version bump cannot ship without a stored fixture
(ADR 0322). The integration test ``test_old_event_versions`` loads them into PostgreSQL through the recorder.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from paulp.domain.position_exits import PositionExit
from paulp.domain.routing import KIMI, OPUS, ErrorCode
from paulp.domain.routing_decision import RoutingDecision
from paulp.domain.throttle import ExecutionThrottle

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "stored_events_v1.json"
OLD_VERSIONS = FIXTURES / "stored_events_old_versions.json"


def old_version_rows() -> list[dict[str, Any]]:
    return list(json.loads(OLD_VERSIONS.read_text())["events"])


def stored_version(row: dict[str, Any]) -> int:
    """The version a row was stored at, as the library reads it: ``class_version`` in the state, absent = 1."""
    return int(json.loads(row["state"]).get("class_version", 1))


def decode(row: dict[str, Any]) -> Any:
    stored = StoredEvent(UUID(row["originator_id"]), row["originator_version"], row["topic"], row["state"].encode())
    return make_mapper().to_domain_event(stored)


def event_classes() -> set[type[CanMutateAggregate[Any]]]:
    """Every event class nested in an aggregate of paulp.domain."""
    import paulp.domain as pkg

    events: set[type[CanMutateAggregate[Any]]] = set()
    for mod in pkgutil.walk_packages(pkg.__path__, "paulp.domain."):
        for _, agg in inspect.getmembers(importlib.import_module(mod.name), inspect.isclass):
            if issubclass(agg, Aggregate) and agg.__module__.startswith("paulp."):
                events.update(ev for ev in vars(agg).values()
                              if inspect.isclass(ev) and issubclass(ev, CanMutateAggregate))
    return events


def test_v1_stored_events_when_decoded_then_same_topics_and_fields():
    mapper = make_mapper()
    rows = json.loads(FIXTURE.read_text())
    assert rows
    for row in rows:
        stored = StoredEvent(UUID(row["originator_id"]), row["originator_version"], row["topic"],
                             row["state"].encode())
        event = mapper.to_domain_event(stored)
        again = mapper.to_stored_event(event)
        assert again.topic == row["topic"]
        assert json.loads(again.state) == json.loads(row["state"]), row["topic"]


def test_versioned_events_when_collected_then_every_older_version_has_a_stored_fixture():
    versioned = {get_topic(ev): ev.class_version for ev in event_classes() if getattr(ev, "class_version", 1) > 1}
    assert {get_topic(PositionExit.Filled), get_topic(ExecutionThrottle.Opened),
            get_topic(OrderRecord.RiskChecked), get_topic(RoutingDecision.AttemptRecorded)} <= set(versioned)
    stored = {(row["topic"], stored_version(row)) for row in old_version_rows()}
    missing = [f"{topic} v{v}" for topic, current in sorted(versioned.items()) for v in range(1, current)
               if (topic, v) not in stored]
    assert missing == [], f"add rows stored by the old code to {OLD_VERSIONS.name} (see old_version_events.py)"


def test_old_version_events_when_decoded_then_current_class_with_upcast_fields():
    events = {row["topic"]: (stored_version(row), decode(row)) for row in old_version_rows()
              if stored_version(row) == 1}
    version, filled = events[get_topic(PositionExit.Filled)]
    assert version == 1 and type(filled) is PositionExit.Filled
    assert (filled.size, filled.exit_price, filled.realized_pnl_usd, filled.entry_price) == (50, 39.0, -2.0, None)
    version, opened = events[get_topic(ExecutionThrottle.Opened)]
    assert version == 1 and type(opened) is ExecutionThrottle.Opened
    assert opened.scope == "bonding" and not hasattr(opened, "strategy")


def test_v1_risk_checked_when_decoded_then_current_class_with_no_evaluation():
    # Arrange: the I1 refusal as the pipeline stored it before ADR 0377, and the subclass copy of the event
    rows = [r for r in old_version_rows() if r["topic"].endswith(".RiskChecked") and stored_version(r) == 1]
    assert {r["topic"] for r in rows} == {get_topic(OrderRecord.RiskChecked), get_topic(Order.RiskChecked)}
    # Act
    decoded = {r["topic"]: (stored_version(r), decode(r)) for r in rows}
    # Assert: the decision stands as recorded; the evaluation it never kept is None
    version, refusal = decoded[get_topic(OrderRecord.RiskChecked)]
    assert version == 1 and type(refusal) is OrderRecord.RiskChecked and refusal.evaluation is None
    assert refusal.result["invariantIds"] == ["I1_MAX_POSITION_SIZE"] and refusal.requested_size == 5000
    version, copy = decoded[get_topic(Order.RiskChecked)]
    assert version == 1 and type(copy) is Order.RiskChecked and copy.evaluation is None


def test_old_version_events_when_decoded_and_stored_again_then_written_at_the_current_version():
    mapper = make_mapper()
    for row in old_version_rows():
        event = decode(row)
        again = json.loads(mapper.to_stored_event(event).state)
        assert again.get("class_version", 1) == getattr(type(event), "class_version", 1), row["topic"]


def test_v1_routing_attempts_when_decoded_then_no_evidence_hash_and_the_decision_replays():
    # Arrange: a decision stored before attempts carried the answer's evidence hash (ADR 0391)
    rows = [r for r in old_version_rows() if r["topic"].startswith("paulp.domain.routing_decision:")]
    attempts = [r for r in rows if r["topic"].endswith(".AttemptRecorded")]
    assert len(attempts) == 2 and {stored_version(r) for r in attempts} == {1}
    # Act
    events = [decode(r) for r in sorted(rows, key=lambda r: r["originator_version"])]
    decision = None
    for e in events:
        decision = e.mutate(decision)
    # Assert: the attempts as recorded, with no evidence behind them; stored again they are v2
    assert isinstance(decision, RoutingDecision) and decision.status.value == "succeeded"
    assert [(a.model_id, a.success, a.error_code, a.evidence_hash) for a in decision.attempts] == [
        (OPUS, False, ErrorCode.PROVIDER_RATE_LIMITED, None), (KIMI, True, None, None)]
    again = json.loads(make_mapper().to_stored_event(events[1]).state)
    assert again["class_version"] == 2 and again["evidence_hash"] is None


def test_v1_exit_decided_and_redecided_when_decoded_then_no_operator_and_the_exit_replays():
    # Arrange: a LIVE take-profit refused by Kalshi and decided again, stored before exits named who asked
    rows = [r for r in old_version_rows() if r["originator_id"] == _redecide_id()]
    assert [(r["topic"].rsplit(".", 1)[-1], stored_version(r)) for r in rows] == [
        ("Decided", 1), ("Failed", 1), ("Redecided", 1)]
    # Act
    exit_ = None
    for row in sorted(rows, key=lambda r: r["originator_version"]):
        exit_ = decode(row).mutate(exit_)
    # Assert: the rule decided it; nobody is named
    assert isinstance(exit_, PositionExit)
    assert (exit_.reason.value, exit_.requested_by, exit_.note, exit_.attempt, exit_.observed_price) == (
        "TAKE_PROFIT_HIT", None, None, 2, 47.0)


def _redecide_id() -> str:
    return next(r["originator_id"] for r in old_version_rows() if "KXV1-REDECIDE" in r["state"])


def test_fills_stored_before_fees_when_decoded_then_fee_unknown_and_the_order_replays():
    # Arrange: a PAPER order filled 10 at 42 and a LIVE exit fill, as the code before ADR 0437 stored them
    rows = [r for r in old_version_rows() if json.loads(r["state"]).get("ticker") == "KXV1-FILL"]
    order_id = rows[0]["originator_id"]
    stream = sorted((r for r in old_version_rows() if r["originator_id"] == order_id),
                    key=lambda r: r["originator_version"])
    [fill_row] = [r for r in stream if r["topic"] == get_topic(OrderRecord.FillRecorded)]
    [copy_row] = [r for r in old_version_rows() if r["topic"] == get_topic(Order.FillRecorded)]
    [exit_row] = [r for r in old_version_rows() if r["topic"] == get_topic(PositionExit.Filled)
                  and stored_version(r) == 2]
    # Act
    order = None
    for row in stream:
        order = decode(row).mutate(order)
    copy, sold = decode(copy_row), decode(exit_row)
    # Assert: the gross figures as recorded; the fee None (unknown), never 0; stored again at the new versions
    assert stored_version(fill_row) == 1 and decode(fill_row).fee_cents is None
    assert isinstance(order, Order) and (order.filled_size, order.avg_fill_price, str(order.state)) == (
        10, 42.0, "FILLED")
    assert (order.fees_cents, order.fee_unknown_fills) == (0, 1)
    assert stored_version(copy_row) == 1 and type(copy) is Order.FillRecorded and copy.fee_cents is None
    assert type(sold) is PositionExit.Filled and sold.fee_cents is None
    assert (sold.size, sold.exit_price, sold.realized_pnl_usd, sold.entry_price) == (10, 47.0, 0.5, 42.0)
    again = json.loads(make_mapper().to_stored_event(sold).state)
    assert again["class_version"] == 3 and again["fee_cents"] is None


def test_v1_adjusted_when_decoded_then_no_venue_cost_and_the_rebuild_replays():
    # Arrange: a DR rebuild stored before adjustments carried Kalshi's cost (ADR 0450)
    from paulp.domain.position_rebuild import PositionAdjustment, PositionRebuild

    rows = [r for r in old_version_rows() if r["topic"].startswith(get_topic(PositionRebuild))]
    assert [stored_version(r) for r in rows if r["topic"] == get_topic(PositionRebuild.Adjusted)] == [1, 1]
    # Act
    rebuild = None
    for row in rows:
        rebuild = decode(row).mutate(rebuild)
    # Assert: the adopted contracts stand, with no cost: the exit monitor leaves them unjudged
    assert isinstance(rebuild, PositionRebuild)
    assert [a.to_dict()["venueCostCents"] for a in rebuild.adjustments] == [None, None]
    assert rebuild.adjustments[0] == PositionAdjustment("KXV1-ADOPT", "YES", Decimal(40), Decimal(46), Decimal(6))


def test_v1_scoring_run_when_decoded_then_no_input_text_and_its_old_hash_kept():
    # Arrange: a scoring run stored before it kept its §8.2 input text (ADR 0469)
    from paulp.domain.llm_records import ScoringRun

    rows = [r for r in old_version_rows() if r["topic"] == get_topic(ScoringRun.Recorded)]
    assert [stored_version(r) for r in rows] == [1]
    # Act
    run = decode(rows[0]).mutate(None)
    # Assert: no text, the hash it was stored with (history is not recomputed), re-stored at v2
    assert isinstance(run, ScoringRun)
    assert (run.input_text, run.input_hash) == (None, "ef" * 32)
    assert run.output["score"] == 0.2 and not run.flagged_for_human_review
    again = json.loads(make_mapper().to_stored_event(decode(rows[0])).state)
    assert again["class_version"] == 2 and again["input_text"] is None and again["input_hash"] == "ef" * 32


def test_v1_budget_checkpoint_when_loaded_then_no_last_reset_and_the_same_reset_recorded_again():
    # Arrange: a ledger reset and then checkpointed before the checkpoint carried the last reset (ADR 0517)
    from paulp.domain.budget_ledger import BudgetPeriodLedger, resume_ledger

    rows = [r for r in old_version_rows() if r["topic"].startswith(get_topic(BudgetPeriodLedger))]
    assert [stored_version(r) for r in rows if r["topic"] == get_topic(BudgetPeriodLedger.Checkpointed)] == [1]
    events = [decode(r) for r in rows]
    # Act: a load from the checkpoint, and a replay from the start (the checkpoint restates the ledger there too)
    resumed = resume_ledger(events[-1:])
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    # Assert: the usage stands; the reset before the v1 checkpoint is not known, so the same reset is recorded again
    # (as before ADR 0517), and known once recorded
    assert isinstance(replayed, BudgetPeriodLedger)
    assert (resumed.consumed_usd, resumed.last_reset) == (replayed.consumed_usd, replayed.last_reset) == (
        Decimal("0.1"), None)
    at = resumed.last_updated
    assert at is not None and resumed.reset_usage("ops-ann", "INC-5 provider refunded", at) is True
    assert resumed.reset_usage("ops-ann", "INC-5 provider refunded", at) is False


def test_v1_compliance_checkpoint_when_loaded_then_no_open_violation_content_and_a_recurrence_recorded_again():
    # Arrange: a source checkpointed with one violation open, before the checkpoint carried its content (ADR 0527)
    from paulp.domain.checkpoints import resume
    from paulp.domain.compliance import ComplianceSource

    rows = [r for r in old_version_rows() if r["topic"].startswith(get_topic(ComplianceSource))]
    assert [stored_version(r) for r in rows if r["topic"] == get_topic(ComplianceSource.Checkpointed)] == [1]
    events = [decode(r) for r in rows]
    # Act: a load from the checkpoint, and a replay from the start (the checkpoint restates the source there too)
    resumed = resume(ComplianceSource, ComplianceSource.Checkpointed, events[-1:])
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    # Assert: the violations' states stand; the open one's content is not known, so the same violation is recorded
    # again (as before ADR 0527), and known once recorded
    assert isinstance(replayed, ComplianceSource) and vars(resumed) == vars(replayed)
    assert (resumed.violations, resumed.open_violations) == ({"noaa_cdo#v1": False, "noaa_cdo#v2": True}, {})
    same = ("rate_limit_exceeded", "critical", "1000/day exceeded", "ops-ann", resumed.tos_next_review_date)
    assert resumed.record_violation(*same) == ("noaa_cdo#v3", False)
    assert resumed.record_violation(*same) == ("noaa_cdo#v3", True)
    again = json.loads(make_mapper().to_stored_event(events[-1]).state)
    assert again["class_version"] == 2 and again["open_violations"] == {}
