"""The LIVE order path on real PostgreSQL with the loopback Kalshi exchange: a result Kalshi accepted but we could
not save leaves the order in doubt (ADR 0293), never ERROR, and it is settled by client order id without a second
order; the venue order record carries Kalshi's order id beside our client order id (ADR 0294)."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from paulp.adapters.market_data import StaticMarketData
from paulp.api.order_timers_job import run_order_timers
from paulp.api.signal_jobs import _record_error
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from paulp.domain.services.pipeline import OrderPipeline
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW, signal
from tests.integration.kalshi_system import AUTH, System, facts_at_book

pytestmark = pytest.mark.integration
S = OrderState
TRADE_FIELDS = {"order_id", "client_order_id", "ticker", "side", "action", "order_type", "requested_size",
                "limit_price", "status", "fill_count", "fill_price", "source_strategy", "signal_id",
                "execution_mode", "created_at", "updated_at", "evidence_hash", "venue"}


def _fail_saves_with(system: System, topic_part: str, times: int = 1) -> None:
    """The next ``times`` saves writing an event whose topic contains ``topic_part`` fail inside PostgreSQL (a
    trigger on the event log; the sequence it counts with is not rolled back with the failed save)."""
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE test_failed_saves")
        conn.execute(f"""CREATE FUNCTION test_fail_save() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('test_failed_saves') <= {int(times)} THEN
                    RAISE EXCEPTION 'injected: the event store refused the save';
                END IF;
                RETURN NEW;
            END $$""")
        conn.execute(sql.SQL("CREATE TRIGGER test_fail_save BEFORE INSERT ON paulp_events FOR EACH ROW"
                             " WHEN (NEW.topic LIKE {}) EXECUTE FUNCTION test_fail_save()")
                     .format(sql.Literal(f"%{topic_part}%")))



def _trades(system: System) -> list[dict]:
    system.project("orders", "venue_orders")
    r = system.client.get("/admin/trades?venue=kalshi&mode=LIVE", headers=AUTH)
    assert r.status_code == 200, r.text
    trades: list[dict] = r.json()["trades"]
    return trades


def test_live_order_when_result_save_fails_after_kalshi_accepted_then_in_doubt_not_error_and_fill_kept(
        system: System):
    _fail_saves_with(system, "VenueOrder.Recorded")  # the save of Kalshi's answer (order + its venue record)
    ticker, out = system.live_order("save-lost", size=40)  # at the ask: Kalshi fills all 40
    [placed] = system.exchange.orders
    assert placed["status"] == "executed" and placed["fill_count"] == 40

    order = system.order(out.order_id)
    assert (out.state, order.state) == ("SUBMITTED", S.SUBMITTED)
    assert order.submission_in_doubt and S.ERROR not in [h.target for h in order.history]
    assert system.process_live(facts_at_book(system.exchange, ticker),
                               signal("save-lost", ticker, size=40, price=placed["yes_price"])).duplicate
    assert len(system.exchange.orders) == 1  # the same signal again sends nothing

    system.container.clock.set(NOW + timedelta(seconds=301))  # type: ignore[attr-defined]
    system.project("orders")
    run_order_timers(system.container)  # the in-doubt order is looked up by client order id
    order = system.order(out.order_id)
    assert (order.state, order.filled_size, order.avg_fill_price) == (S.FILLED, 40, placed["yes_price"])
    assert not order.submission_in_doubt and order.broker_order_id == placed["order_id"]
    assert len(system.exchange.orders) == 1
    [trade] = _trades(system)
    assert (trade["status"], trade["fill_count"], trade["order_id"]) == ("filled", 40, placed["order_id"])


def test_live_order_when_every_save_after_kalshi_accepted_fails_then_left_submitting_and_recovered(
        system: System):
    """The store refuses the answer and the in-doubt record too: the order stays SUBMITTING (the state a
    submission cut off mid-way is recovered from), the error surfaces, and the execute step's error handling
    does not make it ERROR (a retryable state that would send it again)."""
    _fail_saves_with(system, "VenueOrder.Recorded", times=2)
    with pytest.raises(Exception, match="refused the save"):
        system.live_order("save-lost-twice", size=40)
    [placed] = system.exchange.orders
    [order_id] = [o.order_id for o in _open_orders(system)]
    _record_error(system.container, order_id, "RuntimeError: the event store refused the save")
    order = system.order(order_id)
    assert order.state == S.SUBMITTING and S.ERROR not in [h.target for h in order.history]

    system.container.clock.set(NOW + timedelta(seconds=301))  # type: ignore[attr-defined]
    port, client = system.venue_port()
    try:
        c = system.container
        pipeline = OrderPipeline(c.orders, c.breaker, c.execution, StaticMarketData({}), c.portfolio(), port,
                                 modes={"bonding": ExecutionMode.LIVE})
        assert pipeline.advance(order_id).state == "FILLED"
    finally:
        port.close(client)
    assert system.order(order_id).filled_size == 40 and len(system.exchange.orders) == 1
    assert placed["client_order_id"] == order_id


def _open_orders(system: System) -> list[Order]:
    system.project("orders")
    with psycopg.connect(system.container.database_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT order_id FROM views.orders").fetchall()]
    return [system.order(i) for i in ids]


def test_live_order_when_kalshi_accepts_then_trade_row_has_kalshi_order_id_and_our_client_order_id(
        system: System):
    _, out = system.live_order("vid-filled", size=40)
    [placed] = system.exchange.orders
    assert placed["order_id"] != out.order_id  # Kalshi names its orders itself
    [trade] = _trades(system)
    assert set(trade) == TRADE_FIELDS | {"fees_cents"}  # the fees Kalshi reported, beside the spec's fields (ADR 0437)
    assert (trade["order_id"], trade["client_order_id"]) == (placed["order_id"], out.order_id)
    assert system.order(out.order_id).broker_order_id == placed["order_id"]


def test_live_order_when_answer_lost_then_record_has_no_venue_id_until_found_by_client_order_id(system: System):
    """Before Kalshi's id is known the record does not pass our id off as Kalshi's; the lookup fills it in."""
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    _, out = system.live_order("vid-doubt", size=40, move_up_by=3)  # placed and resting, its answer lost
    [placed] = system.exchange.orders
    [trade] = _trades(system)
    assert (trade["order_id"], trade["client_order_id"], trade["status"]) == (None, out.order_id, "unknown")

    system.container.clock.set(NOW + timedelta(seconds=301))  # type: ignore[attr-defined]
    system.project("orders")
    run_order_timers(system.container)  # found by client order id, then cancelled as stale
    [trade] = _trades(system)
    assert (trade["order_id"], trade["client_order_id"]) == (placed["order_id"], out.order_id)
