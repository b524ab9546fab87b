"""Paper-trading acceptance harness (trading §6.4): walk price paths, grade, and decide GO / NO_GO.

Exits reuse the position-exit rules of ``exits`` but book stops and targets at the trigger level,
as the harness always did. Grade labels follow the normative mapping 1 POOR … 4 EXCELLENT (the
source's average label was off by one).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from paulp.domain.exact import as_written_decimal
from paulp.domain.exits import ExitDecision, ExitPricing, evaluate_exit

GRADE_LABELS = {1: "POOR", 2: "ACCEPTABLE", 3: "GOOD", 4: "EXCELLENT"}
GRADE_SCORES = {label: score for score, label in GRADE_LABELS.items()}
GOOD_GRADES = frozenset({"GOOD", "EXCELLENT"})
UNKNOWN_GRADE = "UNKNOWN"
MIN_WIN_RATE = 50.0
MIN_EXECUTION_QUALITY = 80.0
REQUIRED_SCENARIOS = 8
KILL_SWITCH_EDGE_SHARE = 0.5


class Decision(StrEnum):
    GO = "GO"
    NO_GO = "NO_GO"


@dataclass(frozen=True)
class PricePoint:
    hour: float
    price: float


@dataclass(frozen=True)
class ScenarioOutcome:
    passed: bool
    realized_pnl: float
    execution_grade: str | None = None


@dataclass(frozen=True)
class Gate:
    win_rate: float
    win_rate_met: bool
    pnl: float
    pnl_met: bool
    execution_quality: float
    execution_quality_met: bool
    scenario_pass: int
    scenario_pass_met: bool
    blocking_issues: tuple[str, ...]

    @property
    def phase_d_go(self) -> bool:
        return not self.blocking_issues


@dataclass(frozen=True)
class HarnessSummary:
    passed: int
    failed: int
    total_wins: int
    total_losses: int
    win_rate: float
    total_realized_pnl: float
    avg_execution_grade: str
    gate: Gate

    @property
    def decision(self) -> Decision:
        return Decision.GO if self.gate.phase_d_go else Decision.NO_GO


def grade_label(score: float) -> str:
    """Label of a (possibly averaged) 1..4 grade score, rounded half up."""
    return GRADE_LABELS.get(math.floor(score + 0.5), UNKNOWN_GRADE)


def walk_price_path(entry_price: float, size: float, path: Sequence[PricePoint]) -> ExitDecision | None:
    """First exit along the path; stops and targets book at their trigger level."""
    for point in path:
        decision = evaluate_exit(entry_price, point.price, point.hour, size, ExitPricing.TRIGGER)
        if decision is not None:
            return decision
    return None


def kill_switch_triggered(slippage_cents: float, entry_cents: float, edge_pct: float) -> bool:
    """Slippage as a percent of entry above half the edge (percent) kills the strategy. Judged in decimal on the
    figures as written, multiplied out so no quotient is rounded (ADR 0460): 0.27 cents on 3 is exactly 9 %, half of
    an 18 % edge, which binary put at 9.000000000000002 and killed. Non-finite figures keep the float comparison."""
    figures = (slippage_cents, entry_cents, edge_pct)
    if not all(math.isfinite(v) for v in figures) or entry_cents <= 0:
        return slippage_cents / entry_cents * 100 > KILL_SWITCH_EDGE_SHARE * edge_pct
    slippage, entry, edge = (as_written_decimal(v) for v in figures)
    return slippage * 100 > as_written_decimal(KILL_SWITCH_EDGE_SHARE) * edge * entry


def _average_grade(outcomes: Sequence[ScenarioOutcome]) -> str:
    """Ungraded scenarios count as POOR, as in the source."""
    if not outcomes:
        return GRADE_LABELS[1]
    scores = [GRADE_SCORES.get(o.execution_grade or "", 1) for o in outcomes]
    return grade_label(sum(scores) / len(scores))


def _total_pnl(pnls: Sequence[float]) -> tuple[float, bool]:
    """The total PnL and whether it is ≥ 0, judged on the rows' figures as written: in binary 0.3 - 0.1 - 0.2 is
    below zero. A non-finite figure has no decimal to sum exactly (inf - inf raises there), so the float sum
    judges it: NaN, and inf - inf, fail the gate rather than raising."""
    if not all(math.isfinite(p) for p in pnls):
        total = sum(pnls, 0.0)
        return total, total >= 0
    exact = sum((as_written_decimal(p) for p in pnls), Decimal(0))
    return float(exact), exact >= 0


def summarize(outcomes: Sequence[ScenarioOutcome], required: int = REQUIRED_SCENARIOS) -> HarnessSummary:
    passed = sum(o.passed for o in outcomes)
    wins = sum(o.realized_pnl > 0 for o in outcomes)
    losses = sum(o.realized_pnl < 0 for o in outcomes)
    win_rate = wins / (wins + losses) * 100 if wins + losses else 0.0
    pnl, pnl_met = _total_pnl([o.realized_pnl for o in outcomes])
    good = sum(o.execution_grade in GOOD_GRADES for o in outcomes)
    quality = good / len(outcomes) * 100 if outcomes else 0.0
    issues: list[str] = []
    if win_rate < MIN_WIN_RATE:
        issues.append(f"Win rate {win_rate:.1f}% < {MIN_WIN_RATE:.0f}% minimum")
    if not pnl_met:
        issues.append(f"Total PnL {pnl:.2f} < 0")
    if quality < MIN_EXECUTION_QUALITY:
        issues.append(f"Execution quality {quality:.1f}% < {MIN_EXECUTION_QUALITY:.0f}% minimum")
    if passed < required:
        issues.append(f"Test scenarios: {passed}/{required} passed (minimum: {required}/{required})")
    gate = Gate(
        win_rate, win_rate >= MIN_WIN_RATE, pnl, pnl_met, quality, quality >= MIN_EXECUTION_QUALITY,
        passed, passed >= required, tuple(issues),
    )
    return HarnessSummary(
        passed, len(outcomes) - passed, wins, losses, win_rate, pnl, _average_grade(outcomes), gate
    )
