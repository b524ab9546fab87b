"""/exec: execution-bridge views per venue (api-and-security §1.4, resolution: mode per strategy).

The mode of each strategy follows its registry status (ADR 0255): the seed table (ADR 0140) until a status
change, LIVE after go-live, DISABLED while halted or disabled; the venue's mode is
the aggregate LIVE > PAPER > DISABLED. A venue without an executor read model reports its strategies'
modes and empty statistics.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api.errors import ApiError, now_iso
from paulp.api.wiring import Container
from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, ExecutionMode, policy_for_mode
from paulp.domain.strategy_registry import StrategyStatus, find_strategy

router = APIRouter(prefix="/exec", tags=["exec"])

VENUES = {"kalshi": "Kalshi", "ibkr": "IBKR"}
# Strategies each venue executes. IBKR places the strategies' hedges (its orders carry ``hedge_strategy``),
# so its mode is that of the same strategies: the reference's "mode as Kalshi" (§7.3), per strategy.
VENUE_STRATEGIES: dict[str, tuple[str, ...]] = {"kalshi": tuple(INITIAL_STRATEGY_MODES),
                                                "ibkr": tuple(INITIAL_STRATEGY_MODES)}


STATUS_MODES = {StrategyStatus.LIVE: ExecutionMode.LIVE, StrategyStatus.PAPER: ExecutionMode.PAPER,
                StrategyStatus.DISABLED: ExecutionMode.DISABLED, StrategyStatus.HALTED: ExecutionMode.DISABLED}


def strategy_modes(request: Request, venue: str) -> dict[str, str]:
    container: Container = request.app.state.container
    modes: dict[str, str] = {}
    for strategy in VENUE_STRATEGIES[venue]:
        info = find_strategy(strategy)
        assert info is not None  # the venue's strategies are the catalogue's
        modes[strategy] = STATUS_MODES[container.strategies.status_of(info)].value
    return modes


def venue_mode(modes: dict[str, str]) -> str:
    for mode in (ExecutionMode.LIVE, ExecutionMode.PAPER):
        if mode.value in modes.values():
            return mode.value
    return ExecutionMode.DISABLED.value


def _policy(mode: str) -> dict[str, Any]:
    p = policy_for_mode(ExecutionMode(mode))
    return {"mode": p.mode.value, "maxOrdersPerMinute": p.max_orders_per_minute,
            "maxOrdersPerHour": p.max_orders_per_hour, "maxDailyVolumeCents": p.max_daily_volume_cents,
            "maxSingleOrderSize": p.max_single_order_size, "tradingHoursEnabled": p.trading_hours.enabled}


async def _modes(request: Request, venue: str, what: str) -> dict[str, str]:
    if venue not in VENUES:
        raise ApiError(404, "Not found", "not_found", path=request.url.path, timestamp=now_iso())
    try:
        return await run_in_threadpool(strategy_modes, request, venue)
    except Exception:
        raise ApiError(500, f"Failed to {what} {VENUES[venue]} execution mode"
                       if what != "get status" else f"Failed to get {VENUES[venue]} execution status",
                       "executor_error") from None


@router.get("/{venue}/mode")
async def get_mode(venue: str, request: Request) -> dict[str, Any]:
    modes = await _modes(request, venue, "get")
    return {"mode": venue_mode(modes), "strategies": modes, "timestamp": now_iso()}


@router.get("/{venue}/status")
async def get_status(venue: str, request: Request) -> dict[str, Any]:
    modes = await _modes(request, venue, "get status")
    mode = venue_mode(modes)
    return {"agentName": f"{venue}-executor", "executionMode": mode, "strategies": modes, "policy": _policy(mode),
            "rateLimitState": None, "queueLength": 0, "stats": {"totalOrders": 0, "ordersLastHour": 0}}


@router.post("/{venue}/mode/reload")
async def reload_mode(venue: str, request: Request) -> dict[str, Any]:
    modes = await _modes(request, venue, "reload")
    mode = venue_mode(modes)
    body: dict[str, Any] = {"success": True, "mode": mode, "strategies": modes}
    if venue == "kalshi":
        body["policy"] = _policy(mode)
    return body
