"""Migration 0102 on a database whose orders projector already applied fills (ADR 0442): it fills
``views.order_fills`` from the log as the projection would (each fill's time and fee; an unknown fee stays NULL),
so the risk check's windows see the fees paid before the upgrade, and the view equals a rebuild's."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.migrate import migrate
from paulp.adapters.projector import catch_up_from_log
from paulp.domain.order_values import ExecutionResult, ExecutionStatus, PaperFill, PreTradeCheck, RiskCheckResult
from paulp.domain.orders import Order
from tests.integration.helpers import NOW, assert_live_equals_replay, facts, signal

pytestmark = pytest.mark.integration
ROWS = ("SELECT notification_id, strategy, ticker, side, mode, fill_size, fill_price, fee_cents, filled_at"
        " FROM views.order_fills ORDER BY notification_id")


def _unknown_fee_fill(system) -> None:
    """A paper order filled with no fee modelled (as a fill recorded before fees, or a venue answer without one)."""
    at = NOW + timedelta(minutes=1)
    order = Order.create(signal_id="mig-unknown", strategy="bonding", ticker="KXMIG-U", side="YES", requested_size=10,
                         max_price=45, now=at)
    order.pre_trade_check(PreTradeCheck(True, spread=0.01, depth=5000.0, vpin_score=0.1), at)
    order.validate(at)
    order.begin_risk_check(at)
    order.apply_risk_result(RiskCheckResult(True, input_hash="cd" * 32), at)
    order.apply_execution_result(ExecutionResult(True, ExecutionStatus.PAPER_FILLED, PaperFill(10, 42), mode="PAPER"),
                                 at)
    system.orders.save(order)


def test_migration_when_fills_were_projected_before_it_then_the_view_holds_them_as_a_rebuild_would(clocked):
    # Arrange: a paper fill with its modelled fee and one with none, projected
    system, _ = clocked
    market = StaticMarketData({"KXMIG-F": replace(facts("KXMIG-F"), category="KXMIG-F")})
    assert system.pipeline(market).process(signal("mig-fee", "KXMIG-F")).state == "FILLED"
    _unknown_fee_fill(system)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, system.projections["orders"])
        projected = conn.execute(ROWS).fetchall()
        # the database as it stood before 0102: no such view, the migration not applied
        conn.execute("DROP TABLE views.order_fills")
        conn.execute("DELETE FROM schema_migrations WHERE version = 102")
    # Act
    assert migrate(system.database_url) == ["0102_order_fills.sql"]
    # Assert: the same rows the projector wrote, the known fee exact and the unknown one NULL
    with psycopg.connect(system.database_url) as conn:
        assert conn.execute(ROWS).fetchall() == projected
    assert [(r[2], r[5], r[7]) for r in projected] == [("KXMIG-F", 50, Decimal(86)), ("KXMIG-U", 10, None)]
    assert_live_equals_replay(system, "orders")
