"""Events stored by the code before a class_version bump, in PostgreSQL through the real (chained) recorder:
the aggregates load from them, the projections build the same rows live and on replay, and the aggregates
go on recording at the current version (ADR 0322; fixtures from tests/unit/fixtures/old_version_events.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.order_record import OrderRecord
from paulp.domain.orders import Order
from paulp.domain.position_exits import ExitState, PositionExit
from paulp.domain.throttle import ExecutionThrottle
from tests.integration.helpers import NOW, assert_live_equals_replay, facts, make_container, signal
from tests.unit.test_stored_event_fixtures import old_version_rows, stored_version

pytestmark = pytest.mark.integration
TICKER = "KXV1-EXIT"  # the fixture's exit: 50 YES bought at 43 on paper, stopped out at 39


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str) -> Iterator[Container]:
    built = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    try:
        yield built
    finally:
        built.close()


def store_old_events(container: Container, topic_prefix: str, index: int = 0) -> list[dict[str, Any]]:
    """The fixture's rows for one aggregate (the ``index``-th of its class in the file), inserted as they were
    stored: topic and state bytes unchanged."""
    rows = [r for r in old_version_rows() if r["topic"].startswith(topic_prefix)]
    originators = list(dict.fromkeys(r["originator_id"] for r in rows))
    rows = [r for r in rows if r["originator_id"] == originators[index]]
    assert any(stored_version(r) == 1 for r in rows)
    container.orders.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode())
        for r in rows])
    with psycopg.connect(container.database_url) as conn:  # stored byte for byte, no re-encoding on the way
        stored = conn.execute("SELECT topic, state FROM paulp_events WHERE originator_id = %s"
                              " ORDER BY originator_version", (UUID(rows[0]["originator_id"]),)).fetchall()
    assert [(t, json.loads(bytes(s))) for t, s in stored] == [(r["topic"], json.loads(r["state"])) for r in rows]
    return rows


def project(container: Container, name: str) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections[name])


def test_v1_exit_fill_when_loaded_then_aggregate_and_views_as_the_old_code_left_them(container: Container):
    # Arrange: the position the stored exit sold (50 YES at 43: ask 42 + 1 cent paper slippage)
    pipeline = container.pipeline(StaticMarketData({TICKER: facts(TICKER)}))
    assert pipeline.process(signal("v1-exit", TICKER)).state == "FILLED"
    # Act: the exit as the code before Filled v2 stored it
    rows = store_old_events(container, get_topic(PositionExit))
    exit_: PositionExit = container.orders.repository.get(UUID(rows[0]["originator_id"]))
    project(container, "orders")
    # Assert: v1 carried no entry of the fill; its PnL was taken against the decision's entry, and stands
    assert exit_.id == PositionExit.create_id("bonding", TICKER, "YES", "PAPER", NOW, 0)
    assert (exit_.state, exit_.contracts, exit_.entry_price, exit_.exit_price, exit_.realized_pnl_usd) == (
        ExitState.FILLED, 50, 43.0, 39.0, -2.0)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute("SELECT state, filled_size, entry_price, exit_price, realized_pnl_usd FROM"
                            " views.position_exits WHERE exit_uuid = %s", (exit_.id,)).fetchone()
        position = conn.execute("SELECT contracts, cost_cents, realized_pnl_usd, exits, first_fill_at FROM"
                                " views.positions WHERE ticker = %s", (TICKER,)).fetchone()
    assert view is not None and (view[0], view[1], float(view[2]), float(view[3]), float(view[4])) == (
        "FILLED", 50, 43.0, 39.0, -2.0)
    assert position is not None and (position[0], position[1], float(position[2]), position[3], position[4]) == (
        0, 0, -2.0, 0, None)
    assert_live_equals_replay(container, "orders")


def test_v1_redecided_exit_when_loaded_then_view_names_no_operator(container: Container):
    # Arrange + Act: a LIVE take-profit refused and decided again, stored before exits named who asked (ADR 0440)
    rows = store_old_events(container, get_topic(PositionExit), index=1)
    project(container, "orders")
    # Assert
    exit_: PositionExit = container.orders.repository.get(UUID(rows[0]["originator_id"]))
    assert (exit_.ticker, exit_.state, exit_.attempt, exit_.requested_by, exit_.note) == (
        "KXV1-REDECIDE", ExitState.DECIDED, 2, None, None)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute("SELECT reason, state, attempt, requested_by, note FROM views.position_exits"
                            " WHERE exit_uuid = %s", (exit_.id,)).fetchone()
    assert view == ("TAKE_PROFIT_HIT", "DECIDED", 2, None, None)


def test_v1_throttle_when_loaded_then_scope_is_its_strategy_and_it_records_on_at_v2(container: Container):
    rows = store_old_events(container, get_topic(ExecutionThrottle))
    throttle_id = UUID(rows[0]["originator_id"])
    # Act
    throttle: ExecutionThrottle = container.orders.repository.get(throttle_id)
    # Assert: v1 throttles were per strategy (ADR 0307): the upcast names the strategy as the scope
    assert throttle.scope == "bonding" and throttle.version == 2
    state = throttle.current(NOW + timedelta(minutes=1))
    assert (state.orders_this_minute, state.orders_this_hour, state.volume_today) == (1, 1, 2150)
    throttle.count_order(1000, NOW + timedelta(minutes=2))
    container.orders.save(throttle)
    again: ExecutionThrottle = container.orders.repository.get(throttle_id)
    assert again.version == 3 and again.current(NOW + timedelta(minutes=2)).volume_today == 3150
    # The per-mode throttle of the current code is another aggregate: the old one is kept, never read again.
    assert ExecutionThrottle.id_for("kalshi/PAPER") != throttle_id


def test_v1_risk_refusal_when_loaded_then_order_and_views_keep_the_decision_without_an_evaluation(
        container: Container):
    # Arrange: the I1 refusal as the pipeline stored it before RiskChecked v2 (ADR 0377), its stream whole
    created = next(r for r in old_version_rows() if r["topic"] == get_topic(Order.Created))
    rows = [r for r in old_version_rows() if r["originator_id"] == created["originator_id"]]
    assert any(r["topic"] == get_topic(OrderRecord.RiskChecked) and stored_version(r) == 1 for r in rows)
    container.orders.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode()) for r in rows])
    # Act
    order: Order = container.orders.repository.get(UUID(created["originator_id"]))
    project(container, "violations")
    # Assert: the decision stands; the views show what v1 kept (ids, hash) and NULL for what it did not
    assert str(order.state) == "RISK_REJECTED" and order.risk_check_result is not None
    assert order.risk_check_result.invariant_ids == ("I1_MAX_POSITION_SIZE",)
    with psycopg.connect(container.database_url) as conn:
        violation = conn.execute("SELECT invariant_id, actual_value, threshold_value, input_hash"
                                 " FROM views.invariant_violations WHERE order_id = %s", (order.order_id,)).fetchone()
        history = conn.execute(
            "SELECT market_id, size_usd, contracts, approved, recheck, breaker_state, invariants_passed,"
            " invariants_failed, critical_failures, warnings, results FROM views.risk_check_history"
            " WHERE order_id = %s", (order.order_id,)).fetchall()
    assert violation == ("I1_MAX_POSITION_SIZE", None, None, "ab" * 32)
    assert history == [("KXV1-RISK", None, 5000, False, False, None, None, None, ["I1_MAX_POSITION_SIZE"], None,
                        None)]
    assert_live_equals_replay(container, "violations")


def test_fills_stored_before_fees_when_loaded_then_views_show_fees_unknown_and_gross_figures_as_before(
        container: Container):
    # Arrange: a PAPER order filled 10 at 42 and a LIVE exit fill, as the code before ADR 0437 stored them
    created = next(r for r in old_version_rows() if r["topic"] == get_topic(Order.Created)
                   and json.loads(r["state"])["ticker"] == "KXV1-FILL")
    decided = next(r for r in old_version_rows() if r["topic"] == get_topic(PositionExit.Decided)
                   and json.loads(r["state"])["ticker"] == "KXV1-FILL")
    streams = (created["originator_id"], decided["originator_id"])
    rows = [r for r in old_version_rows() if r["originator_id"] in streams]
    assert {(r["topic"], stored_version(r)) for r in rows} >= {(get_topic(OrderRecord.FillRecorded), 1),
                                                               (get_topic(PositionExit.Filled), 2)}
    container.orders.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"].encode()) for r in rows])
    # Act
    order: Order = container.orders.repository.get(UUID(created["originator_id"]))
    exit_: PositionExit = container.orders.repository.get(UUID(decided["originator_id"]))
    project(container, "orders")
    # Assert: gross figures as recorded; fees unknown (NULL / incomplete), never a made-up 0 fee
    assert (order.filled_size, order.fees_cents, order.fee_unknown_fills) == (10, 0, 1)
    assert (exit_.state, exit_.realized_pnl_usd, exit_.fee_cents) == (ExitState.FILLED, 0.5, None)
    with psycopg.connect(container.database_url) as conn:
        orders = conn.execute("SELECT filled_size, avg_fill_price, fees_cents, fees_complete FROM views.orders"
                              " WHERE order_id = %s", (order.order_id,)).fetchone()
        position = conn.execute("SELECT contracts, cost_cents, fees_cents, fees_complete FROM views.positions"
                                " WHERE ticker = 'KXV1-FILL' AND mode = 'PAPER'").fetchone()
        sold = conn.execute("SELECT state, realized_pnl_usd, fee_cents FROM views.position_exits"
                            " WHERE exit_uuid = %s", (exit_.id,)).fetchone()
    assert orders is not None and (orders[0], float(orders[1]), orders[2], orders[3]) == (10, 42.0, None, False)
    assert position == (10, 420, 0, False)
    assert sold is not None and (sold[0], float(sold[1]), sold[2]) == ("FILLED", 0.5, None)
    assert_live_equals_replay(container, "orders")


def test_v1_adjustment_when_loaded_then_adopted_without_cost_unjudged_and_the_view_replays(container: Container):
    # Arrange + Act: a DR rebuild stored before adjustments carried Kalshi's cost (ADR 0450)
    from paulp.api.exit_jobs import monitor_exits
    from paulp.domain.position_rebuild import PositionRebuild

    rows = store_old_events(container, get_topic(PositionRebuild))
    rebuild: PositionRebuild = container.orchestrator.repository.get(UUID(rows[0]["originator_id"]))
    project(container, "reconciliation")
    # Assert: the contracts stay adopted, with no cost; the exit monitor names them and judges nothing
    assert [(a.market_id, a.contracts, a.venue_cost_cents) for a in rebuild.adjustments] == [
        ("KXV1-ADOPT", 6, None), ("KXV1-ADOPT-NO", 3, None)]
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute("SELECT ticker, side, contracts, venue_cost_cents FROM views.position_adjustments"
                            " ORDER BY ticker").fetchall()
    assert view == [("KXV1-ADOPT", "YES", 6, None), ("KXV1-ADOPT-NO", "NO", 3, None)]
    report = monitor_exits(container)
    assert (report["adopted"], report["exits"]) == (2, [])
    assert [(u["ticker"], u["contracts"], u["reason"]) for u in report["unjudgedAdopted"]] == [
        ("KXV1-ADOPT", 6, "no venue cost recorded at adoption"),
        ("KXV1-ADOPT-NO", 3, "no venue cost recorded at adoption")]
    assert_live_equals_replay(container, "reconciliation")


def test_v1_scoring_run_when_loaded_then_view_keeps_its_hash_with_no_input_text(container: Container):
    # Arrange + Act: a scoring run stored before it kept its §8.2 input text (ADR 0469)
    from paulp.domain.llm_records import ScoringRun

    rows = store_old_events(container, get_topic(ScoringRun))
    run = container.routing.repository.get(UUID(rows[0]["originator_id"]))
    project(container, "llm_routing")
    # Assert: the hash it was stored with, no text; the same row on replay
    assert isinstance(run, ScoringRun) and (run.input_text, run.input_hash) == (None, "ef" * 32)
    with psycopg.connect(container.database_url) as conn:
        view = conn.execute("SELECT target_entity_id, input_hash, input_text, score FROM views.llm_scoring_runs"
                            ).fetchall()
    assert view == [("KXFED-26DEC", "ef" * 32, None, 0.2)]
    assert_live_equals_replay(container, "llm_routing")
