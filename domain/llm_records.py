"""Governance facts of the LLM context as events (llm-routing §8.2 scoring runs, §7.2 drift sweeps).

Both are write-once records: the scoring run of a governed scoring call, and one nightly sweep per UTC
day (a deterministic id, so two schedulers racing on the same night store it once).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.governance import DriftSweep, ScoringOutput, needs_human_review
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.texts import bounded_text

NO_MODEL = "routing:none"
ACTOR_MAX, REASON_MAX = 200, 2000


class InvalidOverride(DomainError):
    """Raised when a human override's score, reason or actor is not acceptable (nothing is recorded)."""

    code = "INVALID_OVERRIDE"


class UnknownScoringRun(DomainError):
    """Raised when an override names no recorded scoring run."""

    code = "UNKNOWN_SCORING_RUN"


def override_score(value: object) -> float:
    """A score on the run type's own 0..1 scale (§8.1), both ends included."""
    number = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not number or not 0 <= value <= 1:  # type: ignore[operator]
        raise InvalidOverride(f"override score must be a number from 0 to 1, got {value!r}")
    return float(value)  # type: ignore[arg-type]


class ScoringRun(Aggregate):
    """§8.2: recorded always, success or failure; a failed call stores the execution-failure output."""

    class Recorded(Aggregate.Created):
        """v2 adds ``input_text``, the §8.2 text ``input_hash`` is the SHA-256 of (ADR 0469). A v1 run stored no
        text and hashed the prompt variables instead: it reads as None and keeps its hash (history is not redone).
        """

        class_version = 2
        decision_id: str
        run_type: str
        target_entity_type: str | None
        target_entity_id: str | None
        prompt_version: str
        prompt_hash: str
        model_id: str
        input_hash: str
        output: dict[str, Any]
        confidence: float
        flagged_for_human_review: bool
        execution_failed: bool
        input_tokens: int | None
        output_tokens: int | None
        cost_usd: float | None
        created_at: datetime
        input_text: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, object]) -> None:
            state["input_text"] = None

    @staticmethod
    def create_id(decision_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"llm-scoring-run/{decision_id}")

    @event(Recorded)
    def __init__(self, decision_id: str, run_type: str, target_entity_type: str | None,
                 target_entity_id: str | None, prompt_version: str, prompt_hash: str, model_id: str,
                 input_hash: str, output: dict[str, Any], confidence: float, flagged_for_human_review: bool,
                 execution_failed: bool, input_tokens: int | None, output_tokens: int | None,
                 cost_usd: float | None, created_at: datetime, input_text: str | None) -> None:
        self.decision_id = decision_id
        self.run_type = run_type
        self.input_text = input_text
        self.input_hash = input_hash
        self.model_id = model_id
        self.output = dict(output)
        self.confidence = confidence
        self.flagged_for_human_review = flagged_for_human_review
        self.execution_failed = execution_failed
        self.created_at = created_at
        self.human_override_score: float | None = None
        self.human_override_reason: str | None = None
        self.overridden_by: str | None = None
        self.overridden_at: datetime | None = None

    class OverriddenByHuman(Aggregate.Event):
        """§8.3/§9.7 ``LlmScoringOverriddenByHuman``: the score a human stands behind; it clears the review flag."""

        override_score: float
        reason: str
        actor: str
        overridden_at: datetime

    def override(self, score: object, reason: object, actor: object, now: datetime) -> None:
        """Record a human's score for this run (any run: a correction is a new override, the latest stands)."""
        value = override_score(score)
        why = bounded_text(reason, "reason", REASON_MAX, InvalidOverride)
        who = bounded_text(actor, "actor", ACTOR_MAX, InvalidOverride)
        if "\x00" in why or "\x00" in who:  # no text column of the read model can hold it
            raise InvalidOverride("reason and actor must not contain NUL characters")
        self._overridden(value, why, who, now)

    @event(OverriddenByHuman)
    def _overridden(self, override_score: float, reason: str, actor: str, overridden_at: datetime) -> None:
        self.human_override_score, self.human_override_reason = override_score, reason
        self.overridden_by, self.overridden_at = actor, overridden_at
        self.flagged_for_human_review = False


def review_flag(output: ScoringOutput, execution_failed: bool) -> bool:
    """§8.3: always flagged after a failed execution, else the confidence/warnings/citations rule."""
    return execution_failed or needs_human_review(output.confidence, output.warnings, output.cited_passages)


class DriftSweepRecord(Aggregate):
    """§7.2 record; ``blocked_deployment = not passed`` gates go-live (§7.3)."""

    class Recorded(Aggregate.Created):
        sweep_type: str
        sweep_day: str
        baseline_prompt_version: str
        baseline_model_id: str
        candidate_prompt_version: str
        candidate_model_id: str
        gold_set_size: int
        mean_score_delta: float
        max_score_delta: float
        rank_order_changes: int
        prompt_injection_pass_rate: float
        mean_delta_threshold: float
        max_delta_threshold: float
        injection_pass_threshold: float
        passed: bool
        blocked_deployment: bool
        failure_reasons: list[str]
        run_at: datetime

    @staticmethod
    def create_id(sweep_type: str, sweep_day: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"llm-drift-sweep/{sweep_type}/{sweep_day}")

    @event(Recorded)
    def __init__(self, sweep_type: str, sweep_day: str, baseline_prompt_version: str, baseline_model_id: str,
                 candidate_prompt_version: str, candidate_model_id: str, gold_set_size: int,
                 mean_score_delta: float, max_score_delta: float, rank_order_changes: int,
                 prompt_injection_pass_rate: float, mean_delta_threshold: float, max_delta_threshold: float,
                 injection_pass_threshold: float, passed: bool, blocked_deployment: bool,
                 failure_reasons: list[str], run_at: datetime) -> None:
        self.sweep_type = sweep_type
        self.sweep_day = sweep_day
        self.passed = passed
        self.blocked_deployment = blocked_deployment
        self.failure_reasons = list(failure_reasons)
        self.run_at = run_at


def record_sweep(sweep: DriftSweep) -> DriftSweepRecord:
    day = sweep.run_at.strftime("%Y-%m-%d")
    return DriftSweepRecord(
        sweep_type=str(sweep.sweep_type), sweep_day=day, baseline_prompt_version=sweep.baseline_prompt_version,
        baseline_model_id=sweep.baseline_model_id, candidate_prompt_version=sweep.candidate_prompt_version,
        candidate_model_id=sweep.candidate_model_id, gold_set_size=sweep.gold_set_size,
        mean_score_delta=sweep.mean_score_delta, max_score_delta=sweep.max_score_delta,
        rank_order_changes=sweep.rank_order_changes, prompt_injection_pass_rate=sweep.prompt_injection_pass_rate,
        mean_delta_threshold=sweep.mean_delta_threshold, max_delta_threshold=sweep.max_delta_threshold,
        injection_pass_threshold=sweep.injection_pass_threshold, passed=sweep.passed,
        blocked_deployment=sweep.blocked_deployment, failure_reasons=list(sweep.failure_reasons),
        run_at=sweep.run_at)


class RegressionSuiteRecord(Aggregate):
    """§8.6/§9.7 ``LlmRegressionSuiteCompleted`` with its per-test results (the spec's recommendation).

    The id derives from the run id, so a save retried after an unclear failure stores the suite once."""

    class Completed(Aggregate.Created):
        run_id: str
        suite: str
        prompt_version: str
        prompt_hashes: dict[str, str]
        started_at: datetime
        completed_at: datetime
        total_tests: int
        passed: int
        failed: int
        pass_rate: float
        by_category: dict[str, dict[str, Any]]
        execution_time_ms: int
        results: list[dict[str, Any]]

    @staticmethod
    def create_id(run_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"llm-regression-suite/{run_id}")

    @event(Completed)
    def __init__(self, run_id: str, suite: str, prompt_version: str, prompt_hashes: dict[str, str],
                 started_at: datetime, completed_at: datetime, total_tests: int, passed: int, failed: int,
                 pass_rate: float, by_category: dict[str, dict[str, Any]], execution_time_ms: int,
                 results: list[dict[str, Any]]) -> None:
        self.run_id = run_id
        self.suite = suite
        self.prompt_version = prompt_version
        self.started_at = started_at
        self.pass_rate = pass_rate
        self.execution_time_ms = execution_time_ms
        self.results = [dict(r) for r in results]
