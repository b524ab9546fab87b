"""What the live risk check is fed (trading §1.7, §3.1, §5.7): the portfolio value is the order's strategy's
capital, on real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paulp.domain.clock import FixedClock
from tests.integration.helpers import MARKET, NOW, make_container, signal

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
