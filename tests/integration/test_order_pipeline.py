"""Signal -> paper fill on real PostgreSQL + NATS, duplicates, risk denials and the breaker."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.domain.clock import FixedClock
from tests.integration.helpers import MARKET, NOW, make_container, max_notification_id, signal, wait_tracked, workers

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


@pytest.fixture
def system(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    yield container
    container.close()


def test_paper_signal_when_processed_then_filled_and_listed_in_trades(system):
    pipeline = system.pipeline(MARKET)
    out = pipeline.process(signal("sig-1"))
    assert out.state == "FILLED", out
    assert pipeline.process(signal("sig-1")).duplicate  # same signal: nothing new
    head = max_notification_id(system.database_url)
    assert pipeline.process(signal("sig-1")).order_id == out.order_id
    assert max_notification_id(system.database_url) == head
    with workers(system):
        wait_tracked(system.database_url, "venue_orders", head)
        wait_tracked(system.database_url, "orders", head)
    r = TestClient(create_app(system)).get("/admin/trades?mode=PAPER&status=filled", headers=AUTH)
    trades = r.json()["trades"]
    assert [t["order_id"] for t in trades] == [out.order_id]
    assert trades[0]["fill_count"] == 50 and trades[0]["fill_price"] == 43  # ask 42 + 1 cent paper slippage
    with psycopg.connect(system.database_url) as conn:
        pos = conn.execute("SELECT contracts, cost_cents FROM views.positions").fetchall()
    with psycopg.connect(system.database_url) as conn:
        dead = conn.execute("SELECT projection, topic, error FROM projection_dead_letters").fetchall()
    assert dead == []
    assert pos == [(50, 2150)]


def test_risk_block_when_three_in_a_row_then_breaker_halts_and_orders_refused(system):
    pipeline = system.pipeline(MARKET)
    # 5,000 contracts at 42c = $2,100: above 5 % of bonding's $500 (I1), a critical invariant.
    for i, ticker in enumerate(("KXTEST-A", "KXTEST-B", "KXTEST-C")):
        out = pipeline.process(signal(f"big-{i}", ticker, size=5000))
        assert out.state == "RISK_REJECTED", out
    assert system.breaker.get().state == "HALT"
    refused = pipeline.process(signal("small-after-halt", "KXTEST-D"))
    assert refused.state == "RISK_REJECTED" and "halt" in (refused.last_error or "").lower()
    history = system.orders.history(refused.order_id)
    denial = next(e for e in history if type(e).__name__ == "RiskChecked")
    assert denial.result["approved"] is False
    assert any(i.upper().startswith("I16") for i in denial.result["invariantIds"]), denial.result
    assert len(denial.result["inputHash"]) == 64
    assert [type(e).__name__ for e in history][-1] == "Transitioned"


def test_order_views_when_relayed_then_state_and_history_match_the_aggregate(system):
    out = system.pipeline(MARKET).process(signal("sig-views"))
    head = max_notification_id(system.database_url)
    with workers(system):
        wait_tracked(system.database_url, "orders", head)
    with psycopg.connect(system.database_url) as conn:
        state, filled = conn.execute("SELECT state, filled_size FROM views.orders WHERE order_id = %s",
                                     (out.order_id,)).fetchone()
        steps = [r[0] for r in conn.execute("SELECT to_state FROM views.order_history ORDER BY notification_id")]
    assert (state, filled) == ("FILLED", 50)
    assert steps == [str(t.to_state) for t in system.orders.history(out.order_id) if type(t).__name__ == "Transitioned"]
