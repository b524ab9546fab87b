"""Property: the governor never approves a request that breaks a hard (critical) invariant.

The oracle below re-derives the hard invariants straight from the spec table (§3.3, §2.1) in plain
float arithmetic, independently of the governor's code; it only flags breaches that are clear of
float noise, so a disagreement is a real bug, not rounding.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.domain.risk import evaluate
from paulp.domain.risk_input import CorrelatedMarket, PortfolioSnapshot, Position, RiskRequest
from paulp.domain.risk_limits import DEFAULT_LIMITS
from paulp.domain.risk_results import SEVERITY, Severity
from tests.support.hypothesis_scale import examples

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
MARKETS = ["m1", "m2", "m3"]
CATEGORIES = ["politics", "sports"]
SCALE = {  # (position, concentration, order size, daily loss) multipliers per breaker state, §2.1
    "NORMAL": (1.0, 1.0, 1.0, 1.0),
    "CAUTION": (0.5, 0.5, 0.5, 0.5),
    "RECOVERY": (0.75, 0.75, 0.75, 1.0),
    "HALT": (0.0, 0.0, 0.0, 1.0),
}


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a passing value, sometimes (about 1 in 12) a breaching one, so most examples break few rules.

    The pick is a mid-range integer draw: Hypothesis favours boundary values, so 0 or 99 would be too common.
    """
    return st.integers(0, 119).flatmap(lambda i: bad if 50 <= i < 60 else good)


small_money = mostly(st.floats(-100, 100), st.floats(-20000, 20000))
positions = st.lists(
    st.builds(
        Position,
        st.sampled_from(MARKETS),
        st.sampled_from(CATEGORIES),
        mostly(st.floats(-100, 100), st.floats(-3000, 3000)),
    ),
    max_size=3,
).map(tuple)
correlated = st.lists(
    st.builds(CorrelatedMarket, st.sampled_from(MARKETS), st.floats(0, 1), st.just("same_series")), max_size=2
).map(tuple)
requests = st.builds(
    RiskRequest,
    market_id=st.sampled_from(MARKETS),
    size=mostly(st.floats(10, 400), st.floats(min_value=-100, max_value=15000)),
    category=st.sampled_from(CATEGORIES),
    spread=mostly(st.floats(0, 0.005), st.floats(0, 0.02)),
    volume_24h=mostly(st.floats(500, 5000), st.floats(0, 5000)),
    vpin_score=st.none() | st.floats(0, 1),
    ambiguity_score=st.none() | st.floats(0, 1),
    equivalence_grade=mostly(
        st.sampled_from([None, "identical", "near_equivalent", "not_evaluated"]), st.just("different")
    ),
    settlement_date=mostly(st.integers(24 * 3600, 200 * 3600), st.none() | st.integers(-3600, 200 * 3600)).map(
        lambda s: None if s is None else NOW + timedelta(seconds=s)
    ),
    last_price_update=mostly(st.integers(0, 60), st.none() | st.integers(-5, 300)).map(
        lambda s: None if s is None else NOW - timedelta(seconds=s)
    ),
    recent_slippage_ratio=mostly(st.none() | st.floats(0, 0.5), st.floats(0, 1)),
)
portfolios = st.builds(
    PortfolioSnapshot,
    portfolio_value=mostly(st.floats(8000, 20000), st.floats(min_value=-1000, max_value=200000)),
    daily_pnl=small_money,
    weekly_pnl=small_money,
    max_drawdown=mostly(st.floats(0, 0.1), st.floats(0, 0.3)),
    positions=positions,
    correlated_markets=correlated,
    system_healthy=mostly(st.just(True), st.just(False)),
)
states = mostly(st.sampled_from(["NORMAL", "CAUTION", "RECOVERY"]), st.just("HALT"))


def _over(value: float, limit: float) -> bool:
    return value > limit + 1e-9 * max(1.0, abs(limit))


def _under(value: float, limit: float) -> bool:
    return value < limit - 1e-9 * max(1.0, abs(limit))


def clearly_breaks_hard_invariant(req: RiskRequest, pf: PortfolioSnapshot, state: str) -> list[str]:
    lim = DEFAULT_LIMITS
    pos_k, conc_k, order_k, loss_k = SCALE[state]
    broken = []
    pv = pf.portfolio_value
    same = sum(abs(p.size) for p in pf.positions if p.market_id == req.market_id)
    category = sum(abs(p.size) for p in pf.positions if p.category == req.category)
    corr = 0.0
    for c in pf.correlated_markets or ():
        firsts = [p for p in pf.positions if p.market_id == c.market_id]
        corr += abs(firsts[0].size) * c.correlation_score if firsts else 0.0
    if pv <= 0:
        broken += ["I1", "I2", "I3", "I4", "I5", "I7"]  # a share of a non-positive portfolio is undefined
    else:
        shares = {
            "I1": (req.size / pv * 100, lim.max_position_pct * pos_k),
            "I2": ((same + req.size) / pv * 100, lim.max_concentration_pct * conc_k),
            "I3": ((abs(same + req.size) + corr) / pv * 100, lim.max_market_exposure_pct),
            "I4": ((category + req.size) / pv * 100, lim.max_category_exposure_pct),
            "I5": (max(0.0, -pf.daily_pnl) / pv * 100, lim.max_daily_loss_pct * loss_k),
            "I7": (max(0.0, -pf.weekly_pnl) / pv * 100, lim.max_weekly_loss_pct),
        }
        broken += [k for k, (value, limit) in shares.items() if _over(value, limit)]
    if _over(pf.max_drawdown * 100, lim.max_drawdown_pct):
        broken.append("I6")
    if req.settlement_date is None or _under((req.settlement_date - NOW).total_seconds() / 3600, 24):
        broken.append("I11")
    if req.equivalence_grade not in (None, "not_evaluated", "identical", "near_equivalent"):
        broken.append("I12")
    if req.last_price_update is None or _over((NOW - req.last_price_update).total_seconds(), 60):
        broken.append("I14")
    if _over(req.size, lim.max_order_size * order_k) or _under(req.size, lim.min_order_size):
        broken.append("I15")
    if state == "HALT":
        broken.append("I16")
    if not pf.system_healthy:
        broken.append("I17")
    if req.recent_slippage_ratio and _over(req.recent_slippage_ratio * 100, 50):
        broken.append("I18")
    return broken


@settings(max_examples=examples(800), deadline=None)
@given(requests, portfolios, states)
def test_evaluate_when_hard_invariant_clearly_broken_then_never_approved(
    req: RiskRequest, pf: PortfolioSnapshot, state: str
) -> None:
    decision = evaluate(req, pf, DEFAULT_LIMITS, state, NOW)

    broken = clearly_breaks_hard_invariant(req, pf, state)
    if broken:
        assert not decision.approved, f"approved despite {broken}: {decision.to_json()}"
    reported = {v.invariant_id.split("_", 1)[0] for v in decision.violations}
    assert set(broken) <= reported, f"breaches {set(broken) - reported} not reported"


@settings(max_examples=examples(300), deadline=None)
@given(requests, portfolios, states)
def test_evaluate_when_any_inputs_then_approval_means_no_failed_critical_check(
    req: RiskRequest, pf: PortfolioSnapshot, state: str
) -> None:
    decision = evaluate(req, pf, DEFAULT_LIMITS, state, NOW)

    failed_critical = [r for r in decision.results if not r.passed and SEVERITY[r.invariant_id] is Severity.CRITICAL]
    assert decision.approved == (not failed_critical)
    assert len(decision.results) == 18
    assert all(w.severity is Severity.WARNING for w in decision.warnings)
    if state == "HALT":
        assert not decision.approved


@settings(max_examples=examples(200), deadline=None)
@given(requests, portfolios, states)
def test_evaluate_when_only_warning_inputs_vary_then_approval_unchanged(
    req: RiskRequest, pf: PortfolioSnapshot, state: str
) -> None:
    calm = evaluate(req, pf, DEFAULT_LIMITS, state, NOW)

    noisy = replace(req, volume_24h=0.0, vpin_score=1.0, spread=0.5, ambiguity_score=1.0)

    assert evaluate(noisy, pf, DEFAULT_LIMITS, state, NOW).approved == calm.approved
