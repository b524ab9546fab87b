"""One source of a strategy's execution mode and policy (ADR 0402), on real PostgreSQL with the loopback Kalshi
exchange: after a go-live, a halt and a paper status, the container, the pipeline it builds (the execute job's
table is the same call), the order timers, /exec and /admin/strategies all say the same mode and the same
stored policy; a changed stale timeout counts from the timers' next tick."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from paulp.adapters.market_data import StaticMarketData
from paulp.api.order_timers_job import StrategyPolicies, run_order_timers
from paulp.domain.execution_policy import ExecutionMode, mode_for_strategy
from paulp.domain.strategy_registry import StrategyStatus
from tests.integration.helpers import NOW
from tests.integration.kalshi_system import AUTH, System, resting_live_order
from tests.integration.test_capital_allocations import go_live

pytestmark = pytest.mark.integration
M = ExecutionMode
TIMEOUTS = {M.PAPER: 200.0, M.LIVE: 120.0}  # per mode, so the timers' policy shows which mode they applied


def _seen(system: System, strategy: str) -> dict[str, Any]:
    c = system.container
    status = system.client.get("/exec/kalshi/status", headers=AUTH).json()
    detail = system.client.get(f"/admin/strategies/{strategy}", headers=AUTH).json()["executionPolicy"]
    timers = StrategyPolicies(c)(strategy).stale_order_timeout.total_seconds()
    return {
        "container": c.execution_mode(strategy).value,
        "pipeline": mode_for_strategy(strategy, c.pipeline(StaticMarketData({})).modes).value,
        "execute job table": c.execution_modes()[strategy].value,
        "exec status": status["strategies"][strategy],
        "exec status policy": status["policies"][strategy]["mode"],
        "exec mode": system.client.get("/exec/kalshi/mode", headers=AUTH).json()["strategies"][strategy],
        "admin strategy policy": detail["mode"],
        "timers": {v: k.value for k, v in TIMEOUTS.items()}.get(timers, f"default {timers}"),
        "timeouts shown": {status["policies"][strategy]["staleOrderTimeoutSec"], detail["stale_order_timeout_sec"],
                           timers},
    }


def _agree(system: System, strategy: str, mode: ExecutionMode, timeout: float) -> None:
    seen = _seen(system, strategy)
    assert seen.pop("timeouts shown") == {timeout}
    assert seen == dict.fromkeys(seen, mode.value)


def _disabled(system: System, timeout: float) -> None:
    seen = _seen(system, "xv_signal")
    assert seen.pop("timeouts shown") == {timeout}
    assert seen.pop("timers") == f"default {timeout}"  # DISABLED keeps the spec's timers
    assert seen == dict.fromkeys(seen, "DISABLED")


def test_modes_when_go_live_halt_and_paper_then_every_entry_point_agrees(system: System):
    c = system.container
    for mode, seconds in TIMEOUTS.items():
        c.execution_policies.update("xv_signal", mode.value, {"staleOrderTimeoutSec": seconds}, "token:carol", "test")
    disabled = c.execution_policy("xv_signal", M.DISABLED).stale_order_timeout_sec  # not settable: the spec's
    _disabled(system, disabled)

    go_live(system, "xv_signal", 15_000)  # seeded DISABLED: go-live alone makes it LIVE everywhere
    _agree(system, "xv_signal", M.LIVE, TIMEOUTS[M.LIVE])
    assert system.client.get("/exec/kalshi/mode", headers=AUTH).json()["mode"] == "LIVE"

    assert c.strategies.set_status("xv_signal", StrategyStatus.HALTED, "token:carol", "drill").changed
    _disabled(system, disabled)

    assert c.strategies.set_status("xv_signal", StrategyStatus.PAPER, "token:carol", "paper again").changed
    _agree(system, "xv_signal", M.PAPER, TIMEOUTS[M.PAPER])


def test_timers_when_the_stale_timeout_is_shortened_then_the_next_tick_cancels_at_it(system: System):
    system.container.compliance.seed()
    _, order_id = resting_live_order(system, "one-src-stale")
    c = system.container
    mode = c.execution_mode("bonding")  # bonding paper-trades: its order's timers are its PAPER policy's
    c.clock.set(NOW + timedelta(seconds=121))  # type: ignore[attr-defined]
    system.project("orders")
    assert run_order_timers(c)["results"] == []  # the spec's 300 s have not passed

    c.execution_policies.update("bonding", mode.value, {"staleOrderTimeoutSec": 120}, "token:carol", "shorter")
    detail = system.client.get("/admin/strategies/bonding", headers=AUTH).json()["executionPolicy"]
    status = system.client.get("/exec/kalshi/status", headers=AUTH).json()["policies"]["bonding"]
    assert (detail["stale_order_timeout_sec"], status["staleOrderTimeoutSec"], detail["version"]) == (120, 120, 1)
    report = run_order_timers(c)
    assert {r["orderId"]: r["outcome"] for r in report["results"]} == {order_id: "cancelled_at_venue"}
