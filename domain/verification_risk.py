"""Suite ``risk_invariants``: cases for each of the 18 invariants (trading §3.3), run through the governor.

Every case is one order put to ``risk.evaluate`` against a fixed clock; its expected verdict is worked out
from the spec's table, not from the code: which critical ids block it and which warning ids it records.
A block (or warn) case moves one input across exactly one limit of a baseline order that passes every
check; the matching pass case puts the same input exactly on the limit (every boundary is inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from paulp.domain.risk import CORRELATION_LOOKUP_ID, RiskDecision, evaluate
from paulp.domain.risk_input import CorrelatedMarket, PortfolioSnapshot, Position, RiskRequest
from paulp.domain.risk_limits import DEFAULT_LIMITS, RiskLimits
from paulp.domain.risk_results import InvariantId as Inv

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the cases are data: time is an input, never the wall clock
MARKET = "VERIFY-MKT"

# 200 USD on 10 000 (2 %): inside every limit, no warning.
BASE = RiskRequest(market_id=MARKET, size=200.0, category="weather", price=0.4, market_price=0.4, spread=0.002,
                   volume_24h=5000.0, vpin_score=0.1, ambiguity_score=0.1, settlement_date=NOW + timedelta(hours=72),
                   last_price_update=NOW - timedelta(seconds=10))
BOOK = PortfolioSnapshot(portfolio_value=10_000.0)


@dataclass(frozen=True)
class RiskVerdict:
    """What the governor decided, reduced to what a case asserts."""

    approved: bool
    violations: frozenset[str] = frozenset()
    warnings: frozenset[str] = frozenset()

    @classmethod
    def of(cls, decision: RiskDecision) -> RiskVerdict:
        return cls(decision.approved, frozenset(v.invariant_id for v in decision.violations),
                   frozenset(w.invariant_id for w in decision.warnings))

    def describe(self) -> str:
        head = "approved" if self.approved else "blocked"
        return (f"{head}, violations [{', '.join(sorted(self.violations))}],"
                f" warnings [{', '.join(sorted(self.warnings))}]")


CLEAN = RiskVerdict(True)


def blocked(*ids: str) -> RiskVerdict:
    return RiskVerdict(False, frozenset(ids))


def warned(*ids: str) -> RiskVerdict:
    return RiskVerdict(True, warnings=frozenset(ids))


@dataclass(frozen=True)
class RiskCase:
    name: str
    invariant: Inv | None  # the invariant the case is about (None: the baseline)
    expected: RiskVerdict
    request: RiskRequest = BASE
    book: PortfolioSnapshot = BOOK
    breaker_state: str = "NORMAL"
    limits: RiskLimits = DEFAULT_LIMITS

    def check(self) -> str | None:
        got = RiskVerdict.of(evaluate(self.request, self.book, self.limits, self.breaker_state, NOW))
        return None if got == self.expected else f"expected {self.expected.describe()}; got {got.describe()}"


def _req(**changes: object) -> RiskRequest:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def _book(**changes: object) -> PortfolioSnapshot:
    return replace(BOOK, **changes)  # type: ignore[arg-type]


def _held(market: str, category: str, size: float) -> tuple[Position, ...]:
    return (Position(market, category, size),)


_CORRELATED = (CorrelatedMarket("VERIFY-CORR", 0.5, "same_series"),)
_BIG_BOOK = _book(portfolio_value=1_000_000.0)  # order-size cases clear of the share-of-portfolio limits

RISK_CASES: tuple[RiskCase, ...] = (
    RiskCase("baseline order inside every limit is approved without warnings", None, CLEAN),
    # I1 position: size / pv x 100 <= 5 (CAUTION halves it)
    RiskCase("I1 blocks 501 USD on 10000 (5.01%)", Inv.I1_MAX_POSITION_SIZE, blocked(Inv.I1_MAX_POSITION_SIZE),
             _req(size=501.0)),
    RiskCase("I1 passes 500 USD on 10000 (exactly 5%)", Inv.I1_MAX_POSITION_SIZE, CLEAN, _req(size=500.0)),
    RiskCase("I1 in CAUTION blocks 2.51% against the halved 2.5% limit", Inv.I1_MAX_POSITION_SIZE,
             blocked(Inv.I1_MAX_POSITION_SIZE), _req(size=251.0), breaker_state="CAUTION"),
    # I2 concentration: (same-market held + size) / pv x 100 <= 10
    RiskCase("I2 blocks 600 held + 401 in the same market (10.01%)", Inv.I2_MAX_PORTFOLIO_CONCENTRATION,
             blocked(Inv.I2_MAX_PORTFOLIO_CONCENTRATION), _req(size=401.0),
             _book(positions=_held(MARKET, "weather", 600.0))),
    RiskCase("I2 passes 600 held + 400 in the same market (exactly 10%)", Inv.I2_MAX_PORTFOLIO_CONCENTRATION,
             CLEAN, _req(size=400.0), _book(positions=_held(MARKET, "weather", 600.0))),
    # I3 market exposure incl. correlated: (direct + held in correlated market x score) / pv x 100 <= 15
    RiskCase("I3 blocks 201 + 2600 held at correlation 0.5 (15.01%)", Inv.I3_MAX_MARKET_EXPOSURE,
             blocked(Inv.I3_MAX_MARKET_EXPOSURE), _req(size=201.0),
             _book(positions=_held("VERIFY-CORR", "politics", 2600.0), correlated_markets=_CORRELATED)),
    RiskCase("I3 passes 200 + 2600 held at correlation 0.5 (exactly 15%)", Inv.I3_MAX_MARKET_EXPOSURE, CLEAN,
             book=_book(positions=_held("VERIFY-CORR", "politics", 2600.0), correlated_markets=_CORRELATED)),
    RiskCase("I3 correlation lookup failure blocks (fail closed)", Inv.I3_MAX_MARKET_EXPOSURE,
             blocked(CORRELATION_LOOKUP_ID), book=_book(correlated_markets=None)),
    # I4 category: (same-category held + size) / pv x 100 <= 30
    RiskCase("I4 blocks 2800 held in the category + 201 (30.01%)", Inv.I4_MAX_CATEGORY_EXPOSURE,
             blocked(Inv.I4_MAX_CATEGORY_EXPOSURE), _req(size=201.0),
             _book(positions=_held("VERIFY-OTHER", "weather", 2800.0))),
    RiskCase("I4 passes 2800 held in the category + 200 (exactly 30%)", Inv.I4_MAX_CATEGORY_EXPOSURE, CLEAN,
             book=_book(positions=_held("VERIFY-OTHER", "weather", 2800.0))),
    # I5 daily loss: max(0, -dailyPnL) / pv x 100 <= 3
    RiskCase("I5 blocks a 301 USD daily loss (3.01%)", Inv.I5_MAX_DAILY_LOSS, blocked(Inv.I5_MAX_DAILY_LOSS),
             book=_book(daily_pnl=-301.0)),
    RiskCase("I5 passes a 300 USD daily loss (exactly 3%)", Inv.I5_MAX_DAILY_LOSS, CLEAN, book=_book(daily_pnl=-300.0)),
    # I6 drawdown: maxDrawdown x 100 <= 10
    RiskCase("I6 blocks drawdown 0.1001 (10.01%)", Inv.I6_MAX_DRAWDOWN, blocked(Inv.I6_MAX_DRAWDOWN),
             book=_book(max_drawdown=0.1001)),
    RiskCase("I6 passes drawdown 0.10 (exactly 10%)", Inv.I6_MAX_DRAWDOWN, CLEAN, book=_book(max_drawdown=0.10)),
    # I7 weekly loss: max(0, -weeklyPnL) / pv x 100 <= 7
    RiskCase("I7 blocks a 701 USD weekly loss (7.01%)", Inv.I7_MAX_WEEKLY_LOSS, blocked(Inv.I7_MAX_WEEKLY_LOSS),
             book=_book(weekly_pnl=-701.0)),
    RiskCase("I7 passes a 700 USD weekly loss (exactly 7%)", Inv.I7_MAX_WEEKLY_LOSS, CLEAN,
             book=_book(weekly_pnl=-700.0)),
    # I8 liquidity (warn): volume24h >= 500
    RiskCase("I8 warns on 499.99 USD 24h volume, order approved", Inv.I8_MIN_MARKET_LIQUIDITY,
             warned(Inv.I8_MIN_MARKET_LIQUIDITY), _req(volume_24h=499.99)),
    RiskCase("I8 passes 500 USD 24h volume (exactly the minimum)", Inv.I8_MIN_MARKET_LIQUIDITY, CLEAN,
             _req(volume_24h=500.0)),
    # I9 VPIN (warn): vpin (missing = 0) <= 0.5
    RiskCase("I9 warns on VPIN 0.501, order approved", Inv.I9_MAX_VPIN_TOXICITY, warned(Inv.I9_MAX_VPIN_TOXICITY),
             _req(vpin_score=0.501)),
    RiskCase("I9 passes VPIN 0.5 (exactly the limit)", Inv.I9_MAX_VPIN_TOXICITY, CLEAN, _req(vpin_score=0.5)),
    # I10 spread (warn): spread <= 0.005
    RiskCase("I10 warns on spread 0.00501, order approved", Inv.I10_MAX_SPREAD, warned(Inv.I10_MAX_SPREAD),
             _req(spread=0.00501)),
    RiskCase("I10 passes spread 0.005 (exactly the limit)", Inv.I10_MAX_SPREAD, CLEAN, _req(spread=0.005)),
    # I11 time to settlement: hours >= 24; a missing settlement date fails
    RiskCase("I11 blocks settlement in 23h59m", Inv.I11_MIN_TIME_TO_SETTLEMENT, blocked(Inv.I11_MIN_TIME_TO_SETTLEMENT),
             _req(settlement_date=NOW + timedelta(hours=23, minutes=59))),
    RiskCase("I11 passes settlement in exactly 24h", Inv.I11_MIN_TIME_TO_SETTLEMENT, CLEAN,
             _req(settlement_date=NOW + timedelta(hours=24))),
    RiskCase("I11 blocks a missing settlement date (fail closed)", Inv.I11_MIN_TIME_TO_SETTLEMENT,
             blocked(Inv.I11_MIN_TIME_TO_SETTLEMENT), _req(settlement_date=None)),
    # I12 equivalence grade: not evaluated, identical or near_equivalent
    RiskCase("I12 blocks grade not_equivalent", Inv.I12_MARKET_EQUIVALENCE_GRADE,
             blocked(Inv.I12_MARKET_EQUIVALENCE_GRADE), _req(equivalence_grade="not_equivalent")),
    RiskCase("I12 passes grade near_equivalent", Inv.I12_MARKET_EQUIVALENCE_GRADE, CLEAN,
             _req(equivalence_grade="near_equivalent")),
    # I13 ambiguity (warn): score (missing = 0) <= 0.4
    RiskCase("I13 warns on ambiguity 0.401, order approved", Inv.I13_MAX_AMBIGUITY_SCORE,
             warned(Inv.I13_MAX_AMBIGUITY_SCORE), _req(ambiguity_score=0.401)),
    RiskCase("I13 passes ambiguity 0.4 (exactly the limit)", Inv.I13_MAX_AMBIGUITY_SCORE, CLEAN,
             _req(ambiguity_score=0.4)),
    # I14 staleness: price age in seconds <= 60; a missing price time fails
    RiskCase("I14 blocks a price 60.5 s old", Inv.I14_PRICE_STALENESS, blocked(Inv.I14_PRICE_STALENESS),
             _req(last_price_update=NOW - timedelta(seconds=60.5))),
    RiskCase("I14 passes a price exactly 60 s old", Inv.I14_PRICE_STALENESS, CLEAN,
             _req(last_price_update=NOW - timedelta(seconds=60))),
    RiskCase("I14 blocks a missing price time (fail closed)", Inv.I14_PRICE_STALENESS, blocked(Inv.I14_PRICE_STALENESS),
             _req(last_price_update=None)),
    # I15 order size: 10 <= size <= 10000 USD
    RiskCase("I15 blocks a 9.99 USD order (below 10)", Inv.I15_ORDER_SIZE_LIMITS, blocked(Inv.I15_ORDER_SIZE_LIMITS),
             _req(size=9.99)),
    RiskCase("I15 passes a 10 USD order (exactly the minimum)", Inv.I15_ORDER_SIZE_LIMITS, CLEAN, _req(size=10.0)),
    RiskCase("I15 blocks a 10001 USD order (above 10000)", Inv.I15_ORDER_SIZE_LIMITS,
             blocked(Inv.I15_ORDER_SIZE_LIMITS), _req(size=10_001.0), _BIG_BOOK),
    RiskCase("I15 passes a 10000 USD order (exactly the maximum)", Inv.I15_ORDER_SIZE_LIMITS, CLEAN,
             _req(size=10_000.0), _BIG_BOOK),
    # I16 breaker: state != HALT. HALT also zeroes the size limits (§2.1), so an order with a size fails those too.
    RiskCase("I16 blocks a zero-size order in HALT (size limits zeroed, minimum 0)", Inv.I16_CIRCUIT_BREAKER_STATE,
             blocked(Inv.I16_CIRCUIT_BREAKER_STATE), _req(size=0.0), breaker_state="HALT",
             limits=replace(DEFAULT_LIMITS, min_order_size=0.0)),
    RiskCase("I16 in HALT blocks a 200 USD order with the zeroed size limits", Inv.I16_CIRCUIT_BREAKER_STATE,
             blocked(Inv.I1_MAX_POSITION_SIZE, Inv.I2_MAX_PORTFOLIO_CONCENTRATION, Inv.I15_ORDER_SIZE_LIMITS,
                     Inv.I16_CIRCUIT_BREAKER_STATE), breaker_state="HALT"),
    RiskCase("I16 passes in CAUTION (not HALT)", Inv.I16_CIRCUIT_BREAKER_STATE, CLEAN, breaker_state="CAUTION"),
    # I17 system health
    RiskCase("I17 blocks when the system is unhealthy", Inv.I17_SYSTEM_HEALTH, blocked(Inv.I17_SYSTEM_HEALTH),
             book=_book(system_healthy=False)),
    RiskCase("I17 passes when the system is healthy", Inv.I17_SYSTEM_HEALTH, CLEAN, book=_book(system_healthy=True)),
    # I18 slippage vs edge: ratio x 100 <= 50; missing reads as 0
    RiskCase("I18 blocks slippage ratio 0.501 (50.1% of edge)", Inv.I18_MAX_SLIPPAGE_VS_EDGE,
             blocked(Inv.I18_MAX_SLIPPAGE_VS_EDGE), _req(recent_slippage_ratio=0.501)),
    RiskCase("I18 passes slippage ratio 0.5 (exactly 50%)", Inv.I18_MAX_SLIPPAGE_VS_EDGE, CLEAN,
             _req(recent_slippage_ratio=0.5)),
)
