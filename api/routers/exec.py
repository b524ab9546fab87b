"""/exec: execution-bridge views per venue (api-and-security §1.4, resolution: mode per strategy).

The mode of each strategy is the container's one table (``Container.execution_modes``, ADR 0402): its registry
status (ADR 0255) as a mode, LIVE after go-live, DISABLED while halted or disabled; the venue's mode is
the aggregate LIVE > PAPER > DISABLED. A venue without an executor read model reports its strategies'
modes and empty statistics.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from paulp.api.errors import ApiError, now_iso
from paulp.api.wiring import Container
from paulp.domain.execution_policies import policy_json
from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, ExecutionMode

router = APIRouter(prefix="/exec", tags=["exec"])

VENUES = {"kalshi": "Kalshi", "ibkr": "IBKR"}
# Strategies each venue executes. IBKR places the strategies' hedges (its orders carry ``hedge_strategy``),
# so its mode is that of the same strategies: the reference's "mode as Kalshi" (§7.3), per strategy.
VENUE_STRATEGIES: dict[str, tuple[str, ...]] = {"kalshi": tuple(INITIAL_STRATEGY_MODES),
                                                "ibkr": tuple(INITIAL_STRATEGY_MODES)}


def strategy_modes(request: Request, venue: str) -> dict[str, str]:
    """Each of the venue's strategies' mode from the container's one table (ADR 0402), as the pipeline reads it."""
    container: Container = request.app.state.container
    modes = container.execution_modes()
    return {strategy: modes[strategy].value for strategy in VENUE_STRATEGIES[venue]}


def venue_mode(modes: dict[str, str]) -> str:
    for mode in (ExecutionMode.LIVE, ExecutionMode.PAPER):
        if mode.value in modes.values():
            return mode.value
    return ExecutionMode.DISABLED.value


def strategy_policies(request: Request, modes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each strategy's policy in force in its mode (operator changes included, ADR 0380): ``policyJson`` form."""
    container: Container = request.app.state.container
    return {s: policy_json(container.execution_policy(s, ExecutionMode(m))) for s, m in modes.items()}


def venue_policy(policies: dict[str, dict[str, Any]], mode: str) -> dict[str, Any]:
    """The venue's ``policy`` (§1.4, one per executor): that of the first strategy, in catalogue order, giving the
    venue its mode (ADR 0402); every strategy's own policy is under ``policies``."""
    first = next(p for p in policies.values() if p["mode"] == mode)
    return {"mode": first["mode"], "maxOrdersPerMinute": first["maxOrdersPerMinute"],
            "maxOrdersPerHour": first["maxOrdersPerHour"], "maxDailyVolumeCents": first["maxDailyVolume"],
            "maxSingleOrderSize": first["maxSingleOrderSize"],
            "tradingHoursEnabled": first["tradingHours"]["enabled"]}


def _read(request: Request, venue: str, policies: bool) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    modes = strategy_modes(request, venue)
    return modes, strategy_policies(request, modes) if policies else {}


async def _modes(request: Request, venue: str, what: str,
                 policies: bool = False) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    if venue not in VENUES:
        raise ApiError(404, "Not found", "not_found", path=request.url.path, timestamp=now_iso())
    try:
        return await run_in_threadpool(_read, request, venue, policies)
    except Exception:
        raise ApiError(500, f"Failed to {what} {VENUES[venue]} execution mode"
                       if what != "get status" else f"Failed to get {VENUES[venue]} execution status",
                       "executor_error") from None


@router.get("/{venue}/mode")
async def get_mode(venue: str, request: Request) -> dict[str, Any]:
    modes, _ = await _modes(request, venue, "get")
    return {"mode": venue_mode(modes), "strategies": modes, "timestamp": now_iso()}


@router.get("/{venue}/status")
async def get_status(venue: str, request: Request) -> dict[str, Any]:
    modes, policies = await _modes(request, venue, "get status", policies=True)
    mode = venue_mode(modes)
    return {"agentName": f"{venue}-executor", "executionMode": mode, "strategies": modes,
            "policy": venue_policy(policies, mode), "policies": policies,
            "rateLimitState": None, "queueLength": 0, "stats": {"totalOrders": 0, "ordersLastHour": 0}}


@router.post("/{venue}/mode/reload")
async def reload_mode(venue: str, request: Request) -> dict[str, Any]:
    modes, policies = await _modes(request, venue, "reload", policies=venue == "kalshi")
    mode = venue_mode(modes)
    body: dict[str, Any] = {"success": True, "mode": mode, "strategies": modes}
    if venue == "kalshi":
        body["policy"] = venue_policy(policies, mode)
    return body
