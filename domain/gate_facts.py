"""Facts a phase gate is decided on (api-and-security §6.2), one record per phase; gathered by an adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Unavailable:
    """A fact with no source in this system: the criterion that needs it fails closed."""

    missing: str


@dataclass(frozen=True)
class Phase1Facts:
    clv_tests_passed: int | Unavailable
    evidence_fetches_7d: int | Unavailable
    regression_cases: int
    migrations_applied: int
    strategy_specs: Mapping[str, str | None]  # strategy -> problem (None = loads and validates)
    prompt_templates: Mapping[str, str | None]  # run type -> problem (None = present with a version)
    compliance_sources: int | Unavailable
    slo_document: bool | Unavailable


@dataclass(frozen=True)
class Phase2Facts:
    bonding_paper_orders: int
    weather_paper_orders: int
    risk_invariant_tests_passed: int | Unavailable
    backtest_expected_values: Sequence[float] | Unavailable  # completed in the last 30 days
    account_scoring_validated: bool | Unavailable
    filled_orders: int
    approved_equivalent_pairs: int | Unavailable


@dataclass(frozen=True)
class AuditFact:
    valid: bool
    head_sequence: int
    first_bad_sequence: int | None


@dataclass(frozen=True)
class EvidenceCheck:
    evidence_hash: str
    problem: str | None  # None when the blob re-hashes to its name


@dataclass(frozen=True)
class Phase3Facts:
    audit: AuditFact
    regression_results_7d: Sequence[bool] | Unavailable
    adversarial_results: Sequence[bool] | Unavailable
    breaker_transitions: Sequence[tuple[str, str]]  # (from, to) in log order
    reconciliation_runs: int | Unavailable
    unresolved_compliance_violations: int | Unavailable
    evidence_sample: Sequence[EvidenceCheck]  # newest 5 blobs
    evidence_index: Sequence[str] = ()  # index rows that disagree with their chained EvidenceStored (ADR 0406)


@dataclass(frozen=True)
class ResolvedOrder:
    """A filled order in a market whose outcome is known."""

    strategy: str
    side: str  # YES | NO
    fill_price_cents: float | None
    result: str  # YES | NO | VOID
    created_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class BalanceProbe:
    """One authenticated balance call: ok with the balance, or the reason it did not succeed."""

    ok: bool
    balance_cents: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Monitoring:
    projections: Mapping[str, int | None]  # registered projection -> tracked position (None = never ran)
    dead_letters: int


@dataclass(frozen=True)
class Phase4Facts:
    resolved_orders: Sequence[ResolvedOrder]
    latest_sweep_allowed: bool | None
    balance: BalanceProbe
    risk_limits: Mapping[str, Any]
    monitoring: Monitoring


GateFacts = Phase1Facts | Phase2Facts | Phase3Facts | Phase4Facts
FACTS_TYPE: dict[int, type] = {1: Phase1Facts, 2: Phase2Facts, 3: Phase3Facts, 4: Phase4Facts}
