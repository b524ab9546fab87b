"""Execution reports on real PostgreSQL + NATS (trading §5.5, §3.3 I18; api-and-security §1.5; ADR 0387): paper
orders fill, the execution_reports projection writes their reports and slippage history, the dashboard reads them,
and a market whose recent slippage ate more than half the edge blocks the next order there at I18."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.execution_reports import OrderExecution, execution_report
from paulp.domain.order_record import OrderRecord
from paulp.domain.order_states import OrderState
from paulp.domain.services.pipeline import TradeSignal
from tests.integration.helpers import (
    MARKET,
    NOW,
    assert_live_equals_replay,
    make_container,
    max_notification_id,
    wait_tracked,
    workers,
)

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
VIEW = "execution_reports"
I18 = "I18_MAX_SLIPPAGE_VS_EDGE"


@pytest.fixture
def system(fresh_db: str, nats_url: str, namespace: str) -> Iterator[Container]:
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    yield container
    container.close()


def a_signal(sid: str, ticker: str, edge: float) -> TradeSignal:
    """50 contracts at 42 cents against the helpers' book (ask 42): the paper fill is 43, one cent of slippage."""
    return TradeSignal(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=50, max_price=42,
                       model_probability=0.6, edge=edge, confidence=0.8)


def later(container: Container, seconds: float = 2) -> None:
    """Past the paper policy's 1 s order spacing (§5.1), well inside I14's 60 s of price staleness."""
    clock = container.clock
    assert isinstance(clock, FixedClock)
    clock.sleep(seconds)


def settle(container: Container) -> None:
    head = max_notification_id(container.database_url)
    with workers(container, projections=[VIEW, "orders"]):
        wait_tracked(container.database_url, VIEW, head)
        wait_tracked(container.database_url, "orders", head)


def rows(container: Container, table: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(container.database_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return {r["order_id"]: r for r in cur.execute(f"SELECT * FROM views.{table}").fetchall()}


def report_from_aggregate(container: Container, order_id: str) -> Any:
    """The report computed from the order as its aggregate holds it, beside the projection's own gathering."""
    order = container.orders.find(order_id)
    assert order is not None and order.pre_trade_check_result is not None
    pre = order.pre_trade_check_result
    fills = [e for e in container.orders.history(order_id) if isinstance(e, OrderRecord.FillRecorded)]
    return execution_report(OrderExecution(
        order_id=order.order_id, strategy=order.strategy, ticker=order.ticker, side=order.side, mode="PAPER",
        limit_cents=order.max_price, order_size=order.requested_size, signal_edge=order.signal_edge,
        created_at=order.created_at, sent_at=order.entered_at(OrderState.SUBMITTING), spread=pre.spread,
        depth_usd=pre.depth, vpin=pre.vpin_score, filled_size=order.filled_size,
        avg_fill_cents=float(order.avg_fill_price or 0), fills=len(fills), first_fill_at=fills[0].at,
        executed_at=fills[-1].at,
    ))


def test_paper_fills_when_projected_then_reports_history_and_dashboard_show_them(system: Container) -> None:
    # Arrange: a wide-edge order in A, a thin-edge one in B (1 cent of 42 is 2.4 % of price against 2 % of edge)
    pipeline = system.pipeline(MARKET)
    wide = pipeline.process(a_signal("eq-wide", "KXTEST-A", 0.18))
    later(system)
    thin = pipeline.process(a_signal("eq-thin", "KXTEST-B", 0.02))
    assert (wide.state, thin.state) == ("FILLED", "FILLED"), (wide, thin)
    # Act
    settle(system)
    reports, history = rows(system, "execution_reports"), rows(system, "slippage_history")
    # Assert: one report per filled order, the aggregate's report
    assert set(reports) == set(history) == {wide.order_id, thin.order_id}
    for oid in reports:
        row, expected = reports[oid], report_from_aggregate(system, oid)
        assert (row["mode"], row["limit_price"], row["actual_fill_price"], row["filled_size"]) == ("PAPER", 42, 43, 50)
        assert row["realized_slippage"] == 1 and row["execution_grade"] == expected.grade.value
        assert math.isclose(row["slippage_ratio"], expected.slippage_ratio)
        assert math.isclose(row["slippage_vs_edge_ratio"], expected.slippage_vs_edge_ratio)
        assert (row["fill_rate"], row["fills_count"], row["partial_fills_count"]) == (1.0, 1, 0)
        assert row["order_to_send_ms"] == 0 and row["send_to_fill_ms"] == 0 and row["time_of_day"] == NOW.hour
        x = expected.execution
        assert (row["created_at"], row["executed_at"]) == (x.created_at, x.executed_at)
        assert row["market_spread"] == 1 and row["market_depth_usd"] is not None  # the pre-trade check's book
    assert math.isclose(reports[wide.order_id]["slippage_vs_edge_ratio"], (1 / 42 * 100) / 18)
    assert math.isclose(reports[thin.order_id]["slippage_vs_edge_ratio"], (1 / 42 * 100) / 2)
    assert [history[o]["exceeds_kill_threshold"] for o in (wide.order_id, thin.order_id)] == [False, True]
    assert history[thin.order_id]["market_id"] == "KXTEST-B" and history[thin.order_id]["kill_threshold_pct"] == 50
    # ... the dashboard reads them (api-and-security §1.5 shape)
    client = TestClient(create_app(system))
    quality = client.get("/dashboard/execution-quality", headers=AUTH).json()
    grades = [r["execution_grade"] for r in reports.values()]
    assert set(quality) == {"date", "grades", "total_orders", "average_slippage_cents", "average_slippage_ratio",
                            "grade_distribution"}
    assert quality["date"] == NOW.strftime("%Y-%m-%d") and quality["total_orders"] == 2
    assert quality["grades"] == {g.lower(): grades.count(g) for g in ("EXCELLENT", "GOOD", "ACCEPTABLE", "POOR")}
    assert quality["average_slippage_cents"] == 1.0
    assert quality["average_slippage_ratio"] == round(sum(r["slippage_ratio"] for r in reports.values()) / 2, 3)
    assert quality["grade_distribution"] == {f"{g.lower()}_pct": round(grades.count(g) / 2 * 100, 1)
                                             for g in ("EXCELLENT", "GOOD", "ACCEPTABLE", "POOR")}
    summary = client.get("/dashboard/summary", headers=AUTH).json()
    assert summary["kill_switch_triggered"] is True
    assert summary["poor_execution_count"] == grades.count("POOR")
    assert summary["avg_execution_grade"] in ("EXCELLENT", "GOOD", "ACCEPTABLE", "POOR")
    # ... and a rebuild from the log gives the same rows
    assert_live_equals_replay(system, VIEW)


def test_dashboard_when_reports_are_from_another_day_then_not_counted(system: Container) -> None:
    assert system.pipeline(MARKET).process(a_signal("eq-yesterday", "KXTEST-A", 0.18)).state == "FILLED"
    settle(system)
    later(system, 24 * 3600)
    quality = TestClient(create_app(system)).get("/dashboard/execution-quality", headers=AUTH).json()
    assert (quality["total_orders"], quality["grade_distribution"], quality["average_slippage_cents"]) == (0, None, 0)


def test_market_slippage_above_kill_threshold_when_next_order_checked_then_i18_blocks_it(system: Container) -> None:
    # Arrange: a fill in C whose one cent of slippage is 119 % of its 2 % edge
    pipeline = system.pipeline(MARKET)
    assert pipeline.process(a_signal("kill-1", "KXTEST-C", 0.02)).state == "FILLED"
    settle(system)
    # Act
    later(system)
    blocked = pipeline.process(a_signal("kill-2", "KXTEST-C", 0.18))
    elsewhere = pipeline.process(a_signal("kill-3", "KXTEST-D", 0.18))
    # Assert: C's next order is refused at I18, in its history; D (no reports) trades
    assert blocked.state == "RISK_REJECTED", blocked
    assert "Slippage vs edge" in (blocked.last_error or "")
    checked = next(e for e in system.orders.history(blocked.order_id) if isinstance(e, OrderRecord.RiskChecked))
    assert checked.result["approved"] is False and checked.result["invariantIds"] == [I18]
    assert elsewhere.state == "FILLED", elsewhere
    # ... the window and the mode bound what I18 reads
    portfolio = system.portfolio()
    assert math.isclose(portfolio.recent_slippage_ratio("KXTEST-C", "PAPER", NOW - timedelta(hours=24), NOW) or 0,
                        (1 / 42 * 100) / 2)
    assert portfolio.recent_slippage_ratio("KXTEST-C", "LIVE", NOW - timedelta(hours=24), NOW) is None
    past = NOW + timedelta(hours=24, seconds=1)
    assert portfolio.recent_slippage_ratio("KXTEST-C", "PAPER", past - timedelta(hours=24), past) is None


def test_slippage_history_when_unreadable_then_i18_fails_closed(system: Container) -> None:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE views.slippage_history RENAME TO slippage_history_moved")
    out = system.pipeline(MARKET).process(a_signal("unreadable", "KXTEST-A", 0.18))
    assert out.state == "RISK_REJECTED", out
    checked = next(e for e in system.orders.history(out.order_id) if isinstance(e, OrderRecord.RiskChecked))
    assert checked.result["invariantIds"] == [I18]
    assert "Slippage vs edge unavailable" in (out.last_error or "")
