"""The 18 risk invariants (trading §3.3): one pure function each, run in spec order.

Every function returns an :class:`InvariantResult` (the spec asks for the measured value and threshold
of passing checks too); ``result.violation`` is the denial, or None when the check passed.
Percentages and durations are compared in :class:`~decimal.Decimal` built from the inputs' decimal
text, so a boundary the spec calls inclusive (0.07 drawdown vs 7 %) is not lost to binary rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from paulp.domain.exact import as_decimal
from paulp.domain.risk_input import PortfolioSnapshot, RiskRequest
from paulp.domain.risk_limits import RiskLimits
from paulp.domain.risk_results import Conditions, InvariantId, InvariantResult

_MICROSECOND = timedelta(microseconds=1)

Invariant = Callable[[RiskRequest, PortfolioSnapshot, RiskLimits, Conditions], InvariantResult]


def _dec(value: float | None) -> Decimal | None:
    """Exact decimal of the input's shortest text; None for missing or non-finite (fails the check)."""
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return None
    return as_decimal(value)


def _pct(numerator: float | Decimal | None, portfolio_value: float) -> Decimal | None:
    num = numerator if isinstance(numerator, Decimal) else _dec(numerator)
    pv = _dec(portfolio_value)
    if num is None or pv is None or pv <= 0:
        return None  # no positive portfolio value: a share of it is undefined, so the check fails
    return num * 100 / pv


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _upper(iid: InvariantId, actual: Decimal | None, limit: float, what: str, unit: str = "") -> InvariantResult:
    """Pass iff actual ≤ limit (inclusive); an unavailable actual fails."""
    bound = _dec(limit)
    if actual is None or bound is None:
        return InvariantResult(iid, False, None, limit, f"{what} unavailable (limit {_num(limit)}{unit})")
    passed = actual <= bound
    shown = float(actual)
    verb = "within" if passed else "exceeds"
    return InvariantResult(iid, passed, shown, limit, f"{what} {shown:g}{unit} {verb} limit {_num(limit)}{unit}")


def _lower(iid: InvariantId, actual: Decimal | None, limit: float, what: str, unit: str = "") -> InvariantResult:
    """Pass iff actual ≥ limit (inclusive); an unavailable actual fails."""
    bound = _dec(limit)
    if actual is None or bound is None:
        return InvariantResult(iid, False, None, limit, f"{what} unavailable (minimum {_num(limit)}{unit})")
    passed = actual >= bound
    shown = float(actual)
    verb = "meets" if passed else "below"
    return InvariantResult(iid, passed, shown, limit, f"{what} {shown:g}{unit} {verb} minimum {_num(limit)}{unit}")


def _abs_sum(values: list[float]) -> Decimal | None:
    """Σ|v| in decimal (ADR 0452): 5.08 + 2.95 + 1.97 is 10, not binary's 10.000000000000002."""
    total = Decimal(0)
    for v in values:
        dv = _dec(v)
        if dv is None:
            return None  # a non-finite size makes the exposure unknown: the check fails
        total += abs(dv)
    return total


def _plus(*terms: Decimal | None) -> Decimal | None:
    total = Decimal(0)
    for term in terms:
        if term is None:
            return None
        total += term
    return total


def i1_max_position_size(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    actual = _pct(req.size, pf.portfolio_value)
    return _upper(InvariantId.I1_MAX_POSITION_SIZE, actual, lim.max_position_pct, "Position size", "%")


def i2_max_portfolio_concentration(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    same = _abs_sum([p.size for p in pf.positions if p.market_id == req.market_id])
    actual = _pct(_plus(same, _dec(req.size)), pf.portfolio_value)
    return _upper(InvariantId.I2_MAX_PORTFOLIO_CONCENTRATION, actual, lim.max_concentration_pct, "Concentration", "%")


def i3_max_market_exposure(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    iid = InvariantId.I3_MAX_MARKET_EXPOSURE
    if pf.correlated_markets is None:  # lookup failed: exposure is unknown, never assume zero
        return _upper(iid, None, lim.max_market_exposure_pct, "Market exposure (correlation data)", "%")
    direct = _plus(_abs_sum([p.size for p in pf.positions if p.market_id == req.market_id]), _dec(req.size))
    total = None if direct is None else abs(direct)
    for cm in pf.correlated_markets:
        first = next((p for p in pf.positions if p.market_id == cm.market_id), None)
        if first is not None:
            size, score = _dec(first.size), _dec(cm.correlation_score)
            total = _plus(total, None if size is None or score is None else abs(size) * score)
    actual = _pct(total, pf.portfolio_value)
    return _upper(iid, actual, lim.max_market_exposure_pct, "Market exposure incl. correlated", "%")


def i4_max_category_exposure(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    same = _abs_sum([p.size for p in pf.positions if p.category == req.category])
    actual = _pct(_plus(same, _dec(req.size)), pf.portfolio_value)
    return _upper(InvariantId.I4_MAX_CATEGORY_EXPOSURE, actual, lim.max_category_exposure_pct, "Category exposure", "%")


def i5_max_daily_loss(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    actual = _pct(max(0.0, -pf.daily_pnl), pf.portfolio_value)
    return _upper(InvariantId.I5_MAX_DAILY_LOSS, actual, lim.max_daily_loss_pct, "Daily loss", "%")


def i6_max_drawdown(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    dd = _dec(pf.max_drawdown)
    actual = None if dd is None else dd * 100
    return _upper(InvariantId.I6_MAX_DRAWDOWN, actual, lim.max_drawdown_pct, "Drawdown", "%")


def i7_max_weekly_loss(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    actual = _pct(max(0.0, -pf.weekly_pnl), pf.portfolio_value)
    return _upper(InvariantId.I7_MAX_WEEKLY_LOSS, actual, lim.max_weekly_loss_pct, "Weekly loss", "%")


def i8_min_market_liquidity(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    return _lower(InvariantId.I8_MIN_MARKET_LIQUIDITY, _dec(req.volume_24h), lim.min_liquidity, "24h volume")


def i9_max_vpin_toxicity(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    vpin = 0.0 if req.vpin_score is None else req.vpin_score
    return _upper(InvariantId.I9_MAX_VPIN_TOXICITY, _dec(vpin), lim.max_vpin, "VPIN")


def i10_max_spread(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    return _upper(InvariantId.I10_MAX_SPREAD, _dec(req.spread), lim.max_spread, "Spread")


def i11_min_time_to_settlement(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    hours = None
    if req.settlement_date is not None:
        hours = Decimal((req.settlement_date - c.now) // _MICROSECOND) / Decimal(3_600_000_000)
    return _lower(
        InvariantId.I11_MIN_TIME_TO_SETTLEMENT, hours, lim.min_time_to_settlement_hours, "Time to settlement", "h"
    )


def i12_market_equivalence_grade(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    grade = "unavailable" if req.equivalence_unavailable else req.equivalence_grade or "not_evaluated"
    allowed = ", ".join(lim.allowed_equivalence_grades)
    passed = grade == "not_evaluated" or grade in lim.allowed_equivalence_grades  # unread runs fail (ADR 0425)
    verb = "allowed" if passed else "not in"
    return InvariantResult(
        InvariantId.I12_MARKET_EQUIVALENCE_GRADE,
        passed,
        grade,
        allowed,
        f"Equivalence grade {grade} {verb} [{allowed}]",
    )


def i13_max_ambiguity_score(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    score = 0.0 if req.ambiguity_score is None else req.ambiguity_score
    actual = None if req.ambiguity_unavailable else _dec(score)  # unread runs fail, never read as 0 (ADR 0425)
    return _upper(InvariantId.I13_MAX_AMBIGUITY_SCORE, actual, lim.max_ambiguity_score, "Ambiguity score")


def i14_price_staleness(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    age = None
    if req.last_price_update is not None:
        age = Decimal((c.now - req.last_price_update) // _MICROSECOND) / Decimal(1_000_000)
    return _upper(InvariantId.I14_PRICE_STALENESS, age, lim.max_price_staleness_seconds, "Price age", "s")


def i15_order_size_limits(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    iid = InvariantId.I15_ORDER_SIZE_LIMITS
    threshold = f"{_num(lim.min_order_size)} - {_num(lim.max_order_size)}"
    size, lo, hi = _dec(req.size), _dec(lim.min_order_size), _dec(lim.max_order_size)
    if size is None or lo is None or hi is None:
        return InvariantResult(iid, False, None, threshold, "Order size unavailable")
    if size > hi:  # the maximum is checked first, for the message
        return InvariantResult(
            iid, False, req.size, threshold, f"Order size {req.size:g} exceeds maximum {_num(lim.max_order_size)}"
        )
    if size < lo:
        return InvariantResult(
            iid, False, req.size, threshold, f"Order size {req.size:g} below minimum {_num(lim.min_order_size)}"
        )
    return InvariantResult(iid, True, req.size, threshold, f"Order size {req.size:g} within {threshold}")


def i16_circuit_breaker_state(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    passed = c.breaker_state != "HALT"
    message = f"Circuit breaker is {c.breaker_state}" + ("" if passed else ": trading halted")
    return InvariantResult(InvariantId.I16_CIRCUIT_BREAKER_STATE, passed, str(c.breaker_state), "NOT HALT", message)


def i17_system_health(req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions) -> InvariantResult:
    healthy = pf.system_healthy is True
    message = "System healthy" if healthy else "System unhealthy"
    if not healthy and pf.health_detail:
        message += f": {pf.health_detail}"
    return InvariantResult(InvariantId.I17_SYSTEM_HEALTH, healthy, healthy, True, message)


def i18_max_slippage_vs_edge(
    req: RiskRequest, pf: PortfolioSnapshot, lim: RiskLimits, c: Conditions
) -> InvariantResult:
    """No reports (None) or 0 passes with 0 (§3.3); a history that could not be read fails (ADR 0387)."""
    ratio = req.recent_slippage_ratio
    actual = Decimal(0) if ratio is None or ratio == 0 else _dec(ratio)
    if req.recent_slippage_unavailable:
        actual = None
    pct = None if actual is None else actual * 100
    return _upper(InvariantId.I18_MAX_SLIPPAGE_VS_EDGE, pct, lim.slippage_kill_threshold_pct, "Slippage vs edge", "%")


INVARIANTS: tuple[tuple[InvariantId, Invariant], ...] = (
    (InvariantId.I1_MAX_POSITION_SIZE, i1_max_position_size),
    (InvariantId.I2_MAX_PORTFOLIO_CONCENTRATION, i2_max_portfolio_concentration),
    (InvariantId.I3_MAX_MARKET_EXPOSURE, i3_max_market_exposure),
    (InvariantId.I4_MAX_CATEGORY_EXPOSURE, i4_max_category_exposure),
    (InvariantId.I5_MAX_DAILY_LOSS, i5_max_daily_loss),
    (InvariantId.I6_MAX_DRAWDOWN, i6_max_drawdown),
    (InvariantId.I7_MAX_WEEKLY_LOSS, i7_max_weekly_loss),
    (InvariantId.I8_MIN_MARKET_LIQUIDITY, i8_min_market_liquidity),
    (InvariantId.I9_MAX_VPIN_TOXICITY, i9_max_vpin_toxicity),
    (InvariantId.I10_MAX_SPREAD, i10_max_spread),
    (InvariantId.I11_MIN_TIME_TO_SETTLEMENT, i11_min_time_to_settlement),
    (InvariantId.I12_MARKET_EQUIVALENCE_GRADE, i12_market_equivalence_grade),
    (InvariantId.I13_MAX_AMBIGUITY_SCORE, i13_max_ambiguity_score),
    (InvariantId.I14_PRICE_STALENESS, i14_price_staleness),
    (InvariantId.I15_ORDER_SIZE_LIMITS, i15_order_size_limits),
    (InvariantId.I16_CIRCUIT_BREAKER_STATE, i16_circuit_breaker_state),
    (InvariantId.I17_SYSTEM_HEALTH, i17_system_health),
    (InvariantId.I18_MAX_SLIPPAGE_VS_EDGE, i18_max_slippage_vs_edge),
)


def run_invariants(
    req: RiskRequest, pf: PortfolioSnapshot, limits: RiskLimits, conditions: Conditions
) -> tuple[InvariantResult, ...]:
    """All 18 results in spec order (I1..I18), with the limits as given (no breaker scaling)."""
    return tuple(fn(req, pf, limits, conditions) for _, fn in INVARIANTS)
