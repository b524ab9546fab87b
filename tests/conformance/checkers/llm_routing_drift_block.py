"""llm-routing §7.2-§7.3: deployment blocks from sweeps (recent-block and latest-decision gates)."""

from datetime import timedelta
from typing import Any

from paulp.domain.governance import DriftSweep, SweepType, SweepView, latest_deploy_allowed, recent_block
from tests.conformance.checkers._llm_support import FILE, FIXED_NOW, assert_matches, expected_of, parse_time, tolerances
from tests.conformance.registry import Context, checker

_SWEEP_KEYS = {"sweepType", "goldSetSize", "meanScoreDelta", "maxScoreDelta", "promptInjectionPassRate", "passed",
               "failureReasons"}


_LISTED_KEYS = {"runAt", "blockedDeployment", "passed"} | _SWEEP_KEYS
_WINDOW_KEYS = {"now", "lookbackDays", "sweeps"}


def _flag(s: dict[str, Any], key: str) -> bool:
    value = s[key]
    assert isinstance(value, bool), f"{key} is not a boolean: {value!r}"
    return value


def _blocked(s: dict[str, Any]) -> bool:
    """A listed sweep's block flag: ``blockedDeployment``, else NOT ``passed`` (§7.2); both, if given, agree."""
    assert isinstance(s, dict) and not set(s) - _LISTED_KEYS, f"cannot interpret listed sweep {s!r}"
    if "blockedDeployment" in s:
        blocked = _flag(s, "blockedDeployment")
        assert "passed" not in s or _flag(s, "passed") is not blocked, f"blockedDeployment is NOT passed: {s}"
        return blocked
    assert "passed" in s, f"sweep without blockedDeployment or passed: {s}"
    return not _flag(s, "passed")


@checker(FILE, "drift_block")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    if "sweep" in inp:
        s = inp["sweep"]
        assert not set(s) - _SWEEP_KEYS, f"cannot interpret sweep fields {sorted(set(s) - _SWEEP_KEYS)}"
        assert set(inp) == {"sweep"}, f"cannot interpret drift_block input {sorted(inp)}"
        sweep = DriftSweep(SweepType(s.get("sweepType", "prompt_version_change")), "1.0.0", "m", "1.0.0", "m",
                           int(s.get("goldSetSize", 0)), float(s.get("meanScoreDelta", 0)),
                           float(s.get("maxScoreDelta", 0)), float(s.get("promptInjectionPassRate", 1.0)),
                           _flag(s, "passed"), tuple(s.get("failureReasons", ())), FIXED_NOW)
        assert_matches({"blockedDeployment": sweep.blocked_deployment, "passed": sweep.passed,
                        "deployAllowed": not sweep.blocked_deployment}, expected_of(case), tolerances(case))
        return
    assert "sweeps" in inp and not set(inp) - _WINDOW_KEYS, f"cannot interpret drift_block input {sorted(inp)}"
    sweeps = [SweepView(parse_time(s["runAt"]), _blocked(s)) for s in inp["sweeps"]]
    lookback = timedelta(days=float(inp.get("lookbackDays", 7)))
    now = parse_time(inp["now"]) if "now" in inp else FIXED_NOW
    view = {"recentBlock": recent_block(sweeps, now, lookback), "latestDeployAllowed": latest_deploy_allowed(sweeps)}
    assert_matches(view, expected_of(case), tolerances(case))
