"""trading.json::paper_harness_source_results against paulp.domain.paper_harness and exits (trading §6.4).

What this group is: the *source* harness's recorded run (its ``status`` says so) plus one normative
part, the grade-label mapping. The eight price paths are not in the vectors, so the source results
cannot be replayed scenario by scenario. They are checked as follows, never passed unread:

* ``normative_grade_label_mapping``: every score → label pair against ``grade_label``.
* ``source_grade_label_for_all_poor``: the source's off-by-one label for an all-POOR run must be
  the normative label one score higher (what the spec calls "score 1 → ACCEPTABLE"), and our code
  must give the normative label (POOR) for that same run.
* each ``results`` row: the recorded exit must be one our exit rules produce. Stops and targets are
  booked at the trigger level, so the entry is implied (fill / 0.97, fill / 1.5) and the size by
  the PnL, both in decimal (a target of 49.95 implies an entry of 33.3, not binary's
  33.300000000000004); that entry and size replayed through ``walk_price_path`` must give the same
  reason, fill and PnL. A time exit's entry is not implied; some whole size must give an entry
  inside the hold band whose replay (held past 168 h) reproduces the fill and PnL. Rows without an
  exit must book no PnL; ``passed`` must agree with ``errors``; a kill-switch row must carry its message.
* ``summary``: recomputed from the rows by ``summarize`` (wins, losses, win rate, PnL, gate, blocking
  issues, decision). Only ``avgExecutionGrade`` differs by design: the source value must be the label
  one score above the rows' average (ungraded rows score 1, so an ungraded run also matches the
  documented all-POOR label), ours the normative one.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from paulp.domain.exits import MAX_HOLDING_HOURS, STOP_LOSS_FACTOR, TAKE_PROFIT_FACTOR, ExitReason
from paulp.domain.paper_harness import (
    GRADE_LABELS,
    GRADE_SCORES,
    PricePoint,
    ScenarioOutcome,
    grade_label,
    summarize,
    walk_price_path,
)
from tests.conformance.checkers.trading_reconciliation import close, sectioned
from tests.conformance.registry import Context, checker

_EXIT_FLAGS = {
    "stopLoss": ExitReason.STOP_LOSS_HIT,
    "takeProfit": ExitReason.TAKE_PROFIT_HIT,
    "timeExit": ExitReason.TIME_LIMIT_EXCEEDED,
}
_TRIGGER = {"stopLoss": STOP_LOSS_FACTOR, "takeProfit": TAKE_PROFIT_FACTOR}
_MAX_SIZE = 10_000


def _status(text: Any, _: Context) -> None:
    assert isinstance(text, str) and "source" in text.lower(), f"status must say these are source results: {text!r}"


def _replay(row: dict[str, Any], entry: float, size: int, reason: ExitReason) -> bool:
    hour = MAX_HOLDING_HOURS + 1 if reason is ExitReason.TIME_LIMIT_EXCEEDED else 1.0
    got = walk_price_path(entry, size, [PricePoint(hour, float(row["fillPrice"]))])
    return (
        got is not None
        and got.reason is reason
        and math.isclose(got.exit_price, row["fillPrice"], abs_tol=1e-6)
        and math.isclose(got.realized_pnl, row["realizedPnL"], abs_tol=1e-6)
    )


_ROW_KEYS = frozenset({"scenario", "type", "passed", "errors", "stopLoss", "takeProfit", "timeExit", "killSwitch",
                       "circuitBreaker", "tailViolation", "fillPrice", "realizedPnL", "executionGrade", "note"})
_SUMMARY_KEYS = frozenset({"passed", "failed", "avgExecutionGrade", "totalWins", "totalLosses", "winRate",
                           "totalRealizedPnL", "gate", "decision"})
_GATE_KEYS = frozenset({"winRate", "winRateMet", "pnl", "pnlMet", "executionQuality", "executionQualityMet",
                        "scenarioPass", "scenarioPassMet", "blockingIssues", "phaseDGo"})


def _result(row: Any, _: Context) -> None:
    stray = set(row) - _ROW_KEYS
    assert not stray, f"result row fields this checker cannot interpret: {sorted(stray)}"
    assert row["passed"] == (not row["errors"]), f"passed={row['passed']} but errors={row['errors']}"
    exits = [flag for flag in _EXIT_FLAGS if row.get(flag)]
    assert len(exits) <= 1, f"several exits recorded: {exits}"
    fill, pnl = float(row["fillPrice"]), float(row["realizedPnL"])
    if row.get("killSwitch"):
        assert any("kill switch" in e.lower() for e in row["errors"]), f"kill switch without message: {row}"
    if not exits:
        assert pnl == 0, f"no exit recorded but realized PnL {pnl}"
        return
    flag = exits[0]
    reason = _EXIT_FLAGS[flag]
    if flag in _TRIGGER:
        # the entry is implied in decimal: 49.95 / 1.5 is 33.3 there, while binary gives 33.300000000000004,
        # whose target lies above the recorded fill and so would replay as no exit at all
        implied = Decimal(repr(fill)) / _TRIGGER[flag]
        entry = float(implied)
        size = round(Decimal(repr(pnl)) / (Decimal(repr(fill)) - implied))
        assert size > 0, f"{flag}: PnL {pnl} has the wrong sign for a fill at {fill}"
        assert _replay(row, entry, size, reason), f"{flag}: entry {entry}, size {size} does not reproduce {row}"
        return
    candidates = ((fill - pnl / size, size) for size in range(1, _MAX_SIZE) if fill - pnl / size > 0)
    assert any(_replay(row, entry, size, reason) for entry, size in candidates), (
        f"no whole size gives a time exit at {fill} with PnL {pnl}"
    )


def _outcomes(ctx: Context) -> list[ScenarioOutcome]:
    rows = ctx.document[ctx.group]["results"]
    return [ScenarioOutcome(r["passed"], float(r["realizedPnL"]), r.get("executionGrade")) for r in rows]


def _summary(summary: Any, ctx: Context) -> None:
    stray = (set(summary) - _SUMMARY_KEYS) | {f"gate.{k}" for k in set(summary["gate"]) - _GATE_KEYS}
    assert not stray, f"summary fields this checker cannot interpret: {sorted(stray)}"
    got = summarize(_outcomes(ctx))
    assert got.passed == summary["passed"] and got.failed == summary["failed"], f"passed/failed {got}"
    assert got.total_wins == summary["totalWins"], f"wins {got.total_wins}"
    assert got.total_losses == summary["totalLosses"], f"losses {got.total_losses}"
    close(got.win_rate, summary["winRate"], "winRate")
    close(got.total_realized_pnl, summary["totalRealizedPnL"], "totalRealizedPnL")
    gate, want = got.gate, summary["gate"]
    close(gate.win_rate, want["winRate"], "gate.winRate")
    assert gate.win_rate_met == want["winRateMet"], "gate.winRateMet"
    close(gate.pnl, want["pnl"], "gate.pnl")
    assert gate.pnl_met == want["pnlMet"], "gate.pnlMet"
    close(gate.execution_quality, want["executionQuality"], "gate.executionQuality")
    assert gate.execution_quality_met == want["executionQualityMet"], "gate.executionQualityMet"
    assert gate.scenario_pass == want["scenarioPass"], "gate.scenarioPass"
    assert gate.scenario_pass_met == want["scenarioPassMet"], "gate.scenarioPassMet"
    assert list(gate.blocking_issues) == want["blockingIssues"], f"blocking issues {gate.blocking_issues}"
    assert gate.phase_d_go == want["phaseDGo"], "gate.phaseDGo"
    assert got.decision.value == summary["decision"], f"decision {got.decision}"
    # the source labels an average score one step too high (§6.4: score 1 → ACCEPTABLE, 4 → UNKNOWN); an
    # ungraded scenario scores 1 (POOR), which is how an all-ungraded run gets the documented all-POOR label
    outcomes = _outcomes(ctx)
    scores = [GRADE_SCORES.get(o.execution_grade or "", 1) for o in outcomes] or [1]
    average = sum(scores) / len(scores)
    assert summary["avgExecutionGrade"] == grade_label(average + 1), (
        f"source avg grade {summary['avgExecutionGrade']!r} is not the off-by-one label of score {average}"
    )
    assert got.avg_execution_grade == grade_label(average), f"avg grade {got.avg_execution_grade} for {average}"
    if all(o.execution_grade is None for o in outcomes):
        documented = ctx.document[ctx.group].get("source_grade_label_for_all_poor")
        assert summary["avgExecutionGrade"] == documented, (
            f"source avg grade {summary['avgExecutionGrade']!r} is not the documented source label {documented!r}"
        )
        assert got.avg_execution_grade == GRADE_LABELS[1], f"ungraded run must average POOR: {got.avg_execution_grade}"


def _mapping(mapping: Any, _: Context) -> None:
    assert isinstance(mapping, dict) and mapping, f"mapping must be a non-empty object: {mapping!r}"
    for score, label in mapping.items():
        assert grade_label(float(score)) == label, f"grade {score}: {grade_label(float(score))}, expected {label}"


def _source_all_poor(label: Any, ctx: Context) -> None:
    assert label == grade_label(2), f"source all-POOR label {label!r} is not the off-by-one {grade_label(2)!r}"
    assert grade_label(1) == ctx.document[ctx.group]["normative_grade_label_mapping"]["1"], "normative POOR"
    assert grade_label(1) != label, "normative code must not repeat the source's off-by-one label"


SPLIT, CHECK = sectioned(
    {
        "status": _status,
        "results": _result,
        "summary": _summary,
        "normative_grade_label_mapping": _mapping,
        "source_grade_label_for_all_poor": _source_all_poor,
    }
)


@checker("trading.json", "paper_harness_source_results", split=SPLIT)
def check(case: Any, ctx: Context) -> None:
    CHECK(case, ctx)
