"""Gather the facts each phase gate is decided on, from what the system actually has (§6.2 resolution).

Read models, the evidence index and blobs, the audit chain, applied migrations and one authenticated
Kalshi balance call. A fact with no source here is ``Unavailable`` (the criterion fails closed); each
such gap is listed in ADR 0254.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from paulp.adapters.audit_store import verify
from paulp.adapters.evidence_audit import check_index
from paulp.adapters.evidence_store import EvidenceHashMismatch, EvidenceNotFound, EvidenceStore, fetch_recorder
from paulp.adapters.kalshi.client import KalshiClient, KalshiClientConfig
from paulp.adapters.kalshi.client_errors import KalshiError
from paulp.adapters.kalshi.signing import KEY_ENV, PRIVATE_KEY_ENV, KalshiCredentialsError
from paulp.adapters.verification_results import latest_suite_passed
from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, ExecutionMode
from paulp.domain.gate_facts import (
    AuditFact,
    BalanceProbe,
    EvidenceCheck,
    GateFacts,
    Monitoring,
    Phase1Facts,
    Phase2Facts,
    Phase3Facts,
    Phase4Facts,
    ResolvedOrder,
    Unavailable,
)
from paulp.domain.gates import (
    prompt_template_problems,
    regression_cases_defined,
    strategy_spec_problems,
)

log = logging.getLogger("paulp.gates")
# §8.8 gate read model (ADR 0276): regression-suite results of the last 7 days; the adversarial rows of each
# suite's latest run (recorded last in the log), so a fixed prompt can pass again without a forced signoff.
REGRESSION_RESULTS_7D = "SELECT passed FROM views.llm_regression_results WHERE suite = 'regression' AND run_at >= %s"
ADVERSARIAL_RESULTS = ("SELECT r.passed FROM views.llm_regression_results r JOIN (SELECT DISTINCT ON (suite) run_id"
                       " FROM views.llm_regression_runs ORDER BY suite, notification_id DESC) latest USING (run_id)"
                       " WHERE r.gate_category IN ('prompt_injection', 'adversarial')")
BACKTESTS_30D = "SELECT expected_value FROM views.backtests WHERE completed_at > %s"  # ADR 0265
EVIDENCE_SAMPLE = 5
PAPER_ORDERS = ("SELECT count(*) FROM views.kalshi_orders WHERE execution_mode = 'PAPER'"
                " AND strategy ILIKE %s")
FILLED_ORDERS = ("SELECT (SELECT count(*) FROM views.kalshi_orders WHERE status IN ('filled', 'paper_filled'))"
                 " + (SELECT count(*) FROM views.ibkr_orders WHERE status = 'filled')")
RESOLVED_ORDERS = (
    "SELECT o.strategy, o.record->>'side', o.record->>'fill_price', m.result, o.created_at, m.resolved_at"
    " FROM views.kalshi_orders o JOIN views.market_marks m ON m.ticker = o.ticker"
    " WHERE m.result IS NOT NULL AND o.status IN ('filled', 'paper_filled')"
    " AND (o.strategy ILIKE '%bonding%' OR o.strategy ILIKE '%weather%') ORDER BY o.seq"
)


@dataclass(frozen=True)
class GateSources:
    """Where the facts live; built by the composition root from the settings."""

    database_url: str
    evidence_dir: Path
    kalshi_env: Mapping[str, str]
    projection_names: tuple[str, ...]
    balance_timeout_s: float = 5.0
    # The container's one source of each (ADR 0402): the limits in force and every strategy's mode, read when a
    # gate runs. Left out, or unreadable, the criterion that needs it fails (no constant stands in).
    risk_limits: Callable[[], Mapping[str, Any]] | None = None
    execution_modes: Callable[[], Mapping[str, ExecutionMode]] | None = None


class DatabaseGateFacts:
    def __init__(self, sources: GateSources) -> None:
        self.src = sources

    def gather(self, phase: int, now: datetime) -> GateFacts:
        if phase == 1:
            return self.phase1(now)
        if phase == 2:
            return self.phase2(now)
        return self.phase3(now) if phase == 3 else self.phase4(now)

    def _conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.src.database_url, autocommit=True)

    def phase1(self, now: datetime) -> Phase1Facts:
        with self._conn() as conn:
            fetches = _count(conn, "SELECT count(*) FROM evidence_fetches WHERE fetched_at > %s",
                             now - timedelta(days=7))
            migrations = _count(conn, "SELECT count(*) FROM schema_migrations")
            sources = compliance_matrix_sources(conn)
        return Phase1Facts(
            clv_tests_passed=latest_suite_passed(self.src.database_url, "clv"),
            evidence_fetches_7d=fetches, regression_cases=regression_cases_defined(),
            migrations_applied=migrations, strategy_specs=self._strategy_specs(),
            prompt_templates=prompt_template_problems(), compliance_sources=sources,
            slo_document=slo_document_present())

    def phase2(self, now: datetime) -> Phase2Facts:
        with self._conn() as conn:
            bonding = _count(conn, PAPER_ORDERS, "%bonding%")
            weather = _count(conn, PAPER_ORDERS, "%weather%")
            filled = _count(conn, FILLED_ORDERS)
            backtests = [float(v) for (v,) in conn.execute(BACKTESTS_30D, (now - timedelta(days=30),))]
            pairs = _count(conn, "SELECT count(*) FROM views.market_pairs WHERE status = 'approved'"
                                 " AND equivalence_grade IN ('identical', 'near_equivalent')")
        return Phase2Facts(
            bonding_paper_orders=bonding, weather_paper_orders=weather,
            risk_invariant_tests_passed=latest_suite_passed(self.src.database_url, "risk_invariants"),
            backtest_expected_values=backtests,
            account_scoring_validated=Unavailable("no account-scoring validation is recorded in this system"),
            filled_orders=filled,
            approved_equivalent_pairs=pairs)

    def phase3(self, now: datetime) -> Phase3Facts:
        report = verify(self.src.database_url)
        with self._conn() as conn:
            transitions = [(str(a), str(b)) for a, b in conn.execute(
                "SELECT from_state, to_state FROM views.breaker_transitions WHERE scope = 'global'"
                " ORDER BY notification_id").fetchall()]
            newest = [str(r[0]) for r in conn.execute(
                "SELECT evidence_hash FROM evidence_blobs ORDER BY created_at DESC, fetched_at DESC,"
                " evidence_hash LIMIT %s", (EVIDENCE_SAMPLE,)).fetchall()]
            regression = [bool(ok) for (ok,) in conn.execute(REGRESSION_RESULTS_7D, (now - timedelta(days=7),))]
            adversarial = [bool(ok) for (ok,) in conn.execute(ADVERSARIAL_RESULTS)]
            violations = _count(conn, "SELECT count(*) FROM views.compliance_violations WHERE NOT resolved")
            index = check_index(conn)
        return Phase3Facts(
            audit=AuditFact(report.valid, report.chain.last_sequence, report.first_bad_sequence),
            regression_results_7d=regression,  # none stored: 0%, as the reference says when none ran
            adversarial_results=adversarial,  # none stored: §6.2 "vacuously true when none"
            breaker_transitions=transitions,
            reconciliation_runs=Unavailable("no reconciliation runs are recorded in this system"),
            unresolved_compliance_violations=violations,  # §6.3 violations view (ADR 0368)
            evidence_sample=list(self._rehash(newest)),
            evidence_index=[m.describe() for m in index.mismatches])

    def _rehash(self, hashes: Iterable[str]) -> Iterable[EvidenceCheck]:
        store = EvidenceStore(self.src.evidence_dir)
        for h in hashes:
            failure = store.check(h)
            if isinstance(failure, EvidenceNotFound):
                yield EvidenceCheck(h, "blob missing from the evidence store")
            elif isinstance(failure, EvidenceHashMismatch):
                yield EvidenceCheck(h, "blob no longer hashes to its name")
            elif failure is not None:  # a folder at its name, an I/O error: failed, not a crashed gate (ADR 0516)
                yield EvidenceCheck(h, f"blob unreadable: {failure}")
            else:
                yield EvidenceCheck(h, None)

    def phase4(self, now: datetime) -> Phase4Facts:
        with self._conn() as conn:
            orders = [ResolvedOrder(str(s), str(side or "").upper(), _price(price), str(result), created, resolved)
                      for s, side, price, result, created, resolved in conn.execute(RESOLVED_ORDERS).fetchall()]
            sweep = conn.execute("SELECT deployment_allowed FROM views.llm_drift_sweeps"
                                 " ORDER BY swept_at DESC, sweep_id LIMIT 1").fetchone()
            tracked = dict(conn.execute("SELECT name, last_notification_id FROM projection_tracking"
                                        " WHERE name = ANY(%s)", (list(self.src.projection_names),)).fetchall())
            dead = _count(conn, "SELECT count(*) FROM projection_dead_letters WHERE replayed_at IS NULL")
        return Phase4Facts(
            resolved_orders=orders, latest_sweep_allowed=None if sweep is None else bool(sweep[0]),
            balance=self.balance(), risk_limits=self._risk_limits(),
            monitoring=Monitoring({n: tracked.get(n) for n in self.src.projection_names}, dead))

    def _strategy_specs(self) -> dict[str, str | None]:
        """Specs of the strategies that may trade now; with no readable modes every strategy is held to one."""
        try:
            if self.src.execution_modes is None:
                raise LookupError("no execution-mode source given")
            return strategy_spec_problems(dict(self.src.execution_modes()))
        except Exception:
            log.exception("execution modes unreadable: every strategy's specification is required")
            return strategy_spec_problems(dict.fromkeys(INITIAL_STRATEGY_MODES, ExecutionMode.PAPER))

    def _risk_limits(self) -> Mapping[str, Any]:
        """The limits in force now; unreadable, none (the P4 limits criterion then fails naming each)."""
        try:
            if self.src.risk_limits is None:
                raise LookupError("no risk-limits source given")
            return self.src.risk_limits()
        except Exception:
            log.exception("risk limits unreadable for the phase-4 gate")
            return {}

    def balance(self) -> BalanceProbe:
        """One authenticated GET /portfolio/balance; its body is kept as evidence and indexed."""
        env = self.src.kalshi_env
        if not (env.get(KEY_ENV) or "").strip() or not (env.get(PRIVATE_KEY_ENV) or "").strip():
            return BalanceProbe(False, problem=f"{KEY_ENV} and {PRIVATE_KEY_ENV} must both be set")
        return asyncio.run(self._balance(env))

    async def _balance(self, env: Mapping[str, str]) -> BalanceProbe:
        try:
            config = KalshiClientConfig.from_env(env, timeout_s=self.src.balance_timeout_s, max_retries=1)
            client = KalshiClient.from_env(env, EvidenceStore(self.src.evidence_dir), config=config,
                                           record=fetch_recorder(self._conn))
        except (KalshiError, KalshiCredentialsError) as err:
            return BalanceProbe(False, problem=f"client not usable ({err.code})")
        try:
            response = await client.get_balance()
        except (KalshiError, KalshiCredentialsError) as err:
            return BalanceProbe(False, problem=f"balance call failed ({err.code})")
        finally:
            await client.aclose()
        cents = response.data.get("balance")
        if isinstance(cents, bool) or not isinstance(cents, int):
            return BalanceProbe(True, problem="balance missing from the venue's reply")
        return BalanceProbe(True, cents)


DOCS = Path(__file__).resolve().parents[1] / "docs"
COMPLIANCE_MATRIX_DOC = DOCS / "compliance-matrix.md"
SLO_DOC = DOCS / "slo.md"


def compliance_matrix_sources(conn: psycopg.Connection[Any]) -> int | Unavailable:
    """P1_COMPLIANCE_MATRIX: the statement of the seed (``docs/compliance-matrix.md``, §6.2 "docs present") and
    the sources the matrix of record holds (``views.compliance_sources``, projected from the log; ADR 0368)."""
    if not COMPLIANCE_MATRIX_DOC.is_file():
        return Unavailable(f"compliance matrix document missing: {COMPLIANCE_MATRIX_DOC.name}")
    return _count(conn, "SELECT count(*) FROM views.compliance_sources")


def slo_document_present() -> bool | Unavailable:
    """P1_SLO_DEFINED is "docs present" (§6.2 resolution)."""
    try:
        return bool(SLO_DOC.read_text(encoding="utf-8").strip())
    except OSError:
        return Unavailable(f"SLO document missing: {SLO_DOC.name}")


def _count(conn: psycopg.Connection[Any], sql: str, *params: Any) -> int:
    row = conn.execute(sql, params or None).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _price(raw: str | None) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value <= 100 else None
