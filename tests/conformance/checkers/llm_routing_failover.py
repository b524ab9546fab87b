"""llm-routing §6.2-§6.3: chain walk with scripted per-attempt outcomes."""

from typing import Any

from tests.conformance.checkers._llm_support import FILE, check_routed
from tests.conformance.registry import Context, checker


@checker(FILE, "failover")
def check(case: Any, ctx: Context) -> None:
    assert "attemptOutcomes" in case["input"], "a failover case scripts attemptOutcomes"
    check_routed(case)
