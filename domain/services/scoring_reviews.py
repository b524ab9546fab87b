"""LLM context: human review of recorded scoring runs (llm-routing §8.3). A small application of its own, so the
CLI records an override without building the routing service and its provider clients."""

from __future__ import annotations

from uuid import UUID

from paulp.domain.llm_records import ScoringRun, UnknownScoringRun
from paulp.domain.services.base import PaulpApplication


class ScoringReviewService(PaulpApplication):
    def override(self, run_id: str, score: object, reason: object, actor: object) -> int:
        """``LlmScoringOverriddenByHuman``: the score the reviewer stands behind; it clears the review flag, so the
        market's execution gate opens and I12/I13 judge this score (ADR 0425). Returns the last notification id."""
        try:
            rid = UUID(str(run_id))
        except ValueError:
            raise UnknownScoringRun(f"no scoring run {run_id!r}") from None

        def command() -> int:
            run = self.get_or_none(rid)
            if not isinstance(run, ScoringRun):
                raise UnknownScoringRun(f"no scoring run {run_id}")
            run.override(score, reason, actor, self.clock.now())
            return self.last_notification_id(self.save(run))

        return self.retry_on_conflict(command)

    def find(self, run_id: str) -> ScoringRun | None:
        try:
            found = self.get_or_none(UUID(str(run_id)))
        except ValueError:
            return None
        return found if isinstance(found, ScoringRun) else None
