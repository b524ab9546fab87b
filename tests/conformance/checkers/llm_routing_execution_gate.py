"""llm-routing §8.3: execution gate of a market from its scoring runs."""

from typing import Any

from paulp.domain.governance import ScoringRunView, execution_gate
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker

_RUN_KEYS = {"createdAt", "flagged", "flaggedForHumanReview", "humanOverrideScore"}


def _run(r: Any) -> ScoringRunView:
    """A run needs its flag (either spelling, both agreeing) as a boolean; an override is a number or null."""
    assert isinstance(r, dict) and not set(r) - _RUN_KEYS, f"cannot interpret execution_gate run {r!r}"
    flags = {r[k] for k in ("flagged", "flaggedForHumanReview") if k in r}
    assert len(flags) == 1 and all(isinstance(f, bool) for f in flags), f"run flag unreadable: {r!r}"
    override = r.get("humanOverrideScore")
    assert override is None or (isinstance(override, int | float) and not isinstance(override, bool)), \
        f"humanOverrideScore must be a number or null: {override!r}"
    return ScoringRunView(parse_time(r["createdAt"]), flags.pop(), override)


@checker(FILE, "execution_gate")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert set(inp) == {"marketRuns"} and isinstance(inp["marketRuns"], list), \
        f"cannot interpret execution_gate input {sorted(inp)}"
    runs = [_run(r) for r in inp["marketRuns"]]
    verdict = execution_gate(runs)
    view: dict[str, Any] = {"canExecute": verdict.can_execute}
    if verdict.reason is not None:
        view["reason"] = verdict.reason
    assert_matches(view, expected_of(case), tolerances(case))
