"""What the live risk check is fed (trading §1.7, §3.1, §5.7), on real PostgreSQL: the portfolio value is the
order's strategy's capital, and its daily and weekly PnL and drawdown come from its positions and closes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import psycopg
import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.adapters.projector import catch_up_from_log
from paulp.domain.clock import FixedClock
from tests.integration.helpers import MARKET, NOW, facts, make_container, signal

TICKERS = ("KXTEST-A", "KXTEST-B", "KXTEST-C", "KXTEST-D")

pytestmark = pytest.mark.integration


@pytest.fixture
def system(fresh_db, nats_url, namespace):
    container = make_container(fresh_db, nats_url, namespace, clock=FixedClock(NOW))
    yield container
    container.close()


def _denied_ids(system, order_id: str) -> list[str]:
    checked = [e for e in system.orders.history(order_id) if type(e).__name__ == "RiskChecked"]
    return list(checked[-1].result["invariantIds"])


def test_portfolio_value_when_bonding_order_is_8pct_of_its_500_usd_then_i1_refuses(system):
    # 100 contracts at 42c = $42: 8.4 % of bonding's $500 (§5.7), though only 0.42 % of $10,000.
    out = system.pipeline(MARKET).process(signal("cap-bond-big", size=100))
    assert out.state == "RISK_REJECTED", out
    assert "I1_MAX_POSITION_SIZE" in _denied_ids(system, out.order_id)
    # 50 contracts = $21 = 4.2 % of $500 passes.
    assert system.pipeline(MARKET).process(signal("cap-bond-ok", "KXTEST-B", size=50)).state == "FILLED"


def test_portfolio_value_when_weather_order_is_7pct_of_its_300_usd_then_i1_refuses(system):
    big = replace(signal("cap-wx-big", size=50), strategy="weather")  # $21 = 7 % of $300
    out = system.pipeline(MARKET).process(big)
    assert out.state == "RISK_REJECTED", out
    assert "I1_MAX_POSITION_SIZE" in _denied_ids(system, out.order_id)
    ok = replace(signal("cap-wx-ok", "KXTEST-B", size=30), strategy="weather")  # $12.60 = 4.2 %
    assert system.pipeline(MARKET).process(ok).state == "FILLED"


def test_portfolio_value_when_strategy_has_no_capital_allocation_then_refused(system):
    out = system.pipeline(MARKET).process(replace(signal("cap-none", size=30), strategy="no_such_strategy"))
    assert out.state == "RISK_REJECTED", out
    assert "I1_MAX_POSITION_SIZE" in _denied_ids(system, out.order_id)


def test_portfolio_value_when_signal_names_the_strategy_type_then_its_strategy_capital(system):
    alias = replace(signal("cap-alias", size=100), strategy="bonding_barbell")  # $42 = 8.4 % of bonding's $500
    out = system.pipeline(MARKET).process(alias)
    assert out.state == "RISK_REJECTED", out
    assert "I1_MAX_POSITION_SIZE" in _denied_ids(system, out.order_id)


# ------------------------------------------------------------------ daily / weekly loss and drawdown (I5-I7)


def _market_at(at: datetime) -> StaticMarketData:
    """The helpers' book, priced 5 s before ``at`` and settling a month later (fresh for I11/I14)."""
    return StaticMarketData({t: replace(facts(t), last_price_update=at - timedelta(seconds=5),
                                        settlement_date=at + timedelta(days=30)) for t in TICKERS})


def _lose(system, clock: FixedClock, tickers: tuple[str, ...]) -> None:
    """Fill 50 bonding contracts at 43c ($21.50) in each market, then each market resolves NO an hour later."""
    for n, ticker in enumerate(tickers):
        clock.set(NOW + n * timedelta(seconds=2))  # paper orders of one strategy at least 1 s apart
        assert system.pipeline(_market_at(clock.now())).process(signal(f"lose-{ticker}", ticker)).state == "FILLED"
    for ticker in tickers:
        assert system.markets.resolve(ticker, "NO", NOW + timedelta(hours=1), None)
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        for name in ("orders", "market_marks"):
            catch_up_from_log(conn, system.projections[name])


def _check(system, clock: FixedClock, at: datetime, sid: str, strategy: str = "bonding") -> tuple[str, list[str]]:
    clock.set(at)
    out = system.pipeline(_market_at(at)).process(replace(signal(sid, "KXTEST-D", size=30), strategy=strategy))
    return out.state, (_denied_ids(system, out.order_id) if out.state == "RISK_REJECTED" else [])



def test_daily_loss_when_strategy_lost_4pct_of_its_capital_today_then_i5_refuses_its_orders(clocked):
    system, clock = clocked
    _lose(system, clock, ("KXTEST-A",))  # -$21.50 = 4.3 % of bonding's $500
    state, ids = _check(system, clock, NOW + timedelta(hours=2), "after-loss")
    assert state == "RISK_REJECTED" and ids == ["I5_MAX_DAILY_LOSS"], ids
    # weather lost nothing: its own book is clean
    assert _check(system, clock, NOW + timedelta(hours=2, seconds=2), "weather-ok", "weather")[0] == "FILLED"
    # next UTC day: yesterday's loss is no longer daily
    assert _check(system, clock, NOW + timedelta(days=1), "next-day")[0] == "FILLED"


def test_weekly_loss_and_drawdown_when_strategy_lost_13pct_then_i7_for_a_week_and_i6_until_recovered(clocked):
    system, clock = clocked
    _lose(system, clock, ("KXTEST-A", "KXTEST-B", "KXTEST-C"))  # -$64.50 = 12.9 % of $500
    state, ids = _check(system, clock, NOW + timedelta(days=2), "two-days-on")
    assert state == "RISK_REJECTED" and ids == ["I6_MAX_DRAWDOWN", "I7_MAX_WEEKLY_LOSS"], ids
    state, ids = _check(system, clock, NOW + timedelta(days=8), "eight-days-on")
    assert state == "RISK_REJECTED" and ids == ["I6_MAX_DRAWDOWN"], ids


# ------------------------------------------------------------------ an approval left unexecuted is checked again


def test_resumed_approval_when_breaker_halted_since_then_second_check_rejects_it(system):
    from paulp.domain.order_values import RiskCheckResult
    from paulp.domain.orders import Order

    order = Order.create(signal_id="approved-then-crash", strategy="bonding", ticker="KXTEST-A", side="YES",
                         requested_size=50, max_price=42, now=NOW)
    order.validate(NOW)
    order.apply_risk_result(RiskCheckResult(approved=True, input_hash="0" * 64), NOW)
    system.orders.save(order)  # a run approved it and stopped before executing it
    system.breaker.transition("HALT", "rollback drill", "operator")
    out = system.pipeline(MARKET).advance(order.order_id)
    assert out.state == "REJECTED", out
    assert out.last_error is not None and out.last_error.startswith("Risk check failed: ")
    assert "Circuit breaker is HALT" in out.last_error
    assert system.breaker.get().consecutive_failures == 1


def test_daily_loss_when_lost_in_paper_then_not_counted_against_the_strategys_live_orders(clocked):
    from paulp.domain.execution_policy import ExecutionMode
    from paulp.domain.services.pipeline import OrderPipeline

    system, clock = clocked
    _lose(system, clock, ("KXTEST-A",))  # -$21.50 paper: 4.3 % of bonding's $500
    at = NOW + timedelta(hours=2)
    clock.set(at)
    live = OrderPipeline(system.orders, system.breaker, system.execution, _market_at(at), system.portfolio(),
                         None, modes={"bonding": ExecutionMode.LIVE})
    out = live.process(signal("live-after-paper-loss", "KXTEST-D", size=30))
    # risk approved (no LIVE loss); refused only later because this test wires no venue
    assert (out.state, out.last_error) == ("REJECTED", "Live venue not configured"), out


def test_exposure_when_markets_resolved_then_their_positions_no_longer_count(clocked):
    system, clock = clocked
    unknown = tuple(f"KXUNK-{n}" for n in range(8))
    book = {t: replace(facts(t), category="unknown", last_price_update=NOW + timedelta(hours=2),
                       settlement_date=NOW + timedelta(days=30)) for t in unknown}
    for n, ticker in enumerate(unknown[:7]):  # 7 x $21.50 = $150.50: 30.1 % of bonding's $500 (I4)
        clock.set(NOW + n * timedelta(seconds=2))
        out = system.pipeline(StaticMarketData({ticker: replace(book[ticker], last_price_update=clock.now())}))
        assert out.process(signal(f"unk-{ticker}", ticker)).state == "FILLED"
        assert system.markets.resolve(ticker, "YES", NOW + timedelta(minutes=30), None)  # settled: no exposure
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        for name in ("orders", "market_marks"):
            catch_up_from_log(conn, system.projections[name])
    clock.set(NOW + timedelta(hours=2))
    out = system.pipeline(StaticMarketData(book)).process(signal("unk-after", unknown[7], size=30))
    assert out.state == "FILLED", (out, _denied_ids(system, out.order_id))
