"""Execution request handling (trading spec §5.2): may this request reach the venue, and as what?

Rate windows roll *before* they are checked (minute and hour from their window start, the day at
UTC midnight); the source rolled them only on execution, which locked a throttled service out
for good.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from paulp.domain.exact import as_written_decimal
from paulp.domain.execution_orders import (
    MAX_PRICE_CENTS,
    MIN_PRICE_CENTS,
    ExecutionRequest,
    MarketSnapshot,
    VenueOrder,
    to_venue_order,
)
from paulp.domain.execution_policy import ExecutionMode, ExecutionPolicy, check_trading_hours
from paulp.domain.prices import fixed

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
WIDE_SPREAD_CENTS = 10
LOW_VOLUME_CONTRACTS = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MS


def start_of_utc_day_ms(moment: datetime) -> int:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return epoch_ms(day)


def js_number(value: float) -> str:
    """Numbers as the source printed them: integral values without a fraction."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class RateLimitState:
    """Throttle counters; times are epoch milliseconds (0 = never)."""

    orders_this_minute: int = 0
    orders_this_hour: int = 0
    volume_today: int = 0  # cents notional
    last_order_ms: int = 0
    minute_window_start_ms: int = 0
    hour_window_start_ms: int = 0
    day_window_start_ms: int = 0


def initial_rate_state(now: datetime) -> RateLimitState:
    now_ms = epoch_ms(now)
    return RateLimitState(0, 0, 0, 0, now_ms, now_ms, start_of_utc_day_ms(now))


def roll_windows(state: RateLimitState, now: datetime) -> RateLimitState:
    """Reset every window that has elapsed at ``now``."""
    now_ms = epoch_ms(now)
    if now_ms - state.minute_window_start_ms >= MINUTE_MS:
        state = replace(state, orders_this_minute=0, minute_window_start_ms=now_ms)
    if now_ms - state.hour_window_start_ms >= HOUR_MS:
        state = replace(state, orders_this_hour=0, hour_window_start_ms=now_ms)
    day_start = start_of_utc_day_ms(now)
    if state.day_window_start_ms < day_start:
        state = replace(state, volume_today=0, day_window_start_ms=day_start)
    return state


def record_order(state: RateLimitState, notional_cents: int, now: datetime) -> RateLimitState:
    """Count one executed order (notional = requestedSize x maxPrice); rejections never call this."""
    rolled = roll_windows(state, now)
    return replace(
        rolled,
        orders_this_minute=rolled.orders_this_minute + 1,
        orders_this_hour=rolled.orders_this_hour + 1,
        volume_today=rolled.volume_today + notional_cents,
        last_order_ms=epoch_ms(now),
    )


@dataclass(frozen=True)
class ValidationResult:
    valid: bool
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def _limit_errors(request: ExecutionRequest, policy: ExecutionPolicy, state: RateLimitState,
                  now: datetime) -> list[str]:
    errors: list[str] = []
    if state.orders_this_minute >= policy.max_orders_per_minute:
        errors.append(f"Rate limit: {policy.max_orders_per_minute} orders per minute exceeded")
    if state.orders_this_hour >= policy.max_orders_per_hour:
        errors.append(f"Rate limit: {policy.max_orders_per_hour} orders per hour exceeded")
    elapsed = epoch_ms(now) - state.last_order_ms
    if elapsed < policy.min_order_spacing_ms:
        errors.append(f"Order spacing: {js_number(policy.min_order_spacing_ms)}ms required, "
                      f"only {elapsed}ms elapsed")
    if state.volume_today + request.requested_size * request.max_price > policy.max_daily_volume_cents:
        errors.append(f"Daily volume limit: would exceed {policy.max_daily_volume_cents} cents")
    if policy.trading_hours.enabled:
        hours = check_trading_hours(policy.trading_hours, now)
        if not hours.allowed:
            errors.append(f"Outside trading hours: {hours.reason}")
    if not MIN_PRICE_CENTS <= request.max_price <= MAX_PRICE_CENTS:
        errors.append(f"Price {request.max_price} must be between 1-99 cents")
    return errors


def _warnings(market: MarketSnapshot, now: datetime) -> tuple[str, ...]:
    warnings: list[str] = []
    spread = (market.yes_ask or 0) - (market.yes_bid or 0)
    if spread > WIDE_SPREAD_CENTS:
        warnings.append(f"Wide spread: {js_number(spread)} cents")
    volume = market.volume_24h or 0
    if volume < LOW_VOLUME_CONTRACTS:
        warnings.append(f"Low volume: {js_number(volume)} contracts in 24h")
    settles = market.settlement_time or market.close_time or now
    hours_left = (settles - now) / timedelta(hours=1)
    if hours_left < 1:
        warnings.append(f"Market settles in {fixed(hours_left, 1)} hours")
    return tuple(warnings)


def validate_request(
    request: ExecutionRequest, market: MarketSnapshot, policy: ExecutionPolicy, state: RateLimitState,
    now: datetime,
) -> ValidationResult:
    """Every policy check at once (errors accumulate); warnings never block."""
    if policy.mode is ExecutionMode.DISABLED:
        return ValidationResult(False, ("Execution is disabled",), ())
    errors: list[str] = []
    if market.status != "active":
        errors.append(f"Market {market.ticker} is not active (status: {market.status})")
    if market.ticker in policy.blocked_tickers:
        errors.append(f"Ticker {market.ticker} is blocked by policy")
    category = market.category or "unknown"
    if policy.allowed_market_categories and category not in policy.allowed_market_categories:
        errors.append(f"Category {category} not in allowed list")
    if request.requested_size > policy.max_single_order_size:
        errors.append(f"Order size {request.requested_size} exceeds max {policy.max_single_order_size}")
    if request.requested_size <= 0:
        errors.append("Order size must be positive")
    errors += _limit_errors(request, policy, roll_windows(state, now), now)
    return ValidationResult(not errors, tuple(errors), _warnings(market, now))


@dataclass(frozen=True)
class ExecutionDecision:
    """Policy verdict for one request; an approved one carries the venue order to send."""

    approved: bool
    mode: ExecutionMode
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    venue_order: VenueOrder | None
    requires_risk_approval: bool

    @property
    def rejection_reason(self) -> str | None:
        return None if self.approved else "; ".join(self.errors)


def evaluate_execution(
    request: ExecutionRequest, market: MarketSnapshot | None, policy: ExecutionPolicy,
    rate_state: RateLimitState, now: datetime,
) -> ExecutionDecision:
    """Steps 1-2 of §5.2: market lookup and policy validation, then the venue order to submit."""
    if market is None:
        reason = f"Market {request.signal.market_id} not found"
        return ExecutionDecision(False, policy.mode, (reason,), (), None, policy.require_risk_approval)
    result = validate_request(request, market, policy, rate_state, now)
    order = to_venue_order(request, market, policy) if result.valid else None
    return ExecutionDecision(result.valid, policy.mode, result.errors, result.warnings, order,
                             policy.require_risk_approval)


def throttle_wait_ms(state: RateLimitState, policy: ExecutionPolicy, now: datetime) -> float:
    """How long a queued order must wait before the throttle would let it through (0: now; inf: never).

    The order spacing, and a full per-minute or per-hour count until its window rolls over. The queue
    waits this out, or leaves the order for a later run, instead of sending an order that its own
    throttle rejects (§5.2). ``state`` must already be rolled to ``now`` (``roll_windows``).
    """
    now_ms = epoch_ms(now)
    waits = [0.0]
    if state.last_order_ms:
        waits.append(state.last_order_ms + policy.min_order_spacing_ms - now_ms)
    if state.orders_this_minute >= policy.max_orders_per_minute:
        waits.append(state.minute_window_start_ms + MINUTE_MS - now_ms)
    if state.orders_this_hour >= policy.max_orders_per_hour:
        waits.append(state.hour_window_start_ms + HOUR_MS - now_ms)
    return max(waits)


def execution_priority(edge: float, confidence: float) -> int:
    """Queue priority 0..100: half from edge (saturating at 0.20), half from confidence.

    Taken in decimal (ADR 0452): edge 0.09 is 22.5 points and rounds half up to 23 (binary gave 22.499…).
    §0's binary rule is for the cents conversion only."""
    if not (math.isfinite(edge) and math.isfinite(confidence)):
        raise ValueError(f"Priority needs finite edge and confidence, got {edge!r}, {confidence!r}")
    e, c = as_written_decimal(edge), as_written_decimal(confidence)
    return math.floor(min(e / Decimal("0.20"), Decimal(1)) * 50 + c * 50 + Decimal("0.5"))


@dataclass(frozen=True)
class QueuedExecution:
    request: ExecutionRequest
    priority: int
    queued_at: datetime
    retry_count: int = 0
    max_retries: int = 3


def sort_queue(queue: list[QueuedExecution]) -> list[QueuedExecution]:
    """Highest priority first, then first queued."""
    return sorted(queue, key=lambda q: (-q.priority, q.queued_at))


def order_notional(request: ExecutionRequest) -> int:
    return request.requested_size * request.max_price

