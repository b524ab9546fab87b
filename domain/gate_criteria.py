"""Phase-gate criteria catalogue (api-and-security §6.2): ids, required flags and thresholds as specified."""

from __future__ import annotations

import re
from dataclasses import dataclass

from paulp.domain.errors import DomainError

_PHASE = re.compile(r"[1-4]")


class InvalidPhase(DomainError):
    """Raised when a phase path segment is not exactly one of "1".."4"."""

    code = "invalid_phase"


@dataclass(frozen=True)
class Criterion:
    id: str
    name: str
    description: str
    required: bool
    category: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "description": self.description, "required": self.required,
                "category": self.category}


def _c(cid: str, name: str, description: str, category: str, required: bool = True) -> Criterion:
    return Criterion(cid, name, description, required, category)


CRITERIA: dict[int, tuple[Criterion, ...]] = {
    1: (
        _c("P1_CLV_SIGN_VALIDATION", "CLV sign validation", "At least 5 passed test results in suite clv", "testing"),
        _c("P1_EVIDENCE_STORE", "Evidence store active", "Evidence blobs fetched in the last 7 days", "data"),
        _c("P1_LLM_REGRESSION_TESTS", "LLM regression tests defined", "At least 10 LLM regression test cases",
           "llm"),
        _c("P1_MIGRATIONS_APPLIED", "Migrations applied", "At least 10 schema migrations applied",
           "infrastructure"),
        _c("P1_SPEC_FILES_EXIST", "Strategy specs valid", "Every strategy spec file loads and validates",
           "documentation"),
        _c("P1_PROMPT_TEMPLATES_EXIST", "Prompt templates versioned", "Every prompt template present with a version",
           "llm"),
        _c("P1_COMPLIANCE_MATRIX", "Compliance matrix", "Compliance matrix document present", "compliance"),
        _c("P1_SLO_DEFINED", "SLOs defined", "Service-level objectives document present", "operations",
           required=False),
    ),
    2: (
        _c("P2_BONDING_PAPER_TRADING", "Bonding paper trading", "At least 10 PAPER orders of a bonding strategy",
           "trading"),
        _c("P2_WEATHER_PAPER_TRADING", "Weather paper trading", "At least 10 PAPER orders of a weather strategy",
           "trading"),
        _c("P2_17_INVARIANTS_TESTED", "Risk invariants tested", "At least 17 passed results in suite risk_invariants",
           "risk"),
        _c("P2_BACKTEST_QUALITY", "Backtest quality", "Mean expected value of backtests in the last 30 days > 0",
           "trading"),
        _c("P2_ACCOUNT_SCORING_VALIDATED", "Account scoring validated", "Account skill scoring validated", "research"),
        _c("P2_ORDER_LIFECYCLE_COMPLETE", "Order lifecycle complete", "At least one filled order", "trading"),
        _c("P2_MARKET_PAIRING_WORKING", "Market pairing working",
           "Approved pairs graded identical or near_equivalent", "research", required=False),
    ),
    3: (
        _c("P3_AUDIT_CHAIN_INTEGRITY", "Audit chain integrity", "Full audit chain verification passes", "audit"),
        _c("P3_LLM_REGRESSION_90PCT", "LLM regression pass rate", "At least 90% of regression tests run in 7 days "
           "passed", "llm"),
        _c("P3_ADVERSARIAL_TESTS_PASS", "Adversarial tests pass",
           "All prompt_injection/adversarial tests passed", "llm"),
        _c("P3_CIRCUIT_BREAKER_TESTED", "Circuit breaker tested", "Circuit breaker transitions tested", "risk"),
        _c("P3_POSITION_DRIFT_DETECTION", "Position drift detection", "Reconciliation drift detection active",
           "risk"),
        _c("P3_COMPLIANCE_CHECK_PASS", "Compliance check", "No unresolved compliance violations", "compliance"),
        _c("P3_EVIDENCE_CHAIN_VERIFIED", "Evidence chain verified",
           "Newest 5 evidence blobs re-hash correctly; evidence index matches its chained events", "audit"),
    ),
    4: (
        _c("P4_BONDING_WIN_RATE_90", "Bonding win rate", "Win rate at least 90% over filled bonding orders",
           "performance"),
        _c("P4_WEATHER_OOS_55", "Weather out-of-sample accuracy",
           "At least 55% correct over resolved out-of-sample predictions", "performance"),
        _c("P4_DRIFT_SWEEP_PASSED", "Drift sweep passed", "Latest LLM drift sweep allowed deployment", "llm"),
        _c("P4_CAPITAL_800_ALLOCATED", "Capital allocated", "Venue balance at least 800 USD or operator attestation",
           "capital"),
        _c("P4_KALSHI_CREDENTIALS_VALID", "Kalshi credentials valid", "An authenticated balance call succeeds",
           "infrastructure"),
        _c("P4_RISK_LIMITS_CONFIGURED", "Risk limits configured", "Risk limits present and within bounds", "risk"),
        _c("P4_MONITORING_ACTIVE", "Monitoring active", "Monitoring and alerting active", "operations",
           required=False),
    ),
}


def parse_phase(raw: str) -> int:
    """Only the exact strings "1"-"4" (resolution: the reference accepted "3abc")."""
    if not _PHASE.fullmatch(raw):
        raise InvalidPhase("Invalid phase. Must be 1, 2, 3, or 4")
    return int(raw)


def target_phase(phase: int) -> int:
    return phase + 1 if phase < 4 else 4


def criteria_document(phase: int) -> dict[str, object]:
    items = CRITERIA[phase]
    return {"phase": phase, "targetPhase": target_phase(phase), "criteriaCount": len(items),
            "requiredCount": sum(1 for c in items if c.required), "criteria": [c.as_json() for c in items]}
