"""Phase-gate criteria as pure checks (api-and-security §6.2): one function per criterion id over its phase's facts.

A fact the system has no source for arrives as ``Unavailable`` and its criterion fails closed, naming
what is missing; no criterion is a hard-coded pass (§6.2 resolution). Ids, required flags and
thresholds are the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from paulp.domain.gate_facts import (
    GateFacts,
    Phase1Facts,
    Phase2Facts,
    Phase3Facts,
    Phase4Facts,
    ResolvedOrder,
    Unavailable,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    passed: bool
    actual: Any
    expected: Any
    message: str


def _missing(fact: Unavailable, expected: Any) -> Check:
    return Check(False, None, expected, f"Not verifiable: {fact.missing}")


def at_least(value: int | Unavailable, minimum: int, what: str) -> Check:
    if isinstance(value, Unavailable):
        return _missing(value, f">= {minimum}")
    return Check(value >= minimum, value, f">= {minimum}", f"{value} {what} (need at least {minimum})")


def more_than_zero(value: int | Unavailable, what: str) -> Check:
    if isinstance(value, Unavailable):
        return _missing(value, "> 0")
    return Check(value > 0, value, "> 0", f"{value} {what}")


def all_present(items: Mapping[str, str | None], what: str) -> Check:
    """Every entry maps to None (no problem); an empty catalogue fails."""
    problems = {k: v for k, v in items.items() if v is not None}
    if not items:
        return Check(False, 0, "all valid", f"no {what} found")
    if problems:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        return Check(False, f"{len(items) - len(problems)}/{len(items)}", "all valid", f"{what}: {detail}")
    return Check(True, f"{len(items)}/{len(items)}", "all valid", f"all {len(items)} {what} valid")


# ----------------------------------------------------------------- phase 1


def _p1_compliance(f: Phase1Facts) -> Check:
    return more_than_zero(f.compliance_sources, "sources in the compliance matrix")


def _p1_slo(f: Phase1Facts) -> Check:
    if isinstance(f.slo_document, Unavailable):
        return _missing(f.slo_document, "present")
    return Check(f.slo_document, f.slo_document, True, "SLO document present" if f.slo_document else "no SLOs")


# ----------------------------------------------------------------- phase 2

BACKTEST_DP = 4


def _p2_backtest(f: Phase2Facts) -> Check:
    values = f.backtest_expected_values
    if isinstance(values, Unavailable):
        return _missing(values, "> 0")
    if not values:
        return Check(False, None, "> 0", "no backtests completed in the last 30 days")
    mean = round(sum(values) / len(values), BACKTEST_DP)
    return Check(mean > 0, f"{mean:.{BACKTEST_DP}f}", "> 0",
                 f"mean expected value {mean:.{BACKTEST_DP}f} over {len(values)} backtests")


def kept_pass(observed: object, expected: object, what: str) -> Check:
    """A criterion the reference passes unconditionally and §6.2's resolution does not list among those to
    replace by a real check ("keep ids, required flags and thresholds unchanged"): it passes, and its
    message reports what this system observes, for the operator to read."""
    return Check(True, observed, expected, f"passes as in the reference (not a real check); observed: {what}")


def _p2_scoring(f: Phase2Facts) -> Check:
    v = f.account_scoring_validated
    return kept_pass(None if isinstance(v, Unavailable) else v, True,
                     v.missing if isinstance(v, Unavailable) else f"account scoring validated: {v}")


# ----------------------------------------------------------------- phase 3

REGRESSION_PASS_RATE = 0.9


def _p3_audit(f: Phase3Facts) -> Check:
    a = f.audit
    if a.valid:
        return Check(True, 0, 0, f"chain verified through sequence {a.head_sequence}")
    return Check(False, f"first bad sequence {a.first_bad_sequence}", 0,
                 f"audit chain verification failed at sequence {a.first_bad_sequence}")


def _p3_regression(f: Phase3Facts) -> Check:
    expected = f">= {REGRESSION_PASS_RATE:.0%}"
    runs = f.regression_results_7d
    if isinstance(runs, Unavailable):
        return Check(False, "0%", expected, f"0% (none run): not verifiable: {runs.missing}")
    rate = sum(runs) / len(runs) if runs else 0.0
    return Check(rate >= REGRESSION_PASS_RATE, f"{rate:.1%}", expected,
                 f"{sum(runs)}/{len(runs)} regression tests passed in the last 7 days")


def _p3_adversarial(f: Phase3Facts) -> Check:
    runs = f.adversarial_results
    if isinstance(runs, Unavailable):
        return _missing(runs, "all passed")
    failed = sum(1 for ok in runs if not ok)
    return Check(failed == 0, f"{len(runs) - failed}/{len(runs)}", "all passed",
                 f"{failed} of {len(runs)} prompt_injection/adversarial tests failed")


def breaker_drilled(transitions: Sequence[tuple[str, str]]) -> bool:
    """The breaker went into HALT and later came back to NORMAL through RECOVERY."""
    halted = False
    for src, dst in transitions:
        if dst == "HALT":
            halted = True
        elif halted and (src, dst) == ("RECOVERY", "NORMAL"):
            return True
    return False


def _p3_breaker(f: Phase3Facts) -> Check:
    drilled = breaker_drilled(f.breaker_transitions)
    return kept_pass(len(f.breaker_transitions), "HALT then RECOVERY -> NORMAL",
                     "breaker went HALT -> RECOVERY -> NORMAL" if drilled else
                     "no recorded HALT followed by RECOVERY -> NORMAL in the breaker's history")


def _p3_drift(f: Phase3Facts) -> Check:
    runs = f.reconciliation_runs
    return kept_pass(None if isinstance(runs, Unavailable) else runs, "> 0",
                     runs.missing if isinstance(runs, Unavailable) else f"{runs} reconciliation runs")


def _p3_violations(f: Phase3Facts) -> Check:
    n = f.unresolved_compliance_violations
    if isinstance(n, Unavailable):
        return _missing(n, 0)
    return Check(n == 0, n, 0, f"{n} unresolved compliance violations")


def _p3_evidence(f: Phase3Facts) -> Check:
    sample = f.evidence_sample
    if not sample:
        return Check(False, 0, ">= 1 blob, all re-hash", "no evidence blobs stored")
    bad = [c for c in sample if c.problem is not None]
    if bad:
        detail = "; ".join(f"{c.evidence_hash[:12]}: {c.problem}" for c in bad)
        return Check(False, f"{len(sample) - len(bad)}/{len(sample)}", ">= 1 blob, all re-hash", detail)
    if f.evidence_index:
        shown = "; ".join(f.evidence_index[:5]) + ("; …" if len(f.evidence_index) > 5 else "")
        return Check(False, f"{len(f.evidence_index)} index rows differ from the chain",
                     ">= 1 blob, all re-hash, index matches chain", shown)
    return Check(True, f"{len(sample)}/{len(sample)}", ">= 1 blob, all re-hash",
                 f"newest {len(sample)} evidence blobs re-hash to their names")


# ----------------------------------------------------------------- phase 4

BONDING_WIN_RATE = 0.9
WEATHER_OOS_RATE = 0.55
CAPITAL_CENTS = 80_000


def bonding_wins(orders: Sequence[ResolvedOrder]) -> tuple[int, int]:
    """(wins, known) over filled bonding orders whose PnL is known (resolved YES/NO with a fill price)."""
    wins = known = 0
    for o in orders:
        if "bonding" not in o.strategy.lower() or o.fill_price_cents is None or o.result not in ("YES", "NO"):
            continue
        known += 1
        settled = 100.0 if o.result == o.side.upper() else 0.0
        wins += settled - o.fill_price_cents > 0
    return wins, known


def weather_correct(orders: Sequence[ResolvedOrder]) -> tuple[int, int]:
    """(correct, resolved) over weather orders placed before their market resolved (out of sample)."""
    correct = total = 0
    for o in orders:
        if "weather" not in o.strategy.lower() or o.result not in ("YES", "NO"):
            continue
        if o.created_at is None or o.resolved_at is None or o.created_at >= o.resolved_at:
            continue
        total += 1
        correct += o.result == o.side.upper()
    return correct, total


def _rate(hits: int, total: int, floor: float, what: str) -> Check:
    rate = hits / total if total else 0.0
    return Check(total > 0 and rate >= floor, f"{rate:.1%}", f">= {floor:.0%}", f"{hits}/{total} {what}")


def _p4_bonding(f: Phase4Facts) -> Check:
    return _rate(*bonding_wins(f.resolved_orders), BONDING_WIN_RATE, "filled bonding orders with known PnL won")


def _p4_weather(f: Phase4Facts) -> Check:
    return _rate(*weather_correct(f.resolved_orders), WEATHER_OOS_RATE,
                 "resolved out-of-sample weather predictions correct")


def _p4_sweep(f: Phase4Facts) -> Check:
    allowed = f.latest_sweep_allowed
    if allowed is None:
        return Check(False, None, True, "no LLM drift sweep recorded")
    return Check(allowed, allowed, True, "latest drift sweep allowed deployment" if allowed
                 else "latest drift sweep blocked deployment")


def _p4_capital(f: Phase4Facts) -> Check:
    b = f.balance
    expected = f">= {CAPITAL_CENTS // 100} USD"
    if not b.ok or b.balance_cents is None:
        return Check(False, None, expected, f"venue balance unknown: {b.problem or 'balance call failed'}")
    usd = b.balance_cents / 100
    return Check(b.balance_cents >= CAPITAL_CENTS, usd, expected, f"venue balance {usd:.2f} USD")


def _p4_credentials(f: Phase4Facts) -> Check:
    b = f.balance
    if b.ok:
        return Check(True, True, True, "authenticated Kalshi balance call succeeded")
    return Check(False, False, True, f"authenticated Kalshi balance call failed: {b.problem}")


LIMIT_PCTS = ("maxPositionPct", "maxConcentrationPct", "maxMarketExposurePct", "maxCategoryExposurePct",
              "maxDailyLossPct", "maxDrawdownPct", "maxWeeklyLossPct", "slippageKillThresholdPct")
LIMIT_UNIT = ("maxVpin", "maxAmbiguityScore")
LIMIT_POSITIVE = ("minLiquidity", "maxSpread", "minTimeToSettlementHours", "maxPriceStalenessSeconds",
                  "maxOrderSize", "minOrderSize")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def risk_limit_problems(limits: Mapping[str, Any]) -> list[str]:
    """Every limit present and numeric; percentages in (0, 100], unit scores in (0, 1], sizes ordered."""
    problems: list[str] = []
    values: dict[str, float] = {}
    for name in (*LIMIT_PCTS, *LIMIT_UNIT, *LIMIT_POSITIVE):
        v = _number(limits.get(name))
        if v is None:
            problems.append(f"{name} missing or not a number")
        else:
            values[name] = v
    problems += [f"{n} must be in (0, 100]" for n in LIMIT_PCTS if n in values and not 0 < values[n] <= 100]
    problems += [f"{n} must be in (0, 1]" for n in LIMIT_UNIT if n in values and not 0 < values[n] <= 1]
    problems += [f"{n} must be > 0" for n in LIMIT_POSITIVE if n in values and not values[n] > 0]
    for low, high in (("maxPositionPct", "maxConcentrationPct"), ("maxDailyLossPct", "maxWeeklyLossPct"),
                      ("minOrderSize", "maxOrderSize")):
        if low in values and high in values and values[low] > values[high]:
            problems.append(f"{low} must not exceed {high}")
    if "maxSpread" in values and values["maxSpread"] >= 1:
        problems.append("maxSpread must be < 1")
    grades = limits.get("allowedEquivalenceGrades")
    if not isinstance(grades, list | tuple) or not grades or not all(isinstance(g, str) and g for g in grades):
        problems.append("allowedEquivalenceGrades must be a non-empty list of grades")
    return problems


def _p4_limits(f: Phase4Facts) -> Check:
    problems = risk_limit_problems(f.risk_limits)
    if problems:
        return Check(False, f"{len(problems)} problems", "present and within bounds", "; ".join(problems))
    return Check(True, f"{len(f.risk_limits)} limits", "present and within bounds",
                 "risk limits present and within bounds")


def _p4_monitoring(f: Phase4Facts) -> Check:
    m = f.monitoring
    idle = sorted(name for name, at in m.projections.items() if at is None)
    return kept_pass(f"{len(m.projections) - len(idle)}/{len(m.projections)}", "all projections running",
                     f"projections never run: {', '.join(idle) or 'none'}; dead letters: {m.dead_letters}")


def _f1(check: Callable[[Phase1Facts], Check]) -> Callable[[GateFacts], Check]:
    return lambda facts: check(_as(facts, Phase1Facts))


def _f2(check: Callable[[Phase2Facts], Check]) -> Callable[[GateFacts], Check]:
    return lambda facts: check(_as(facts, Phase2Facts))


def _f3(check: Callable[[Phase3Facts], Check]) -> Callable[[GateFacts], Check]:
    return lambda facts: check(_as(facts, Phase3Facts))


def _f4(check: Callable[[Phase4Facts], Check]) -> Callable[[GateFacts], Check]:
    return lambda facts: check(_as(facts, Phase4Facts))


def _as(facts: GateFacts, kind: type[T]) -> T:
    if not isinstance(facts, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(facts).__name__}")
    return facts


CHECKS: dict[str, Callable[[GateFacts], Check]] = {
    "P1_CLV_SIGN_VALIDATION": _f1(lambda f: at_least(f.clv_tests_passed, 5, "passed tests in suite clv")),
    "P1_EVIDENCE_STORE": _f1(lambda f: more_than_zero(f.evidence_fetches_7d, "evidence fetches in the last 7 days")),
    "P1_LLM_REGRESSION_TESTS": _f1(lambda f: at_least(f.regression_cases, 10, "LLM regression test cases defined")),
    "P1_MIGRATIONS_APPLIED": _f1(lambda f: at_least(f.migrations_applied, 10, "schema migrations applied")),
    "P1_SPEC_FILES_EXIST": _f1(lambda f: all_present(f.strategy_specs, "strategy specs")),
    "P1_PROMPT_TEMPLATES_EXIST": _f1(lambda f: all_present(f.prompt_templates, "prompt templates")),
    "P1_COMPLIANCE_MATRIX": _f1(_p1_compliance),
    "P1_SLO_DEFINED": _f1(_p1_slo),
    "P2_BONDING_PAPER_TRADING": _f2(lambda f: at_least(f.bonding_paper_orders, 10, "PAPER bonding orders")),
    "P2_WEATHER_PAPER_TRADING": _f2(lambda f: at_least(f.weather_paper_orders, 10, "PAPER weather orders")),
    "P2_17_INVARIANTS_TESTED": _f2(lambda f: at_least(f.risk_invariant_tests_passed, 17,
                                                      "passed tests in suite risk_invariants")),
    "P2_BACKTEST_QUALITY": _f2(_p2_backtest),
    "P2_ACCOUNT_SCORING_VALIDATED": _f2(_p2_scoring),
    "P2_ORDER_LIFECYCLE_COMPLETE": _f2(lambda f: more_than_zero(f.filled_orders, "filled orders")),
    "P2_MARKET_PAIRING_WORKING": _f2(lambda f: more_than_zero(f.approved_equivalent_pairs,
                                                              "approved identical/near_equivalent pairs")),
    "P3_AUDIT_CHAIN_INTEGRITY": _f3(_p3_audit),
    "P3_LLM_REGRESSION_90PCT": _f3(_p3_regression),
    "P3_ADVERSARIAL_TESTS_PASS": _f3(_p3_adversarial),
    "P3_CIRCUIT_BREAKER_TESTED": _f3(_p3_breaker),
    "P3_POSITION_DRIFT_DETECTION": _f3(_p3_drift),
    "P3_COMPLIANCE_CHECK_PASS": _f3(_p3_violations),
    "P3_EVIDENCE_CHAIN_VERIFIED": _f3(_p3_evidence),
    "P4_BONDING_WIN_RATE_90": _f4(_p4_bonding),
    "P4_WEATHER_OOS_55": _f4(_p4_weather),
    "P4_DRIFT_SWEEP_PASSED": _f4(_p4_sweep),
    "P4_CAPITAL_800_ALLOCATED": _f4(_p4_capital),
    "P4_KALSHI_CREDENTIALS_VALID": _f4(_p4_credentials),
    "P4_RISK_LIMITS_CONFIGURED": _f4(_p4_limits),
    "P4_MONITORING_ACTIVE": _f4(_p4_monitoring),
}
