"""Execution policies per strategy and venue (trading §5.1, §9 execution_policies), changed by operators as events.

Each strategy starts on its mode's §5.1 column (``POLICIES``), version 0, with nothing stored, so behaviour is
the constants' until an operator changes something. An update names the mode it changes (PAPER or LIVE: a value
loosened for paper must never reach live by a mode switch) and merges shallowly, the trading-hours object field
by field. DISABLED stays all zeros. Every accepted update bumps ``version`` (ADR 0380).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from dataclasses import replace as dataclass_replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.execution_policy import (
    INITIAL_STRATEGY_MODES,
    BlackoutPeriod,
    ExecutionMode,
    ExecutionPolicy,
    TradingHours,
    policy_for_mode,
)
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.order_values import DEFAULT_POLICY, LifecyclePolicy
from paulp.domain.texts import bounded_text

VENUES = ("kalshi",)  # the only venue orders are sent to
SETTABLE_MODES = (ExecutionMode.PAPER, ExecutionMode.LIVE)
HOURS = "tradingHours"
NAME_MAX, REASON_MAX, LIST_MAX = 200, 2000, 500
# wire name -> (ExecutionPolicy attribute, kind); kinds are checked by ``_value``
FIELDS: Mapping[str, tuple[str, str]] = {
    "maxOrdersPerMinute": ("max_orders_per_minute", "count"),
    "maxOrdersPerHour": ("max_orders_per_hour", "count"),
    "maxDailyVolume": ("max_daily_volume_cents", "count"),
    "maxSingleOrderSize": ("max_single_order_size", "count"),
    "minOrderSpacingMs": ("min_order_spacing_ms", "duration"),
    "paperTradeSlippage": ("paper_trade_slippage_cents", "slippage"),
    "allowedMarketCategories": ("allowed_market_categories", "texts"),
    "blockedTickers": ("blocked_tickers", "texts"),
    "staleOrderTimeoutSec": ("stale_order_timeout_sec", "timeout"),
    "cancelOnPriceMove": ("cancel_on_price_move", "move"),
    "minFillPct": ("min_fill_pct", "fraction"),
    "allowResubmit": ("allow_resubmit", "flag"),
    "maxResubmits": ("max_resubmits", "resubmits"),
    "maxSpreadToTrade": ("max_spread_to_trade", "fraction"),
    "minDepthToTrade": ("min_depth_to_trade", "usd"),
    "maxVpinToTrade": ("max_vpin_to_trade", "fraction"),
    "vpinNormalThreshold": ("vpin_normal_threshold", "fraction"),
    "vpinElevatedEdgeMultiplier": ("vpin_elevated_edge_multiplier", "multiplier"),
    "paperFeeRate": ("paper_fee_rate", "fraction"),
}
STALE_TIMEOUT_MAX_S = 7 * 24 * 3600
RESUBMITS_MAX = 10
HOURS_FIELDS: Mapping[str, str] = {"enabled": "enabled", "startHourUtc": "start_hour_utc",
                                   "endHourUtc": "end_hour_utc", "tradingDays": "trading_days",
                                   "blackoutPeriods": "blackout_periods"}


class InvalidExecutionPolicy(DomainError):
    """Raised when a policy update names an unknown strategy, venue, mode or field, or a value out of bounds."""

    code = "INVALID_EXECUTION_POLICY"


class PolicySource(Protocol):
    def policy_for(self, strategy: str, mode: ExecutionMode) -> ExecutionPolicy:
        """The policy an order of ``strategy`` in ``mode`` is held to now."""
        ...


def policy_strategy(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if name not in INITIAL_STRATEGY_MODES:
        raise InvalidExecutionPolicy(f"unknown strategy {value!r} (known: {', '.join(INITIAL_STRATEGY_MODES)})")
    return name


def policy_venue(value: object) -> str:
    name = value.strip().lower() if isinstance(value, str) else ""
    if name not in VENUES:
        raise InvalidExecutionPolicy(f"unknown venue {value!r} (known: {', '.join(VENUES)})")
    return name


def policy_mode(value: object) -> ExecutionMode:
    name = value.strip().upper() if isinstance(value, str) else ""
    if name == ExecutionMode.DISABLED.value:
        raise InvalidExecutionPolicy("DISABLED's policy is fixed (every limit 0, §1.6); set PAPER or LIVE")
    if name not in {m.value for m in SETTABLE_MODES}:
        raise InvalidExecutionPolicy(f"mode must be PAPER or LIVE, got {value!r}")
    return ExecutionMode(name)


def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value != int(value) or not low <= value <= high:
        raise InvalidExecutionPolicy(f"{name} must be a whole number in [{low}, {high}], got {value!r}")
    return int(value)


def _texts(name: str, value: object) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items) or len(items) > LIST_MAX:
        raise InvalidExecutionPolicy(f"{name} must be a list of at most {LIST_MAX} names, got {value!r}")
    return list(dict.fromkeys(i.strip() for i in items if i.strip()))


def _instant(name: str, value: object) -> str:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidExecutionPolicy(f"{name} must be an ISO-8601 time with a UTC offset, got {value!r}")
    return moment.isoformat()


def _blackouts(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list | tuple) or len(value) > LIST_MAX:
        raise InvalidExecutionPolicy(f"tradingHours.blackoutPeriods must be a list, got {value!r}")
    out = []
    for b in value:
        if not isinstance(b, Mapping) or set(b) != {"name", "start", "end", "reason"}:
            raise InvalidExecutionPolicy("each blackout period is {name, start, end, reason}")
        start, end = _instant("blackout start", b["start"]), _instant("blackout end", b["end"])
        if datetime.fromisoformat(start) > datetime.fromisoformat(end):
            raise InvalidExecutionPolicy(f"blackout {b['name']!r} ends before it starts")
        out.append({"name": _text(b["name"], "blackout name", NAME_MAX), "start": start, "end": end,
                    "reason": _text(b["reason"], "blackout reason", REASON_MAX)})
    return out


def _number(name: str, value: object, low: float, high: float, low_open: bool, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not (low < value if low_open else low <= value) or value > high:
        raise InvalidExecutionPolicy(f"{name} must be {what} in {'(' if low_open else '['}{low}, {high}],"
                                     f" got {value!r}")
    return float(value)


def _value(name: str, kind: str, value: object) -> Any:
    if kind == "timeout":
        return _number(name, value, 0, STALE_TIMEOUT_MAX_S, True, "seconds")
    if kind == "move":
        return _number(name, value, 0, 0.98, True, "a probability move (0.03 = 3 cents)")
    if kind == "fraction":
        return _number(name, value, 0, 1, False, "a fraction")
    if kind == "resubmits":
        return _int(name, value, 0, RESUBMITS_MAX)
    if kind == "flag":
        if not isinstance(value, bool):
            raise InvalidExecutionPolicy(f"{name} must be true or false, got {value!r}")
        return value
    if kind == "count":
        return _int(name, value, 0, 10**12)
    if kind == "usd":
        return _number(name, value, 0, 10**9, False, "US dollars")
    if kind == "multiplier":
        return _number(name, value, 1, 100, False, "a multiplier of at least 1")
    if kind == "slippage":
        return _int(name, value, 0, 98)  # cents; a paper fill is capped at 99
    if kind == "duration":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise InvalidExecutionPolicy(f"{name} must be a finite number of milliseconds >= 0, got {value!r}")
        return value
    return _texts(name, value)


def _hours_value(name: str, value: object) -> Any:
    if name == "enabled":
        if not isinstance(value, bool):
            raise InvalidExecutionPolicy(f"tradingHours.enabled must be true or false, got {value!r}")
        return value
    if name in ("startHourUtc", "endHourUtc"):
        return _int(f"tradingHours.{name}", value, 0 if name == "startHourUtc" else 1,
                    23 if name == "startHourUtc" else 24)
    if name == "tradingDays":
        items = value if isinstance(value, list | tuple) else None
        if items is None:
            raise InvalidExecutionPolicy(f"tradingHours.tradingDays must be a list of 0 (Sunday) .. 6, got {value!r}")
        return sorted({_int("tradingHours.tradingDays[]", d, 0, 6) for d in items})
    return _blackouts(value)


def policy_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """An operator's update with names and values checked; ``tradingHours`` as a partial object."""
    if not changes:
        raise InvalidExecutionPolicy("no policy field to change")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "requireRiskApproval":
            raise InvalidExecutionPolicy("requireRiskApproval is always true: the risk check is never skipped")
        if key == HOURS:
            if not isinstance(value, Mapping) or not value:
                raise InvalidExecutionPolicy("tradingHours must be an object of the fields to change")
            unknown = sorted(set(value) - set(HOURS_FIELDS))
            if unknown:
                raise InvalidExecutionPolicy(f"unknown tradingHours field(s): {', '.join(unknown)} (known:"
                                             f" {', '.join(HOURS_FIELDS)})")
            out[HOURS] = {k: _hours_value(k, v) for k, v in value.items()}
        elif key in FIELDS:
            out[key] = _value(key, FIELDS[key][1], value)
        else:
            raise InvalidExecutionPolicy(f"unknown policy field {key!r} (known: {', '.join([*FIELDS, HOURS])})")
    return out


def apply_overrides(base: ExecutionPolicy, overrides: Mapping[str, Any]) -> ExecutionPolicy:
    """The mode's §5.1 policy with a strategy's stored values over it (shallow; hours field by field)."""
    attrs: dict[str, Any] = {}
    for wire, value in overrides.items():
        if wire in FIELDS:
            attr, kind = FIELDS[wire]
            attrs[attr] = tuple(value) if kind == "texts" else value
    hours = dict(overrides.get(HOURS, {}))
    hour_attrs: dict[str, Any] = {HOURS_FIELDS[k]: v for k, v in hours.items() if k not in ("tradingDays",
                                                                                          "blackoutPeriods")}
    if "tradingDays" in hours:
        hour_attrs["trading_days"] = frozenset(hours["tradingDays"])
    if "blackoutPeriods" in hours:
        hour_attrs["blackout_periods"] = tuple(BlackoutPeriod(b["name"], datetime.fromisoformat(b["start"]),
                                                              datetime.fromisoformat(b["end"]), b["reason"])
                                               for b in hours["blackoutPeriods"])
    return replace(base, trading_hours=replace(base.trading_hours, **hour_attrs), **attrs)


def policy_json(policy: ExecutionPolicy) -> dict[str, Any]:
    """A policy in the spec's names (§5.1), as operators and the view see it."""
    h: TradingHours = policy.trading_hours
    spacing = policy.min_order_spacing_ms
    return {
        "mode": policy.mode.value, "maxOrdersPerMinute": policy.max_orders_per_minute,
        "maxOrdersPerHour": policy.max_orders_per_hour, "maxDailyVolume": policy.max_daily_volume_cents,
        "maxSingleOrderSize": policy.max_single_order_size,
        "minOrderSpacingMs": spacing if math.isfinite(spacing) else "Infinity",
        "tradingHours": {"enabled": h.enabled, "startHourUtc": h.start_hour_utc, "endHourUtc": h.end_hour_utc,
                         "tradingDays": sorted(h.trading_days),
                         "blackoutPeriods": [{"name": b.name, "start": b.start.isoformat(), "end": b.end.isoformat(),
                                              "reason": b.reason} for b in h.blackout_periods]},
        "paperTradeSlippage": policy.paper_trade_slippage_cents, "requireRiskApproval": policy.require_risk_approval,
        "allowedMarketCategories": list(policy.allowed_market_categories),
        "blockedTickers": list(policy.blocked_tickers),
        "staleOrderTimeoutSec": policy.stale_order_timeout_sec, "cancelOnPriceMove": policy.cancel_on_price_move,
        "minFillPct": policy.min_fill_pct, "allowResubmit": policy.allow_resubmit,
        "maxResubmits": policy.max_resubmits, "maxSpreadToTrade": policy.max_spread_to_trade,
        "minDepthToTrade": policy.min_depth_to_trade, "maxVpinToTrade": policy.max_vpin_to_trade,
        "vpinNormalThreshold": policy.vpin_normal_threshold,
        "vpinElevatedEdgeMultiplier": policy.vpin_elevated_edge_multiplier,
        "paperFeeRate": policy.paper_fee_rate,
    }


def lifecycle_policy(policy: ExecutionPolicy) -> LifecyclePolicy:
    """The §1.5 timers an order is held to under ``policy``; the risk-check timer and retries are not per
    strategy (the spec names them only as recommended constants)."""
    return dataclass_replace(DEFAULT_POLICY, stale_order_timeout=timedelta(seconds=policy.stale_order_timeout_sec),
                             cancel_on_price_move=policy.cancel_on_price_move, min_fill_pct=policy.min_fill_pct,
                             allow_resubmit=policy.allow_resubmit, max_resubmits=policy.max_resubmits)


def _text(value: object, field: str, limit: int) -> str:
    return bounded_text(value, field, limit, InvalidExecutionPolicy)


class StrategyExecutionPolicy(Aggregate):
    """One strategy's policy at one venue: per mode, the values an operator set over the §5.1 column."""

    class Registered(Aggregate.Created):
        strategy_id: str
        venue: str

    class Updated(Aggregate.Event):  # trading §9 PolicyUpdated
        strategy_id: str  # the key on every event, so the projection needs no lookup
        venue: str
        mode: str
        changes: dict[str, Any]
        previous: dict[str, Any]
        version: int
        actor: str
        reason: str
        updated_at: datetime

    @staticmethod
    def create_id(strategy_id: str, venue: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"execution-policy/{strategy_id}/{venue}")

    @classmethod
    def register(cls, strategy: object, venue: object) -> StrategyExecutionPolicy:
        row: StrategyExecutionPolicy = cls(strategy_id=policy_strategy(strategy), venue=policy_venue(venue))
        return row

    @event(Registered)
    def __init__(self, strategy_id: str, venue: str) -> None:
        self.strategy_id, self.venue = strategy_id, venue
        self.overrides: dict[str, dict[str, Any]] = {}
        self.policy_version = 0

    def policy(self, mode: ExecutionMode) -> ExecutionPolicy:
        return apply_overrides(policy_for_mode(mode), self.overrides.get(mode.value, {}))

    def update(self, mode: object, changes: Mapping[str, Any], actor: object, reason: object, now: datetime) -> int:
        """Merge the change into the mode's stored values; returns the new version. Nothing changing is refused."""
        m = policy_mode(mode)
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        checked, before = policy_changes(changes), policy_json(self.policy(m))
        real = {k: v for k, v in checked.items() if k != HOURS and before[k] != v}
        hours = {k: v for k, v in checked.get(HOURS, {}).items() if before[HOURS][k] != v}
        if hours:
            real[HOURS] = hours
        if not real:
            raise InvalidExecutionPolicy("nothing changes: every value given is already in force")
        stored = {**self.overrides.get(m.value, {}), **{k: v for k, v in real.items() if k != HOURS}}
        if hours:
            stored[HOURS] = {**stored.get(HOURS, {}), **hours}
        merged = apply_overrides(policy_for_mode(m), stored)
        if merged.vpin_normal_threshold >= merged.max_vpin_to_trade:
            raise InvalidExecutionPolicy(f"vpinNormalThreshold ({merged.vpin_normal_threshold}) must be below"
                                         f" maxVpinToTrade ({merged.max_vpin_to_trade}): flow between them is"
                                         " elevated, at or above the second toxic")
        after = merged.trading_hours
        if after.start_hour_utc >= after.end_hour_utc:
            raise InvalidExecutionPolicy(f"tradingHours.startHourUtc ({after.start_hour_utc}) must be before"
                                         f" endHourUtc ({after.end_hour_utc})")
        previous = {k: before[k] for k in real if k != HOURS}
        if hours:
            previous[HOURS] = {k: before[HOURS][k] for k in hours}
        self._updated(self.strategy_id, self.venue, m.value, real, previous, self.policy_version + 1, who, why, now)
        return self.policy_version

    @event(Updated)
    def _updated(self, strategy_id: str, venue: str, mode: str, changes: dict[str, Any], previous: dict[str, Any],
                 version: int, actor: str, reason: str, updated_at: datetime) -> None:
        stored = {**self.overrides.get(mode, {}), **{k: v for k, v in changes.items() if k != HOURS}}
        if HOURS in changes:
            stored[HOURS] = {**stored.get(HOURS, {}), **changes[HOURS]}
        self.overrides[mode] = stored
        self.policy_version = version
