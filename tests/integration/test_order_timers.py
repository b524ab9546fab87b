"""The §1.5 order lifecycle timers (ADR 0281) on real PostgreSQL with the loopback Kalshi exchange: a stale LIVE
order cancelled at Kalshi first (also in HALT), a thin partial's remainder cancelled, a thick one kept working,
a failed venue cancel left open and retried, an in-doubt order looked up by client order id first, a paper
order cancelled in the log, a LIVE one never cancelled locally without Kalshi, and the risk-check timeout with
its one retry. The clock is moved, never slept; a repeated tick changes nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from paulp.api.order_timers_job import run_order_timers
from paulp.api.signal_jobs import execute_pending
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order
from tests.fakes.kalshi_exchange import Fault
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import System, resting_live_order, trade_row

pytestmark = pytest.mark.integration
S = OrderState


@pytest.fixture(autouse=True)
def _compliance_seeded(request: pytest.FixtureRequest) -> None:
    """The compliance matrix seeded, as ``paulp up`` does at start: else the gate's first check (before the
    price-move reads, ADR 0382) would seed it inside a tick, and a tick would seem to record something."""
    for name in ("system", "uncredentialed"):
        if name in request.fixturenames:
            request.getfixturevalue(name).container.compliance.seed()


def _at(system: System, seconds: float) -> None:
    system.container.clock.set(NOW + timedelta(seconds=seconds))  # type: ignore[attr-defined]


def _tick(system: System, seconds: float) -> dict:
    _at(system, seconds)
    system.project("orders")
    return run_order_timers(system.container)



def _venue_order(system: System, order_id: str) -> dict:
    [found] = [o for o in system.exchange._orders.values() if o["client_order_id"] == order_id]
    return found


def _deletes(system: System) -> int:
    return [r.method for r in system.exchange.requests].count("DELETE")


def _outcomes(report: dict) -> dict[str, str]:
    return {r["orderId"]: r["outcome"] for r in report["results"]}


def test_timers_when_live_order_rests_past_the_stale_timeout_then_cancelled_at_kalshi_even_in_halt(system: System):
    _, order_id = resting_live_order(system, "tm-stale")
    system.container.breaker.transition("HALT", "drill", "operator")  # cancelling stale orders reduces risk

    head = system.head()
    at_timeout = _tick(system, 300)  # at exactly the timeout the order is still on time
    assert at_timeout["results"] == [] and system.head() == head and _deletes(system) == 0

    report = _tick(system, 301)
    assert _outcomes(report) == {order_id: "cancelled_at_venue"}
    assert (report["cancelled"], report["riskTimeouts"], report["left"]) == (1, 0, [])
    assert system.order(order_id).state == S.CANCELLED
    assert _venue_order(system, order_id)["status"] == "canceled" and _deletes(system) == 1
    row = trade_row(system, order_id)  # the trade view shows Kalshi's answer, not "submitted"
    assert (row["status"], row["order_id"]) == ("cancelled", _venue_order(system, order_id)["order_id"])
    history = system.container.orders.history(order_id)
    assert any(type(e).__qualname__.endswith("CancelRequested") for e in history)

    head = system.head()
    again = _tick(system, 400)  # a later tick: nothing twice
    assert again["results"] == [] and system.head() == head and _deletes(system) == 1


def _partial(system: System, sid: str, filled: int) -> str:
    """A resting LIVE order of 40 with ``filled`` contracts executed at Kalshi (and recorded by us) at +60 s."""
    _, order_id = resting_live_order(system, sid)
    venue = _venue_order(system, order_id)
    venue.update(fill_count=filled, remaining_count=venue["initial_count"] - filled)
    order = system.order(order_id)
    order.record_fill(filled, float(venue["yes_price"]), NOW + timedelta(seconds=60))
    system.container.orders.save(order)
    assert order.state == S.PARTIAL_FILL
    return order_id


def test_timers_when_partial_fill_below_min_fill_pct_then_remainder_cancelled_else_kept_working(system: System):
    thin = _partial(system, "tm-thin", 10)  # 25 % of 40: below min_fill_pct
    _at(system, 10)  # the strategy's order spacing
    thick = _partial(system, "tm-thick", 20)  # exactly 50 %: enough, keeps working until the venue expires it
    assert _tick(system, 300)["results"] == []
    assert _outcomes(_tick(system, 301)) == {thin: "cancelled_at_venue"}
    order = system.order(thin)
    assert (order.state, order.filled_size) == (S.CANCELLED, 10)
    assert _venue_order(system, thin)["status"] == "canceled"
    assert (trade_row(system, thin)["status"], trade_row(system, thin)["fill_count"]) == ("cancelled", 10)
    head = system.head()
    assert _tick(system, 3600)["results"] == [] and system.head() == head and _deletes(system) == 1
    assert system.order(thick).state == S.PARTIAL_FILL and _venue_order(system, thick)["status"] == "resting"


def test_timers_when_venue_cancel_fails_then_left_open_and_retried_next_tick(system: System):
    _, order_id = resting_live_order(system, "tm-fail")
    system.exchange.inject(Fault(status=500, method="DELETE", path_contains="/portfolio/orders/"))
    report = _tick(system, 301)
    assert report["cancelled"] == 0 and [r["orderId"] for r in report["left"]] == [order_id]
    assert report["left"][0]["outcome"].startswith("failed")
    order = system.order(order_id)
    assert order.state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED) and order.cancel_requested_at is not None
    assert _venue_order(system, order_id)["status"] == "resting"  # never marked cancelled while it rests

    retried = _tick(system, 361)  # the cancel request stands: the next tick sends the cancel again
    assert _outcomes(retried) == {order_id: "cancelled_at_venue"} and retried["left"] == []
    assert system.order(order_id).state == S.CANCELLED and _deletes(system) == 2
    assert _venue_order(system, order_id)["status"] == "canceled"
    assert _tick(system, 421)["results"] == [] and _deletes(system) == 2


def test_timers_when_submission_in_doubt_then_looked_up_by_client_order_id_then_cancelled(system: System):
    system.exchange.inject(Fault(status=500, process=True, method="POST", path_contains="/portfolio/orders"))
    _, out = system.live_order("tm-doubt", size=40, move_up_by=3)  # placed at Kalshi, its answer lost
    order = system.order(out.order_id)
    assert order.submission_in_doubt and order.broker_order_id is None
    assert _tick(system, 300)["results"] == []
    assert _outcomes(_tick(system, 301)) == {out.order_id: "cancelled_at_venue"}
    order = system.order(out.order_id)
    assert order.state == S.CANCELLED and not order.submission_in_doubt and order.broker_order_id is not None
    assert _venue_order(system, out.order_id)["status"] == "canceled"


def test_timers_when_live_order_and_no_kalshi_credentials_then_left_open_and_named(uncredentialed: System):
    system = uncredentialed
    _, order_id = resting_live_order(system, "tm-nocreds")  # placed with the test's own venue client
    head = system.head()
    report = _tick(system, 301)
    [left] = report["left"]
    assert left["orderId"] == order_id and "credentials" in left["outcome"] and report["cancelled"] == 0
    assert system.order(order_id).state in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED) and system.head() == head
    assert _venue_order(system, order_id)["status"] == "resting" and _deletes(system) == 0


def _walk(system: System, sid: str, *targets: OrderState, ticker: str | None = None, price: int = 40) -> str:
    order_id = system.pending_order(sid, ticker or system.tradable_ticker(), price)
    order = system.order(order_id)
    for target in targets:
        order.transition(target, "test path", NOW)
    system.container.orders.save(order)
    return order_id


def test_timers_when_paper_order_works_past_the_timeout_then_cancelled_in_the_log_without_kalshi(
        uncredentialed: System):
    system = uncredentialed
    ticker = system.tradable_ticker()
    order_id = _walk(system, "tm-paper", S.PRE_TRADE_CHECK, S.VALIDATING, S.VALIDATED, S.RISK_CHECK,
                     S.RISK_APPROVED, S.SUBMITTING, S.SUBMITTED, ticker=ticker,
                     price=system.exchange.markets[ticker]["yes_ask"])  # working at the market, no venue order id
    assert _tick(system, 300)["results"] == []
    report = _tick(system, 301)
    assert _outcomes(report) == {order_id: "cancelled"} and report["cancelled"] == 1
    assert system.order(order_id).state == S.CANCELLED
    assert {(r.method, r.path) for r in system.exchange.requests} == {("GET", f"/trade-api/v2/markets/{ticker}")}
    head = system.head()
    assert _tick(system, 500)["results"] == [] and system.head() == head


def test_timers_when_risk_check_and_its_retry_unanswered_then_timeout_one_retry_then_cancelled(system: System):
    """The retry asks the governor again at once; it cannot answer without the market (Kalshi does not list it),
    so the order waits in RISK_CHECK for the retry's own 30 s and is then cancelled (ADR 0295)."""
    order_id = _walk(system, "tm-risk", S.PRE_TRADE_CHECK, S.VALIDATING, S.VALIDATED, S.RISK_CHECK,
                     ticker="KXNOT-LISTED")
    assert _tick(system, 30)["results"] == []

    first = _tick(system, 31)
    assert _outcomes(first) == {order_id: "risk_timeout: retry unanswered (market data unavailable: "
                                          "venue_not_found)"} and first["riskTimeouts"] == 1
    order = system.order(order_id)
    assert order.state == S.RISK_CHECK and order.times_entered(S.RISK_TIMEOUT) == 1
    head = system.head()
    assert _tick(system, 31)["results"] == [] and _tick(system, 61)["results"] == []  # the retry's own 30 s
    assert system.head() == head

    second = _tick(system, 62)
    assert _outcomes(second) == {order_id: "risk_timeout: cancelled"}
    order = system.order(order_id)
    assert order.state == S.CANCELLED and order.times_entered(S.RISK_TIMEOUT) == 2
    head = system.head()
    assert _tick(system, 200)["results"] == [] and system.head() == head
    assert [r.method for r in system.exchange.requests] == ["GET"]  # one market read, nothing sent


def _open_market(system: System) -> tuple[str, int]:
    """The fake's tradable market, open for days after NOW (its recorded markets settled): (ticker, ask)."""
    ticker = system.tradable_ticker()
    m = system.exchange.markets[ticker]
    later = (NOW + timedelta(days=5)).isoformat().replace("+00:00", "Z")
    m.update(close_time=later, expected_expiration_time=later, volume_24h=50_000)
    return ticker, m["yes_ask"]


def _waiting_for_risk(system: System, sid: str) -> str:
    """A bonding order of 50 at the ask (>= $10, <= 5 % of capital) left waiting in RISK_CHECK at NOW."""
    ticker, ask = _open_market(system)
    order = Order.create(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=50,
                         max_price=ask, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8)
    for target in (S.PRE_TRADE_CHECK, S.VALIDATING, S.VALIDATED, S.RISK_CHECK):
        order.transition(target, "test path", NOW)
    system.container.orders.save(order)
    return order.order_id


def test_timers_when_risk_check_unanswered_then_the_retry_asks_the_governor_and_execute_carries_it_on(
        system: System):
    """§1.5's automatic retry is answered: the governor is asked again at once (RISK_APPROVED, nothing sent
    from the timer), and the next execute run submits it (paper here); a later tick does nothing."""
    order_id = _waiting_for_risk(system, "tm-risk-ok")
    report = _tick(system, 31)
    assert _outcomes(report) == {order_id: "risk_timeout: retry answered: RISK_APPROVED"}
    order = system.order(order_id)
    assert order.state == S.RISK_APPROVED and order.times_entered(S.RISK_TIMEOUT) == 1
    assert order.risk_check_result is not None and order.risk_check_result.approved
    assert "POST" not in [r.method for r in system.exchange.requests]
    head = system.head()
    assert _tick(system, 200)["results"] == [] and system.head() == head

    system.project("orders")
    done = execute_pending(system.container)
    assert done["executed"] == [order_id] and system.order(order_id).state == S.FILLED


def test_timers_when_the_retried_risk_check_is_refused_then_risk_rejected_not_cancelled(system: System):
    """In HALT the governor answers the retry with a refusal: the order is RISK_REJECTED with its violations."""
    order_id = _waiting_for_risk(system, "tm-risk-halt")
    system.container.breaker.transition("HALT", "drill", "operator")
    assert _outcomes(_tick(system, 31)) == {order_id: "risk_timeout: retry answered: RISK_REJECTED"}
    order = system.order(order_id)
    assert order.state == S.RISK_REJECTED and order.last_error
    assert "POST" not in [r.method for r in system.exchange.requests]


def _governor_cannot_read_the_book(system: System, broken: bool) -> None:
    """The risk check's portfolio snapshot reads views.position_exits: without it the governor raises."""
    names = ("position_exits", "position_exits_gone") if broken else ("position_exits_gone", "position_exits")
    with psycopg.connect(system.container.database_url, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE views.{names[0]} RENAME TO {names[1]}")


def _pending_for_execute(system: System, sid: str) -> str:
    """A PENDING bonding order of 50 at the open market's ask, in the orders view for the execute step."""
    ticker, ask = _open_market(system)
    order = Order.create(signal_id=sid, strategy="bonding", ticker=ticker, side="YES", requested_size=50,
                         max_price=ask, now=NOW, signal_model_probability=0.6, signal_edge=0.1,
                         signal_confidence=0.8)
    system.container.orders.save(order)
    system.project("orders")
    return order.order_id


def test_execute_when_the_governor_raises_then_order_waits_in_risk_check_and_the_timers_retry_answers_it(
        system: System):
    """§1.5 (ADR 0319): a risk check the governor could not answer is recorded as RISK_CHECK, not ERROR; nothing is
    submitted; the order timers' one retry asks again and the next execute run carries the approval on."""
    order_id = _pending_for_execute(system, "tm-gov-raises")
    _governor_cannot_read_the_book(system, broken=True)
    done = execute_pending(system.container)
    assert done["executed"] == [] and [e["orderId"] for e in done["errors"]] == [order_id]
    order = system.order(order_id)
    assert order.state == S.RISK_CHECK and order.times_entered(S.ERROR) == 0
    assert order.last_error and "not answered" in order.last_error and order.risk_check_result is None
    assert "POST" not in [r.method for r in system.exchange.requests]

    _governor_cannot_read_the_book(system, broken=False)
    assert _tick(system, 30)["results"] == []
    assert _outcomes(_tick(system, 31)) == {order_id: "risk_timeout: retry answered: RISK_APPROVED"}
    system.project("orders")
    assert execute_pending(system.container)["executed"] == [order_id]
    assert system.order(order_id).state == S.FILLED


def test_execute_when_the_governor_keeps_raising_then_one_retry_then_cancelled_never_submitted(system: System):
    order_id = _pending_for_execute(system, "tm-gov-down")
    _governor_cannot_read_the_book(system, broken=True)
    execute_pending(system.container)
    assert system.order(order_id).state == S.RISK_CHECK
    [first] = _tick(system, 31)["results"]
    assert first["outcome"].startswith("risk_timeout: retry unanswered (")
    assert _outcomes(_tick(system, 62)) == {order_id: "risk_timeout: cancelled"}
    order = system.order(order_id)
    assert order.state == S.CANCELLED and order.times_entered(S.RISK_TIMEOUT) == 2
    assert order.times_entered(S.SUBMITTING) == 0 and "POST" not in [r.method for r in system.exchange.requests]
