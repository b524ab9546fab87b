"""The order-lifecycle read model holds the §1.1 record trading §9 marks required (ADR 0396): orders driven
through the real pipeline on PostgreSQL + NATS, projected by the relay and projector, read from views.orders
and over GET /admin/orchestrator/orders; a rebuild from the log equals the live view, and migration 0080
fills what views.order_history already held exactly as the projector does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from paulp.adapters import replay as rp
from paulp.adapters.migrate import migrate
from paulp.adapters.projector import catch_up_from_log
from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock, iso_utc
from paulp.domain.order_values import ReconciliationResult
from paulp.domain.orders import Order
from tests.integration.helpers import (
    MARKET,
    NOW,
    assert_live_equals_replay,
    make_container,
    max_notification_id,
    signal,
    wait_tracked,
    workers,
)

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}
EVIDENCE = "ab" * 32
STAMPS = ("pre_trade_checked_at", "validated_at", "risk_approved_at", "submitted_at", "acknowledged_at", "filled_at",
          "reconciled_at", "archived_at", "closed_at")
NEW_COLUMNS = ("state_history", "entry_price", "closing_line_price", "clv", "signal_model_probability",
               "signal_edge", "signal_confidence", "evidence_hashes", "retry_count", *STAMPS,
               "pre_trade_check_result", "risk_check_result", "reconciliation_result")


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str) -> Iterator[Container]:
    built = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    try:
        yield built
    finally:
        built.close()


def relay_and_project(container: Container) -> None:
    """Through NATS, as in production: relay + orders projector until the view holds the whole log."""
    head = max_notification_id(container.database_url)
    with workers(container, projections=["orders"]):
        wait_tracked(container.database_url, "orders", head)


def view_row(container: Container, order_id: str) -> dict[str, Any]:
    with psycopg.connect(container.database_url) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM views.orders WHERE order_id = %s", (order_id,)).fetchone()
    assert row is not None, order_id
    return row


def listed(container: Container, query: str = "") -> dict[str, dict[str, Any]]:
    r = TestClient(create_app(container)).get(f"/admin/orchestrator/orders{query}", headers=AUTH)
    assert r.status_code == 200, r.text
    return {o["orderId"]: o for o in r.json()["orders"]}


def history_of(order: Order) -> list[dict[str, str]]:
    """The aggregate's own stateHistory, without metadata (which the view leaves to the log)."""
    return [{k: v for k, v in h.to_dict().items() if k != "metadata"} for h in order.history]


def filled_paper_order(container: Container, sid: str) -> Order:
    out = container.pipeline(MARKET).process(signal(sid))
    assert out.state == "FILLED", out
    order = container.orders.find(out.order_id)
    assert order is not None
    return order


def test_paper_order_when_piped_to_fill_then_view_and_http_carry_its_record(container: Container):
    # Arrange / Act: signal -> pre-trade -> validate -> risk -> paper fill, then evidence, reconcile, archive
    order = filled_paper_order(container, "life-1")
    order.attach_evidence(EVIDENCE)
    order.reconcile(ReconciliationResult(True, 50, 50, 0.0), NOW + timedelta(minutes=1))
    order.archive(NOW + timedelta(minutes=2), pnl=1.5)
    container.orders.save(order)
    relay_and_project(container)
    # Assert: the row is the aggregate's record
    row = view_row(container, order.order_id)
    assert row["state"] == "ARCHIVED" and row["state_history"] == history_of(order)
    assert [h["to"] for h in row["state_history"]] == [
        "PENDING", "PRE_TRADE_CHECK", "VALIDATING", "VALIDATED", "RISK_CHECK", "RISK_APPROVED", "SUBMITTING",
        "SUBMITTED", "FILLED", "RECONCILED", "ARCHIVED"]
    assert {c: row[c] for c in STAMPS} == {c: getattr(order, c) for c in STAMPS}
    assert (row["pre_trade_checked_at"], row["filled_at"], row["reconciled_at"], row["archived_at"]) == (
        NOW, NOW, NOW + timedelta(minutes=1), NOW + timedelta(minutes=2))
    assert row["closed_at"] == NOW + timedelta(minutes=2) and row["acknowledged_at"] is None  # paper: no venue
    assert (row["filled_size"], row["avg_fill_price"], row["entry_price"]) == (50, 43, 43)  # ask 42 + 1 cent
    assert (order.signal_model_probability, order.signal_edge, order.signal_confidence) == (0.6, 0.18, 0.8)
    assert (row["signal_model_probability"], row["signal_edge"], row["signal_confidence"]) == (
        Decimal("0.6"), Decimal("0.18"), Decimal("0.8"))  # numeric: the signal's figures, no binary tail
    pre = row["pre_trade_check_result"]
    assert pre["passed"] is True and pre["spread"] == order.pre_trade_check_result.spread  # type: ignore[union-attr]
    assert "marketImpact" not in pre and "blockReason" not in pre
    risk = row["risk_check_result"]
    assert risk["approved"] is True and len(risk["inputHash"]) == 64 and "violations" not in risk
    assert row["reconciliation_result"] == {"verified": True, "expectedSize": 50, "brokerSize": 50, "driftPct": 0.0}
    assert (row["evidence_hashes"], row["retry_count"], row["last_error"]) == ([EVIDENCE], 0, None)
    # Assert: over HTTP, with the spec's names, filters still applied
    o = listed(container, "?state=archived")[order.order_id]
    assert o["stateHistory"] == history_of(order) and o["currentState"] == "ARCHIVED"
    assert (o["preTradeCheckedAt"], o["validatedAt"], o["riskApprovedAt"], o["submittedAt"], o["filledAt"]) == (
        iso_utc(NOW),) * 5
    assert (o["reconciledAt"], o["archivedAt"], o["closedAt"], o["acknowledgedAt"]) == (
        iso_utc(NOW + timedelta(minutes=1)), iso_utc(NOW + timedelta(minutes=2)),
        iso_utc(NOW + timedelta(minutes=2)), None)
    assert (o["filledSize"], o["avgFillPrice"], o["entryPrice"], o["closingLinePrice"], o["clv"]) == (
        50, 43, 43, None, None)
    assert (o["signalModelProbability"], o["signalEdge"], o["signalConfidence"]) == (0.6, 0.18, 0.8)
    assert o["preTradeCheckResult"] == pre and o["riskCheckResult"] == risk
    assert o["reconciliationResult"]["verified"] is True and o["evidenceHashes"] == [EVIDENCE]
    assert listed(container, "?state=FILLED") == {}
    assert_live_equals_replay(container, "orders")


def test_risk_blocked_order_when_projected_then_view_and_http_show_the_refusal(container: Container):
    # Arrange / Act: 5,000 contracts at 42c = $2,100, above 5 % of bonding's $500 (I1)
    out = container.pipeline(MARKET).process(signal("life-big", size=5000))
    assert out.state == "RISK_REJECTED", out
    relay_and_project(container)
    order = container.orders.find(out.order_id)
    assert order is not None and order.risk_check_result is not None
    # Assert
    row = view_row(container, out.order_id)
    risk = row["risk_check_result"]
    decided = order.risk_check_result.to_dict()
    decided.pop("category", None)  # views.orders.category holds it
    assert risk["approved"] is False and risk == decided
    assert risk["violations"] == list(order.risk_check_result.violations) and risk["violations"]
    assert any(i.startswith("I1") for i in risk["invariantIds"]) and len(risk["inputHash"]) == 64
    assert row["last_error"] == "; ".join(risk["violations"]) == order.last_error
    assert (row["closed_at"], row["risk_approved_at"], row["submitted_at"], row["filled_size"]) == (
        NOW, None, None, 0)
    assert row["state_history"][-1] == {"from": "RISK_CHECK", "to": "RISK_REJECTED", "timestamp": iso_utc(NOW),
                                        "reason": "; ".join(risk["violations"])}
    o = listed(container, "?state=RISK_REJECTED&strategy=bonding")[out.order_id]
    assert (o["riskCheckResult"], o["lastError"], o["closedAt"]) == (risk, order.last_error, iso_utc(NOW))
    assert o["entryPrice"] is None and o["avgFillPrice"] is None and o["riskApprovedAt"] is None
    assert_live_equals_replay(container, "orders")


def test_retried_order_when_projected_then_retry_count_and_cleared_error(container: Container):
    order = Order.create(signal_id="life-retry", strategy="bonding", ticker="KXTEST-B", side="YES",
                         requested_size=10, max_price=42, now=NOW)
    order.record_error("venue timeout", NOW + timedelta(seconds=1))
    order.retry(NOW + timedelta(seconds=2))
    container.orders.save(order)
    relay_and_project(container)
    row = view_row(container, order.order_id)
    assert (row["state"], row["retry_count"], row["last_error"], row["closed_at"]) == ("PENDING", 1, None, None)
    assert [h["reason"] for h in row["state_history"]] == ["Order created", "venue timeout", "Retry #1"]
    order.record_error("venue down", NOW + timedelta(seconds=3))
    container.orders.save(order)
    relay_and_project(container)
    o = listed(container)[order.order_id]
    assert (o["currentState"], o["retryCount"], o["lastError"]) == ("ERROR", 1, "venue down")
    assert o["stateHistory"] == history_of(order)
    assert_live_equals_replay(container, "orders")


def test_migration_0080_when_rows_predate_it_then_history_stamps_and_retries_as_the_projector_writes_them(
        container: Container):
    # Arrange: orders projected, then the view put back as it was before 0080 (its columns gone)
    filled = filled_paper_order(container, "life-mig")
    blocked = container.pipeline(MARKET).process(signal("life-mig-big", "KXTEST-C", size=5000))
    retried = Order.create(signal_id="life-mig-retry", strategy="bonding", ticker="KXTEST-D", side="YES",
                           requested_size=10, max_price=42, now=NOW)
    retried.record_error("boom", NOW + timedelta(seconds=1))
    retried.retry(NOW + timedelta(seconds=2))
    container.orders.save(retried)
    db = container.database_url
    with psycopg.connect(db, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["orders"])
        conn.execute("ALTER TABLE views.orders " + ", ".join(f"DROP COLUMN {c}" for c in NEW_COLUMNS))
        conn.execute("DELETE FROM schema_migrations WHERE version = 80")
    # Act
    assert migrate(db) == ["0080_order_lifecycle_fields.sql"]
    # Assert: what order_history held equals the replayed view; the rest waits for a rebuild
    proj = container.projections["orders"]
    assert rp.replay(db, proj, "replay_orders", rp.live_position(db, proj)).failed == 0
    filled_in = ", ".join(("order_id", "state_history", "retry_count", *STAMPS))
    with psycopg.connect(db) as conn:
        live = conn.execute(f"SELECT {filled_in} FROM views.orders ORDER BY order_id").fetchall()
        rebuilt = conn.execute(f"SELECT {filled_in} FROM replay_orders.orders ORDER BY order_id").fetchall()
        signal_fields = conn.execute("SELECT count(*) FROM views.orders WHERE signal_model_probability IS NOT NULL"
                                     " OR risk_check_result IS NOT NULL").fetchone()
    assert live == rebuilt and len(live) == 3
    by_id = {r[0]: r for r in live}
    assert by_id[retried.order_id][2] == 1 and by_id[blocked.order_id][-1] == NOW
    assert by_id[filled.order_id][1] == history_of(filled)
    assert signal_fields == (0,)  # only the log has them: `paulp rebuild --projection orders --yes`
