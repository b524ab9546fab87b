"""How ``paulp orders show`` prints the risk evaluations an order's events recorded (trading §3.3, §8; ADR 0377).

The events table keeps one line per event, so a ``RiskChecked`` event's evaluation is summed up there and
printed in full below it: each invariant's pass or fail, actual against threshold, and whether the stored input
still hashes to the recorded input hash.
"""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.table import Table

from paulp.domain.risk_record import stored_input_verifies

HIDDEN = ("originator_id", "originator_version", "timestamp")


def event_detail(event: Any) -> dict[str, Any]:
    """An event's fields for its one line; a recorded evaluation is replaced by its counts."""
    detail = {k: v for k, v in event.__dict__.items() if k not in HIDDEN}
    evaluation = detail.get("evaluation")
    if isinstance(evaluation, dict):
        detail["evaluation"] = {k: evaluation.get(k) for k in ("passedCount", "failedCount", "recheck")}
    return detail


def _shown(value: Any) -> str:
    return "-" if value is None else value if isinstance(value, str) else json.dumps(value)


def evaluation_tables(events: list[Any]) -> list[Table]:
    """One table per recorded evaluation, oldest first; events without one (before ADR 0377) give none."""
    tables = []
    for e in events:
        evaluation = getattr(e, "evaluation", None)
        if not isinstance(evaluation, dict):
            continue
        verdict = "approved" if evaluation.get("approved") else "blocked"
        proof = "input verifies" if stored_input_verifies(evaluation) else "INPUT DOES NOT MATCH ITS HASH"
        title = (f"risk {'re-check' if evaluation.get('recheck') else 'check'} at {e.at.isoformat()}: {verdict}"
                 f" under {evaluation.get('breakerState')}; {evaluation.get('passedCount')} passed,"
                 f" {evaluation.get('failedCount')} failed; {proof}")
        table = Table("invariant", "passed", "severity", "actual", "threshold", "message", title=escape(title),
                      caption=escape(f"input hash {evaluation.get('inputHash')}"))
        for r in evaluation.get("results") or ():
            table.add_row(*(escape(cell) for cell in (
                str(r.get("id")), "yes" if r.get("passed") else "NO", str(r.get("severity")),
                _shown(r.get("actual")), _shown(r.get("threshold")), str(r.get("message")))))
        for critical in evaluation.get("criticalIds") or ():
            if not any(r.get("id") == critical for r in evaluation.get("results") or ()):
                table.add_row(str(critical), "NO", "critical", "-", "-", "no invariant ran (see the event)")
        tables.append(table)
    return tables
