"""llm-routing §7.2-§7.3: deployment blocks from sweeps (recent-block and latest-decision gates)."""

from datetime import timedelta
from typing import Any

from paulp.domain.governance import DriftSweep, SweepType, SweepView, latest_deploy_allowed, recent_block
from tests.conformance.checkers._llm_support import FILE, FIXED_NOW, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "drift_block")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if "sweep" in inp:
        s = inp["sweep"]
        sweep = DriftSweep(SweepType(s.get("sweepType", "prompt_version_change")), "1.0.0", "m", "1.0.0", "m",
                           int(s.get("goldSetSize", 0)), float(s["meanScoreDelta"]), float(s["maxScoreDelta"]),
                           float(s["promptInjectionPassRate"]), bool(s["passed"]), (), FIXED_NOW)
        assert_matches({"blockedDeployment": sweep.blocked_deployment, "passed": sweep.passed}, expected_of(case),
                       tolerances(case))
        return
    assert "sweeps" in inp, f"cannot interpret drift_block input {sorted(inp)}"
    sweeps = [SweepView(parse_time(s["runAt"]), bool(s["blockedDeployment"])) for s in inp["sweeps"]]
    lookback = timedelta(days=float(inp.get("lookbackDays", 7)))
    view = {"recentBlock": recent_block(sweeps, parse_time(inp["now"]), lookback),
            "latestDeployAllowed": latest_deploy_allowed(sweeps)}
    assert_matches(view, expected_of(case), tolerances(case))
