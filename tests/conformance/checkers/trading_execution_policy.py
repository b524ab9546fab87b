"""trading.json::execution_policy — policies, validation, trading hours, venue orders, paper fills,
priority and rate-limit updates, all against the real execution domain at the file's ``now``.

Interpretation notes (the vectors leave these implicit):
- validation cases build the market from ``market_defaults`` + overrides; venue-order and paper-fill
  cases build it from the overrides alone (the "ask missing defaults 50" case has no quotes), and
  the paper-fill policy is the PAPER policy with the case's ``paperTradeSlippage``.
- ``rate_limit_update`` cases form one sequence: each starts from the state the previous one left
  (the first from ``rate_state_defaults``) unless it gives its own ``state``; a case named for a
  new UTC day moves the day marker to the previous day, as the source's test did, and one named for a new
  minute or hour moves that window's start back by its length (ADR 0476). ``now`` or ``now_offset_ms``
  (the meta's ``*_offset_ms`` convention) is the moment of the update.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from paulp.domain.execution import (
    HOUR_MS,
    MINUTE_MS,
    RateLimitState,
    epoch_ms,
    execution_priority,
    initial_rate_state,
    record_order,
    validate_request,
)
from paulp.domain.execution_orders import (
    ExecutionRequest,
    ExecutionSignal,
    LimitPriceMethod,
    MarketSnapshot,
    Side,
    to_venue_order,
)
from paulp.domain.execution_policy import (
    BlackoutPeriod,
    ExecutionMode,
    ExecutionPolicy,
    TradingHours,
    check_trading_hours,
    customize_policy,
    policy_for_mode,
)
from paulp.domain.paper_fill import paper_fill
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._json_numbers import json_int
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker, without_prose

TOL = 1e-6
SHARED = {"request_defaults", "market_defaults", "rate_state_defaults"}
_POLICY = {
    "maxOrdersPerMinute": "max_orders_per_minute", "maxOrdersPerHour": "max_orders_per_hour",
    "maxDailyVolumeCents": "max_daily_volume_cents", "maxDailyVolume": "max_daily_volume_cents",
    "maxSingleOrderSize": "max_single_order_size", "minOrderSpacingMs": "min_order_spacing_ms",
    "paperTradeSlippageCents": "paper_trade_slippage_cents", "paperTradeSlippage": "paper_trade_slippage_cents",
    "requireRiskApproval": "require_risk_approval", "allowedMarketCategories": "allowed_market_categories",
    "blockedTickers": "blocked_tickers",
}
_HOURS = {"enabled": "enabled", "startHourUTC": "start_hour_utc", "endHourUTC": "end_hour_utc",
          "tradingDays": "trading_days", "blackoutPeriods": "blackout_periods"}
_ORDER_FIELDS = ("ticker", "client_order_id", "side", "action", "count", "type", "yes_price", "no_price")
_LABELS = frozenset({"name", "note"})
# What a case of each section may carry (``source_behaviour`` documents the source's buggy figure and is never
# asserted). A field outside these, a misspelt ``policy_override`` say, would be dropped and the case judged on
# the defaults instead of what it wrote.
_CASE_KEYS = {
    "validation": _LABELS | {"mode", "now", "request_overrides", "market_overrides", "rate_state_overrides",
                             "policy_overrides", "expected"},
    "venue_order_mapping_and_limit_price": _LABELS | {"mode", "request_overrides", "market_overrides",
                                                      "policy_overrides", "expected", "source_behaviour"},
    "paper_fill": _LABELS | {"paperTradeSlippage", "request_overrides", "market_overrides", "expected",
                             "source_behaviour"},
    "priority": _LABELS | {"edge", "confidence", "expected_priority"},
    "rate_limit_update": _LABELS | {"notional", "state", "now", "now_offset_ms", "expected", "source_behaviour"},
}
_VALIDATION_FACTS = frozenset({"valid", "errors", "warnings"})


def _known_case(section: str, case: Any) -> None:
    if section not in _CASE_KEYS:
        return
    assert isinstance(case, dict), f"{section}: a case must be an object, got {type(case).__name__}"
    unknown = set(case) - _CASE_KEYS[section]
    assert not unknown, f"{section}: case fields this checker cannot interpret: {sorted(unknown)}"


def _facts(expected: Any, what: str) -> dict[str, Any]:
    facts = trading_expected(expected)
    assert isinstance(facts, dict) and facts, f"{what} without expected facts would pass vacuously"
    return facts


def _iso(text: str) -> datetime:
    """ISO-8601 text to an aware moment; text without an offset is UTC (§0: every time is UTC), never the host's
    local time, which would move a trading-hours instant by the machine's zone."""
    moment = datetime.fromisoformat(text.split()[0].replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _relative(value: Any, now: datetime) -> datetime | None:
    """'now', 'now+48h', 'now-1000ms', ISO text or epoch ms to a moment."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, now.tzinfo)
    m = re.fullmatch(r"now(?:([+-]\d+(?:\.\d+)?)(ms|s|m|min|h|d))?", str(value).strip())
    if not m:
        return _iso(str(value))
    if m.group(1) is None:
        return now
    unit = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days"}
    return now + timedelta(**{unit[m.group(2)]: float(m.group(1))})


def split(data: Any) -> Iterator[tuple[str, Any]]:
    for section, items in data.items():
        if section in SHARED:
            continue  # defaults the sections below read
        if isinstance(items, dict):
            for key, value in items.items():
                yield f"{section}/{key}", {"section": section, "key": key, "case": value}
        elif isinstance(items, list):
            for i, item in enumerate(items):
                label = item.get("name") if isinstance(item, dict) else None
                yield (f"{section}/{i:03d}" + (f"-{label}" if label else ""),
                       {"section": section, "index": i, "case": item})
        else:
            yield section, {"section": section, "case": items}


def _request(group: dict[str, Any], overrides: dict[str, Any] | None) -> ExecutionRequest:
    """The request in the domain's types: contracts and cents as ints, so ``101.0`` (the JSON number 101, ADR 0486)
    is printed as the reference prints it ("Order size 101 exceeds max 100")."""
    raw = {**group["request_defaults"], **(overrides or {})}
    signal = {**group["request_defaults"]["signal"], **(overrides or {}).get("signal", {})}
    known = {"orderId", "signal", "requestedSize", "maxPrice", "orderType", "source", "limitPriceMethod",
             "timestamp", "timeInForce"}
    assert set(raw) <= known, f"unknown request fields {set(raw) - known}"
    method = raw.get("limitPriceMethod")
    return ExecutionRequest(
        order_id=raw["orderId"],
        signal=ExecutionSignal(signal["marketId"], Side(signal["side"]), signal["modelProbability"],
                               signal["marketPrice"], signal["edge"], signal["confidence"]),
        requested_size=json_int(raw["requestedSize"]), max_price=json_int(raw["maxPrice"]),
        order_type=raw.get("orderType", "limit"),
        source=raw.get("source", ""), limit_price_method=None if method is None else LimitPriceMethod(method),
    )


def _market(raw: dict[str, Any], now: datetime) -> MarketSnapshot:
    known = {"ticker", "status", "yes_bid", "yes_ask", "no_bid", "no_ask", "volume_24h", "settlement",
             "settlement_time", "close_time", "category"}
    assert set(raw) <= known, f"unknown market fields {set(raw) - known}"
    return MarketSnapshot(
        ticker=raw["ticker"], status=raw.get("status", "active"), yes_bid=raw.get("yes_bid"),
        yes_ask=raw.get("yes_ask"), no_bid=raw.get("no_bid"), no_ask=raw.get("no_ask"),
        volume_24h=raw.get("volume_24h"),
        settlement_time=_relative(raw.get("settlement", raw.get("settlement_time")), now),
        close_time=_relative(raw.get("close_time"), now), category=raw.get("category"),
    )


def _hours_changes(raw: dict[str, Any], now: datetime) -> dict[str, Any]:
    assert set(raw) <= set(_HOURS), f"unknown trading-hours fields {set(raw) - set(_HOURS)}"
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "tradingDays":
            value = frozenset(value)
        elif key == "blackoutPeriods":
            value = tuple(BlackoutPeriod(b.get("name", ""), _relative(b["startTime"], now) or now,
                                         _relative(b["endTime"], now) or now, b.get("reason", ""))
                          for b in value)
        out[_HOURS[key]] = value
    return out


def _policy(mode: str, overrides: dict[str, Any] | None, now: datetime) -> ExecutionPolicy:
    base = policy_for_mode(ExecutionMode(mode))
    overrides = dict(overrides or {})
    hours = _hours_changes(overrides.pop("tradingHours", {}) or {}, now)
    unknown = set(overrides) - set(_POLICY)
    assert not unknown, f"unknown policy fields {unknown}"
    changes = {_POLICY[k]: (tuple(v) if isinstance(v, list) else json_int(v)) for k, v in overrides.items()}
    return customize_policy(base, changes, hours)


def _rate_state(raw: dict[str, Any], now: datetime) -> RateLimitState:
    known = {"ordersThisMinute", "ordersThisHour", "volumeToday", "lastOrderTime", "windows_start",
             "minuteWindowStart", "hourWindowStart", "dayWindowStart"}
    assert set(raw) <= known, f"unknown rate-state fields {set(raw) - known}"
    base = initial_rate_state(_relative(raw.get("windows_start", "now"), now) or now)

    def ms(key: str, default: int) -> int:
        if key not in raw:
            return default
        moment = _relative(raw[key], now) if raw[key] != 0 else None
        return 0 if moment is None else epoch_ms(moment)

    return replace(
        base, orders_this_minute=json_int(raw.get("ordersThisMinute", 0)),
        orders_this_hour=json_int(raw.get("ordersThisHour", 0)), volume_today=json_int(raw.get("volumeToday", 0)),
        last_order_ms=ms("lastOrderTime", 0),
        minute_window_start_ms=ms("minuteWindowStart", base.minute_window_start_ms),
        hour_window_start_ms=ms("hourWindowStart", base.hour_window_start_ms),
        day_window_start_ms=ms("dayWindowStart", base.day_window_start_ms),
    )


def _check_policies(key: str, expected: dict[str, Any]) -> None:
    policy = policy_for_mode(ExecutionMode(key))
    for name, value in expected.items():
        if name == "tradingHours":
            hours = policy.trading_hours
            if value == "disabled":
                assert not hours.enabled, "trading hours should be disabled"
                continue
            assert hours.enabled == value.get("enabled", True), "trading hours enabled flag"
            for k, v in value.items():
                actual = getattr(hours, _HOURS[k])
                if k == "tradingDays":
                    actual = sorted(actual)
                elif isinstance(actual, tuple):  # blackout periods: the built-in policies have none ([])
                    actual = list(actual)
                assert actual == v, f"tradingHours.{k}: expected {v!r}, got {actual!r}"
        elif name == "minOrderSpacingMs" and value == "infinite":
            assert math.isinf(policy.min_order_spacing_ms), "DISABLED spacing must be infinite"
        else:
            assert name in _POLICY, f"unknown policy field {name!r}"
            actual = getattr(policy, _POLICY[name])
            if isinstance(actual, tuple):  # list fields (categories, blocked tickers) are tuples in the domain
                actual = list(actual)
            assert actual == value, f"{key}.{name}: expected {value!r}, got {actual!r}"


def _validation(case: dict[str, Any], group: dict[str, Any], now: datetime) -> None:
    now = _relative(case.get("now", "now"), now) or now
    market = _market({**group["market_defaults"], **(case.get("market_overrides") or {})}, now)
    state = _rate_state({**group["rate_state_defaults"], **(case.get("rate_state_overrides") or {})}, now)
    result = validate_request(_request(group, case.get("request_overrides")), market,
                              _policy(case["mode"], case.get("policy_overrides"), now), state, now)
    expected = case["expected"]
    unknown = set(expected) - _VALIDATION_FACTS
    assert not unknown, f"validation: expected fields this checker cannot interpret: {sorted(unknown)}"
    assert expected, "validation: the case expects nothing"
    # each stated fact is checked; a case may state fewer (ADR 0486)
    if "valid" in expected:
        assert result.valid == expected["valid"], f"valid: expected {expected['valid']}, errors {result.errors}"
    if "errors" in expected:
        assert list(result.errors) == expected["errors"], f"errors: expected {expected['errors']}, got {result.errors}"
    if "warnings" in expected:
        assert list(result.warnings) == expected["warnings"], \
            f"warnings: expected {expected['warnings']}, got {result.warnings}"


def _trading_hours(case: dict[str, Any], now: datetime) -> None:
    moment = _relative(case.get("now_utc", "now"), now) or now  # ISO text, epoch ms or "now+25h"
    changes = _hours_changes(case["hours"], now)
    hours = TradingHours(**{"enabled": True, **changes})
    raw = check_trading_hours(hours, moment)
    expected = case["expected"]
    effective = (not hours.enabled) or raw.allowed
    unknown = set(expected) - {"allowed", "reason", "raw_check"}
    assert expected and not unknown, f"trading_hours: expected fields this checker cannot interpret: {expected}"
    if "allowed" in expected:
        assert effective == expected["allowed"], f"allowed: expected {expected['allowed']}, raw check {raw}"
    if "reason" in expected:
        assert raw.reason == expected["reason"], f"reason: expected {expected['reason']!r}, got {raw.reason!r}"
    if "raw_check" in expected:
        want = expected["raw_check"]
        assert isinstance(want, dict) and want and not set(want) - {"allowed", "reason"}, f"raw_check {want!r}"
        got = {"allowed": raw.allowed, "reason": raw.reason}
        assert {k: got[k] for k in want} == want, f"raw check: expected {want}, got {raw}"


def _bare_market(case: dict[str, Any], group: dict[str, Any], now: datetime) -> MarketSnapshot:
    return _market({"ticker": group["market_defaults"]["ticker"], **(case.get("market_overrides") or {})}, now)


def _venue_order(case: dict[str, Any], group: dict[str, Any], now: datetime) -> None:
    policy = _policy(case.get("mode", "PAPER"), case.get("policy_overrides"), now)
    order = to_venue_order(_request(group, case.get("request_overrides")), _bare_market(case, group, now), policy)
    for key, value in _facts(case["expected"], "venue-order case").items():
        assert key in _ORDER_FIELDS, f"unknown venue-order field {key!r}"
        assert getattr(order, key) == value, f"{key}: expected {value!r}, got {getattr(order, key)!r}"


def _paper_fill(case: dict[str, Any], group: dict[str, Any], now: datetime) -> None:
    fill = paper_fill(_request(group, case.get("request_overrides")), _bare_market(case, group, now),
                      case["paperTradeSlippage"], now)
    names = {"side": "side", "action": "action", "count": "count", "fillPrice": "fill_price", "slippage": "slippage",
             "orderId": "order_id", "ticker": "ticker"}
    for key, value in _facts(case["expected"], "paper-fill case").items():
        assert key in names, f"unknown paper-fill field {key!r}"
        assert getattr(fill, names[key]) == value, f"{key}: expected {value!r}, got {getattr(fill, names[key])!r}"


def _rate_sequence(cases: list[dict[str, Any]], upto: int, group: dict[str, Any], now: datetime) -> RateLimitState:
    """State after applying cases[0..upto] in order (see module notes)."""
    state = _rate_state(group["rate_state_defaults"], now)
    for raw in cases[: upto + 1]:
        case = without_prose(raw)  # read from the group, so not yet stripped of annotations like the case itself
        _known_case("rate_limit_update", case)  # an earlier case's stray field changes the state this one starts from
        if "state" in case:
            state = _rate_state({**group["rate_state_defaults"], **case["state"]}, now)
        name = str(case.get("name", ""))
        if re.search(r"\b(?:new|next) utc day\b", name, re.IGNORECASE):
            state = replace(state, day_window_start_ms=state.day_window_start_ms - 86_400_000)
        if re.search(r"\b(?:new|next) (?:utc )?hour\b", name, re.IGNORECASE):  # the hour window elapsed
            state = replace(state, hour_window_start_ms=state.hour_window_start_ms - HOUR_MS)
        if re.search(r"\b(?:new|next) (?:utc )?minute\b", name, re.IGNORECASE):  # the minute window elapsed
            state = replace(state, minute_window_start_ms=state.minute_window_start_ms - MINUTE_MS)
        assert not ("now" in case and "now_offset_ms" in case), f"rate-limit case gives its moment twice: {case}"
        when = f"now{case['now_offset_ms']:+}ms" if "now_offset_ms" in case else case.get("now", "now")
        moment = _relative(when, now) or now
        state = record_order(state, case["notional"], moment)
    return state


def _rate_update(index: int, data: dict[str, Any], group: dict[str, Any], now: datetime) -> None:
    """The state after the sequence up to ``index``, checked against the expectation of the case handed in (the
    one the harness ran, not a re-read of the file)."""
    cases = group["rate_limit_update"]
    state = _rate_sequence(cases, index, group, now)
    names = {"ordersThisMinute": "orders_this_minute", "ordersThisHour": "orders_this_hour",
             "volumeToday": "volume_today"}
    for key, value in _facts(data["expected"], "rate-limit case").items():
        assert key in names, f"unknown rate-state field {key!r}"
        assert getattr(state, names[key]) == value, f"{key}: expected {value}, got {getattr(state, names[key])}"


@checker("trading.json", "execution_policy", split=split)
def check(case: Any, ctx: Context) -> None:
    # the registry strips prose from the wrapper only; the case inside it is stripped here (ADR 0481)
    group, now = ctx.document[ctx.group], conventions.now(ctx)
    section, data = case["section"], without_prose(case["case"])
    _known_case(section, data)
    if section == "policies":
        _check_policies(case["key"], data)
    elif section == "validation":
        _validation(data, group, now)
    elif section == "trading_hours":
        _trading_hours(data, now)
    elif section == "venue_order_mapping_and_limit_price":
        _venue_order(data, group, now)
    elif section == "paper_fill":
        _paper_fill(data, group, now)
    elif section == "priority":
        got = execution_priority(data["edge"], data["confidence"])
        assert got == data["expected_priority"], f"priority: expected {data['expected_priority']}, got {got}"
    elif section == "rate_limit_update":
        _rate_update(case["index"], data, group, now)
    else:
        raise AssertionError(f"no interpreter for execution_policy section {section!r}")
