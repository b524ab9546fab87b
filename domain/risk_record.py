"""The record of one risk evaluation (trading §3.3, §8): what an order's ``RiskChecked`` event keeps of it.

§3.3 asks for every evaluation to be recorded (approved, passed and failed counts, critical and warning ids).
§8's postmortem needs each invariant's pass or fail, with its actual value against its threshold. The canonical
input document is kept whole, so the recorded input hash can be checked again from the log alone (ADR 0377).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from paulp.domain.risk import InvalidRiskInput, RiskDecision, input_hash_of


def _json_value(value: Any) -> Any:
    """A non-finite measurement (a huge size over a tiny book) as its text: JSON has no such number."""
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


def evaluation_record(decision: RiskDecision) -> dict[str, Any]:
    """Every invariant's outcome, the counts and ids §3.3 lists, and the input its hash was taken over."""
    results = [{"id": r.invariant_id.value, "name": r.name, "passed": r.passed, "severity": r.severity.value,
                "actual": _json_value(r.actual_value), "threshold": _json_value(r.threshold), "message": r.message}
               for r in decision.results]
    passed = sum(1 for r in results if r["passed"])
    return {
        "approved": decision.approved,
        "breakerState": decision.breaker_state,
        "countsTowardBreaker": decision.counts_toward_breaker,
        "invariantsEvaluated": len(results),
        "passedCount": passed,
        "failedCount": len(results) - passed,
        "criticalIds": [v.invariant_id for v in decision.violations],
        "warningIds": [w.invariant_id for w in decision.warnings],
        "results": results,
        "inputHash": decision.input_hash,
        "input": copy.deepcopy(dict(decision.input_document)),
    }


def stored_input_verifies(evaluation: Mapping[str, Any]) -> bool:
    """Whether a recorded evaluation's input document hashes to its recorded input hash."""
    document, recorded = evaluation.get("input"), evaluation.get("inputHash")
    if not isinstance(document, Mapping) or not isinstance(recorded, str):
        return False
    try:
        return input_hash_of(document) == recorded
    except InvalidRiskInput:
        return False
