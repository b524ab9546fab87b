"""llm-routing §8.3: execution gate of a market from its scoring runs."""

from typing import Any

from paulp.domain.governance import ScoringRunView, execution_gate
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "execution_gate")
def check(case: Any, ctx: Context) -> None:
    runs = [ScoringRunView(parse_time(r["createdAt"]), bool(r.get("flagged", r.get("flaggedForHumanReview"))),
                           r.get("humanOverrideScore")) for r in case["input"]["marketRuns"]]
    verdict = execution_gate(runs)
    view: dict[str, Any] = {"canExecute": verdict.can_execute}
    if verdict.reason is not None:
        view["reason"] = verdict.reason
    assert_matches(view, expected_of(case), tolerances(case))
