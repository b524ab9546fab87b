"""Risk governor (trading §3): run the 18 invariants under breaker-scaled limits and decide.

Deterministic hard control: plain code, no LLM, no I/O. The decision carries the SHA-256 of the
canonical JSON of everything it was computed from, so a denial event can prove its inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paulp.domain.canonical import NonCanonicalValue, canonical_json
from paulp.domain.errors import DomainError
from paulp.domain.risk_input import PortfolioSnapshot, RiskRequest
from paulp.domain.risk_invariants import INVARIANTS, run_invariants
from paulp.domain.risk_limits import RiskLimits, adjusted_limits, check_breaker_state
from paulp.domain.risk_results import Conditions, InvariantId, InvariantResult, Severity, Violation

CORRELATION_LOOKUP_ID = "I3_CORRELATION_LOOKUP"
CORRELATION_LOOKUP_VIOLATION = Violation(
    invariant_id=CORRELATION_LOOKUP_ID,
    name="Correlation Lookup",
    severity=Severity.CRITICAL,
    message="Correlation data unavailable",
)


class InvalidRiskInput(DomainError):
    """Raised when a check's inputs have no canonical form (NaN, infinity): nothing can be approved or proven."""

    code = "invalid_risk_input"


@dataclass(frozen=True)
class RiskDecision:
    """Outcome of one risk check; the governor never resizes, so there is no adjusted size (§3.3)."""

    approved: bool
    breaker_state: str
    results: tuple[InvariantResult, ...]
    violations: tuple[Violation, ...]
    warnings: tuple[Violation, ...]
    input_hash: str
    counts_toward_breaker: bool  # a failed correlation lookup blocks but is not a risk failure (§2.3)
    input_document: Mapping[str, Any] = field(default_factory=dict)  # what ``input_hash`` is the hash of

    @property
    def blocked(self) -> bool:
        return not self.approved

    @property
    def checks_run(self) -> int:
        return len(self.results)

    @property
    def checks_passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "circuitBreakerState": self.breaker_state,
            "violations": [v.to_json() for v in self.violations],
            "warnings": [{"id": w.invariant_id, "name": w.name, "message": w.message} for w in self.warnings],
            "checksRun": self.checks_run,
            "checksPassed": self.checks_passed,
            "inputHash": self.input_hash,
        }


def risk_input_document(
    request: RiskRequest, snapshot: PortfolioSnapshot, limits: RiskLimits, breaker_state: str, now: datetime
) -> dict[str, Any]:
    """Everything a check is computed from (base limits, before breaker scaling), as JSON values."""
    return {
        "request": request.to_json(),
        "portfolio": snapshot.to_json(),
        "limits": limits.to_json(),
        "circuitBreakerState": str(breaker_state),
        "now": now.isoformat(),
    }


def input_hash_of(document: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of an input document: how a stored document is checked again."""
    try:
        text = canonical_json(dict(document))
    except NonCanonicalValue as exc:
        raise InvalidRiskInput(f"Risk check input is not canonical: {exc}") from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def risk_input_hash(
    request: RiskRequest, snapshot: PortfolioSnapshot, limits: RiskLimits, breaker_state: str, now: datetime
) -> str:
    """SHA-256 hex of the canonical JSON of a check's inputs (base limits, before breaker scaling)."""
    return input_hash_of(risk_input_document(request, snapshot, limits, breaker_state, now))


def evaluate(
    request: RiskRequest, snapshot: PortfolioSnapshot, limits: RiskLimits, breaker_state: str, now: datetime
) -> RiskDecision:
    """Approve iff no critical invariant fails under ``adjusted_limits(limits, breaker_state)``.

    An unavailable correlation lookup (``snapshot.correlated_markets is None``) blocks before any
    invariant runs, as the source does, and does not count toward the breaker (§3.4).
    """
    state = check_breaker_state(breaker_state)
    document = risk_input_document(request, snapshot, limits, state, now)
    input_hash = input_hash_of(document)
    if snapshot.correlated_markets is None:
        return RiskDecision(False, state, (), (CORRELATION_LOOKUP_VIOLATION,), (), input_hash, False, document)
    results = run_invariants(request, snapshot, adjusted_limits(limits, state), Conditions(now, state))
    violations = tuple(v for r in results if (v := r.violation) is not None and v.severity is Severity.CRITICAL)
    warnings = tuple(v for r in results if (v := r.violation) is not None and v.severity is Severity.WARNING)
    approved = not violations
    return RiskDecision(approved, state, results, violations, warnings, input_hash, not approved, document)


# What a scan can foresee of the check its order will get: the limits a request breaks by the size of the
# book it would join (I1-I4), and by the market's settlement date (I11), which the catalogue already gives.
FORESEEABLE_INVARIANTS = frozenset({InvariantId.I1_MAX_POSITION_SIZE, InvariantId.I2_MAX_PORTFOLIO_CONCENTRATION,
                                    InvariantId.I3_MAX_MARKET_EXPOSURE, InvariantId.I4_MAX_CATEGORY_EXPOSURE,
                                    InvariantId.I11_MIN_TIME_TO_SETTLEMENT})


def foreseeable_refusals(
    request: RiskRequest, snapshot: PortfolioSnapshot, limits: RiskLimits, breaker_state: str, now: datetime
) -> tuple[Violation, ...]:
    """The limits (breaker-adjusted) among I1-I4 and I11 that ``request`` would break against ``snapshot``.

    For a scan deciding whether to create an order at all: every refusal of the risk check counts toward
    HALT (§2.3), so an order that the book has no room for, or whose market settles too soon, must not be
    created and refused (ADR 0316). Advisory only; the risk check at execution stays the control. Left out
    when their input is unknown here, since the check itself then decides: I3 after a failed correlation
    lookup (blocks without counting), I11 without a settlement date (the execute step reads the market)."""
    state = check_breaker_state(breaker_state)
    lim, conditions = adjusted_limits(limits, state), Conditions(now, state)
    unknown = {InvariantId.I3_MAX_MARKET_EXPOSURE} if snapshot.correlated_markets is None else set()
    if request.settlement_date is None:
        unknown.add(InvariantId.I11_MIN_TIME_TO_SETTLEMENT)
    results = [fn(request, snapshot, lim, conditions) for iid, fn in INVARIANTS
               if iid in FORESEEABLE_INVARIANTS and iid not in unknown]
    return tuple(v for r in results if (v := r.violation) is not None and v.severity is Severity.CRITICAL)
