"""Suite ``clv``: CLV sign validation (trading §4.2), run through ``domain/clv.py`` and the order lifecycle.

``CLV = closing - entry`` in the held side's own price space, so a NO buyer's CLV is positive when the NO
price rose; ``clvCents = CLV x 100``; the lifecycle takes the same difference in cents; a closing line of
quality below 0.5 makes the CLV invalid and keeps it out of the statistics. Expected values below are
worked out by hand from those rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from paulp.domain.clv import (
    MarketClass,
    Observation,
    clv_statistics,
    compute_clv,
    estimate_closing_line,
    lifecycle_clv,
)
from paulp.domain.order_states import OrderState
from paulp.domain.orders import Order

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TOLERANCE = 1e-6  # the spec's float tolerance (§0)


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


@dataclass(frozen=True)
class ClvCase:
    """One position's CLV: its sign and size in cents, and whether it is valid."""

    name: str
    side: str
    entry: float
    closing: float
    quality: float | None  # None: the function's default (1.0)
    expected_cents: float
    expected_valid: bool

    def check(self) -> str | None:
        if self.quality is None:
            r = compute_clv(self.entry, self.closing, self.side, MarketClass.WEATHER)
        else:
            r = compute_clv(self.entry, self.closing, self.side, MarketClass.WEATHER, self.quality)
        ok = (_sign(r.clv) == _sign(self.expected_cents) and abs(r.clv_cents - self.expected_cents) <= TOLERANCE
              and math.isclose(r.clv * 100, r.clv_cents, abs_tol=TOLERANCE) and r.is_valid is self.expected_valid)
        if ok:
            return None
        return (f"expected {self.expected_cents:+g} cents valid={self.expected_valid}; "
                f"got {r.clv_cents:+.6f} cents (clv {r.clv:+.6f}) valid={r.is_valid}")


@dataclass(frozen=True)
class Check:
    """A case whose procedure does not fit a table row; ``run`` returns None or what differed."""

    name: str
    run: Callable[[], str | None]

    def check(self) -> str | None:
        return self.run()


def _statistics_exclude_invalid() -> str | None:
    """Two valid CLVs (+4c, +2c) and one invalid (-20c at quality 0.3): only the valid two count."""
    results = [compute_clv(0.30, 0.34, "YES", MarketClass.WEATHER),
               compute_clv(0.70, 0.50, "YES", MarketClass.WEATHER, 0.3),
               compute_clv(0.55, 0.57, "NO", MarketClass.WEATHER, 0.8)]
    s = clv_statistics((r.clv, r.is_valid) for r in results)
    got = (s.valid_clv_count, s.invalid_clv_count, s.negative_clv_count, s.positive_clv_count)
    if got != (2, 1, 0, 2) or abs(s.mean_clv_cents - 3.0) > TOLERANCE or s.clv_consistency_score != 1.0:
        return (f"expected valid 2, invalid 1, negative 0, positive 2, mean +3c, consistency 1.0; got valid "
                f"{got[0]}, invalid {got[1]}, negative {got[2]}, positive {got[3]}, mean {s.mean_clv_cents:+.6f}c, "
                f"consistency {s.clv_consistency_score}")
    return None


def _observations(depth: float, mids: tuple[float, ...], resolution: datetime) -> list[Observation]:
    start = resolution - timedelta(minutes=4)
    return [Observation(start + timedelta(seconds=30 * i), mid, depth, depth, 0.02) for i, mid in enumerate(mids)]


def _closing_line_quality(depth: float, expect_valid: bool) -> Callable[[], str | None]:
    """A weather closing line from six observations in its T-5min window; a YES entry at 0.48 against it."""

    def run() -> str | None:
        resolution = NOW + timedelta(hours=1)
        line = estimate_closing_line(_observations(depth, (0.55, 0.56, 0.55, 0.56, 0.55, 0.56), resolution),
                                     MarketClass.WEATHER, resolution)
        r = compute_clv(0.48, line.closing_line_price, "YES", MarketClass.WEATHER, line.quality_score)
        if line.is_valid is expect_valid and r.is_valid is expect_valid:
            return None
        return (f"expected closing line and CLV valid={expect_valid}; got line quality {line.quality_score:.3f} "
                f"valid={line.is_valid}, CLV valid={r.is_valid}")

    return run


def _submitted(side: str) -> Order:
    order = Order.create(signal_id=f"verify-clv-{side.lower()}", strategy="verification", ticker="KXVERIFY-CLV",
                         side=side, requested_size=5, max_price=99, now=NOW)
    for target in (OrderState.VALIDATING, OrderState.VALIDATED, OrderState.RISK_CHECK,
                   OrderState.RISK_APPROVED, OrderState.SUBMITTING, OrderState.SUBMITTED):
        order.transition(target, "verification", NOW)
    return order


def _lifecycle(side: str, fill_cents: int, close_cents: int, expected_cents: float) -> Callable[[], str | None]:
    """An order walked to SUBMITTED and filled with a closing line: its CLV is close - fill, in cents, and
    equals ``clvCents`` of the same prices as probabilities."""

    def run() -> str | None:
        order = _submitted(side)
        order.record_fill(5, fill_cents, NOW, closing_line_price=close_cents)
        as_prob = compute_clv(fill_cents / 100, close_cents / 100, side, MarketClass.WEATHER).clv_cents
        plain = lifecycle_clv(fill_cents, close_cents)
        got = (order.clv, plain, as_prob)
        if order.clv is not None and all(abs(v - expected_cents) <= TOLERANCE for v in (order.clv, plain, as_prob)):
            return None
        return f"expected {expected_cents:+g} cents from order, lifecycle_clv and clvCents; got {got}"

    return run


def _market_line(side: str, fill_cents: int, yes_close: float, quality: float,
                 expected_cents: float | None) -> Callable[[], str | None]:
    """A filled order given its market's closing line as the running system records it (YES-space line, ADR
    0419): the CLV is in the order's own side's cents; an invalid line leaves it without one (None)."""

    def run() -> str | None:
        order = _submitted(side)
        order.record_fill(5, fill_cents, NOW)
        order.record_closing_line(yes_close, quality, quality >= 0.5, "T-5min", "weather", True, NOW, NOW)
        got = order.clv
        if expected_cents is None:
            ok = got is None
        else:
            ok = got is not None and abs(got - expected_cents) <= TOLERANCE
        if ok:
            return None
        return f"expected order CLV {expected_cents}; got {got}"

    return run


CLV_CASES: tuple[ClvCase | Check, ...] = (
    ClvCase("YES favourable: bought 0.42, closed 0.51 -> +9c", "YES", 0.42, 0.51, None, 9.0, True),
    ClvCase("YES unfavourable: bought 0.63, closed 0.58 -> -5c", "YES", 0.63, 0.58, None, -5.0, True),
    ClvCase("YES zero: bought and closed at 0.37 -> 0c", "YES", 0.37, 0.37, None, 0.0, True),
    ClvCase("NO favourable in NO prices: bought NO 0.30, NO closed 0.38 -> +8c", "NO", 0.30, 0.38, None, 8.0, True),
    ClvCase("NO unfavourable in NO prices: bought NO 0.55, NO closed 0.49 -> -6c", "NO", 0.55, 0.49, None, -6.0,
            True),
    ClvCase("NO zero: bought and closed NO at 0.72 -> 0c", "NO", 0.72, 0.72, None, 0.0, True),
    ClvCase("NO is side-native, not YES basis: NO 0.25 -> 0.40 is +15c", "NO", 0.25, 0.40, 0.9, 15.0, True),
    ClvCase("closing-line quality 0.49 makes the CLV invalid (still computed, +5c)", "YES", 0.40, 0.45, 0.49, 5.0,
            False),
    ClvCase("closing-line quality exactly 0.5 is valid", "NO", 0.61, 0.58, 0.5, -3.0, True),
    ClvCase("closing-line quality 0 (no usable line) is invalid", "NO", 0.20, 0.26, 0.0, 6.0, False),
    Check("invalid CLVs are excluded from the statistics", _statistics_exclude_invalid),
    Check("deep, tight closing-line window gives a valid line and CLV", _closing_line_quality(800.0, True)),
    Check("closing-line observations below 50 USD depth give an invalid line and CLV",
          _closing_line_quality(20.0, False)),
    Check("order lifecycle YES: fill 44c, close 49c -> +5c", _lifecycle("YES", 44, 49, 5.0)),
    Check("order lifecycle NO: fill 38c, close 31c (NO prices) -> -7c", _lifecycle("NO", 38, 31, -7.0)),
    Check("market closing line on a YES order: fill 44c, YES line 0.49 -> +5c",
          _market_line("YES", 44, 0.49, 1.0, 5.0)),
    Check("market closing line on a NO order: fill 40c, YES line 0.50 is NO 50c -> +10c",
          _market_line("NO", 40, 0.50, 1.0, 10.0)),
    Check("market closing line of quality 0.3 leaves the order without a CLV",
          _market_line("YES", 44, 0.60, 0.3, None)),
)
