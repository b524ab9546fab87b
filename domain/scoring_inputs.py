"""The LLM scoring behind an order (llm-routing §8.3, §8.4; trading §3.3 I12, I13; ADR 0425).

A market's scoring runs, as the read model holds them, give three things on the trade path: the §8.3 execution
gate's verdict (for the strategies that depend on an LLM's reading of the market), the ambiguity score I13 judges
and the equivalence grade I12 judges. Each comes from one run, named by id, so an order's record says which.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.domain.governance import GateVerdict, ScoringRunView, equivalence_grade, execution_gate

AMBIGUITY_RUN = "ambiguity_score"
EQUIVALENCE_RUN = "equivalence_assessment"
MARKET_TARGET = "market"
PAIR_TARGET = "market_pair"
HUMAN_OVERRIDE, MODEL = "human_override", "model"  # where a score came from


@dataclass(frozen=True)
class MarketScoringRun:
    """One recorded scoring run (§8.2) with its human override, if any (§8.3)."""

    run_id: str
    run_type: str
    target_entity_type: str | None
    target_entity_id: str | None
    created_at: datetime
    score: float | None
    flagged_for_human_review: bool
    human_override_score: float | None = None
    input_hash: str | None = None
    input_text: str | None = None  # §8.2 inputText; None for runs recorded before it was kept (ADR 0469)

    @property
    def effective_score(self) -> float | None:
        """The human's score when one was given: the override is what the reviewer stands behind."""
        return self.score if self.human_override_score is None else self.human_override_score

    @property
    def score_source(self) -> str:
        return MODEL if self.human_override_score is None else HUMAN_OVERRIDE

    def gate_view(self) -> ScoringRunView:
        return ScoringRunView(self.created_at, self.flagged_for_human_review, self.human_override_score)


@dataclass(frozen=True)
class MarketScoring:
    """What the read model holds about one market: its runs (target ``market`` with its id, and ``market_pair``
    runs of the pairs that hold it) and the ids of those pairs."""

    market_id: str
    runs: tuple[MarketScoringRun, ...] = ()
    pair_ids: frozenset[str] = frozenset()

    def on_market(self) -> list[MarketScoringRun]:
        return [r for r in self.runs if r.target_entity_type == MARKET_TARGET and r.target_entity_id == self.market_id]

    def on_pairs(self) -> list[MarketScoringRun]:
        return [r for r in self.runs if r.target_entity_type == PAIR_TARGET and r.target_entity_id in self.pair_ids]


def _latest(runs: Iterable[MarketScoringRun]) -> MarketScoringRun | None:
    """The latest by createdAt, as ``execution_gate`` picks it (the first of equal times, in the given order)."""
    return max(runs, key=lambda r: r.created_at, default=None)


@dataclass(frozen=True)
class GateDecision:
    """§8.3's verdict and the run that decided it (None when there is none)."""

    can_execute: bool
    reason: str | None
    run_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {"canExecute": self.can_execute, "reason": self.reason, "runId": self.run_id}


def market_gate(scoring: MarketScoring) -> GateDecision:
    """§8.3 over the runs whose target is the market itself (any run type); the latest decides."""
    runs = scoring.on_market()
    verdict: GateVerdict = execution_gate(r.gate_view() for r in runs)
    latest = _latest(runs)
    return GateDecision(verdict.can_execute, verdict.reason, latest.run_id if latest else None)


@dataclass(frozen=True)
class ScoringInputs:
    """I13's ambiguity score and I12's equivalence grade, with the runs they came from; None: no such run (the
    invariant's spec default then applies: ambiguity 0, grade ``not_evaluated``)."""

    ambiguity_score: float | None = None
    ambiguity_run: MarketScoringRun | None = None
    equivalence_grade: str | None = None
    equivalence_run: MarketScoringRun | None = None

    def provenance(self) -> dict[str, Any]:
        """What the risk input document records beside the values (ADR 0425)."""
        a, e = self.ambiguity_run, self.equivalence_run
        return {"ambiguityRunId": a.run_id if a else None, "ambiguityScoreSource": a.score_source if a else None,
                "equivalenceRunId": e.run_id if e else None, "equivalenceScore": e.effective_score if e else None,
                "equivalenceScoreSource": e.score_source if e else None}


def scoring_inputs(scoring: MarketScoring, needs_equivalence: bool) -> ScoringInputs:
    """The latest ``ambiguity_score`` run on the market gives I13's score; for a strategy that trades across venues,
    the latest ``equivalence_assessment`` run on the market or on a pair holding it gives I12's grade (§8.4).
    A human override's score wins over the model's in both."""
    ambiguity = _latest(r for r in scoring.on_market() if r.run_type == AMBIGUITY_RUN)
    equivalence = None
    if needs_equivalence:
        equivalence = _latest(r for r in scoring.on_market() + scoring.on_pairs() if r.run_type == EQUIVALENCE_RUN)
    eq_score = equivalence.effective_score if equivalence else None
    return ScoringInputs(
        ambiguity_score=ambiguity.effective_score if ambiguity else None, ambiguity_run=ambiguity,
        equivalence_grade=str(equivalence_grade(eq_score)) if eq_score is not None else None,
        equivalence_run=equivalence if eq_score is not None else None)
