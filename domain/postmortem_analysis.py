"""Postmortem analyses (trading §8): invariants, circuit breaker, audit trail, and the whole report.

Invariant counts come from each order's recorded evaluation (``RiskChecked`` v2, ADR 0377); an older event kept
only its violations, so it adds failures and no passes and is counted as legacy (ADR 0404).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paulp.domain.clock import iso_utc
from paulp.domain.evidence import named_evidence
from paulp.domain.postmortem import (
    FeeSettlement,
    LoggedEvent,
    detection,
    header,
    impact,
    label,
    response,
    timeline,
)

CONSECUTIVE_TO_HALT = 3
TAIL_HHI_LIMIT = 0.3
PORTFOLIO_CODES = frozenset({"DAILY_LOSS_ALERT", "DRAWDOWN_ALERT"})


def _invariant_key(invariant_id: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", invariant_id.split("_", 1)[0])
    return (int(digits) if digits else 999, invariant_id)


def invariant_analysis(entries: Sequence[LoggedEvent], origins: Mapping[str, Any]) -> dict[str, Any]:
    """Per invariant: pass and fail counts, and each evaluation's actual against its threshold."""
    stats: dict[str, dict[str, Any]] = {}
    evaluations = legacy = 0

    def row(invariant_id: str) -> dict[str, Any]:
        return stats.setdefault(invariant_id, {"id": invariant_id, "name": None, "severity": None, "passed": 0,
                                               "failed": 0, "legacyFailed": 0, "values": []})

    for e in sorted(entries, key=lambda x: x.notification_id):
        if not e.name.endswith(".RiskChecked"):
            continue
        evaluation = e.event.evaluation
        if evaluation is None:
            legacy += 1
            for invariant_id in e.event.result.get("invariantIds") or ():
                found = row(str(invariant_id))
                found["failed"] += 1
                found["legacyFailed"] += 1
            continue
        evaluations += 1
        for r in evaluation["results"]:
            found = row(str(r["id"]))
            found["name"], found["severity"] = r["name"], r["severity"]
            found["passed" if r["passed"] else "failed"] += 1
            found["values"].append({"notificationId": e.notification_id, "order": label(e, origins),
                                    "passed": bool(r["passed"]), "actual": r["actual"], "threshold": r["threshold"]})
    return {"evaluations": evaluations, "legacyEvaluations": legacy,
            "legacyNote": "legacy evaluations (RiskChecked v1) kept only their violations: failures counted, "
                          "passes unknown" if legacy else None,
            "invariants": [stats[k] for k in sorted(stats, key=_invariant_key)]}


def _metrics(trigger: str, streak: int, alert: Any, tail: Any, portfolio: Any) -> dict[str, Any]:
    if trigger == "risk_checks":
        return {"consecutiveBlockedChecks": streak, "threshold": CONSECUTIVE_TO_HALT,
                "note": "counted from the window's start or the breaker's last checkpoint in it"}
    if trigger == "tail_concentration" and tail is not None:
        return {"hhi": tail.hhi, "maxPct": tail.max_pct, "count": tail.count, "totalTailValue": tail.total_tail_value,
                "threshold": TAIL_HHI_LIMIT}
    if trigger in ("alert", "position_drift") and alert is not None:
        found = {"code": alert.code, "severity": alert.severity, "message": alert.message}
        if alert.code in PORTFOLIO_CODES and portfolio is not None:
            found.update(totalValue=portfolio.total_value, dailyPnl=portfolio.daily_pnl,
                         maxDrawdown=portfolio.max_drawdown)
        return found
    return {}


def breaker_analysis(entries: Sequence[LoggedEvent]) -> list[dict[str, Any]]:
    """Each transition as "STATE -> STATE @ HH:MM (reason)", with the metric values its trigger acted on."""
    out: list[dict[str, Any]] = []
    streak, alert, tail, portfolio = 0, None, None, None
    for e in sorted(entries, key=lambda x: x.notification_id):
        if e.aggregate != "CircuitBreaker":
            continue
        ev, short = e.event, e.name.split(".", 1)[1]
        if short == "RiskCheckRecorded":
            streak = streak + 1 if ev.blocked and ev.counted else (streak if ev.blocked else 0)
        elif short == "Checkpointed":  # the breaker's own count (ADR 0503), blocks before the window included
            streak = ev.consecutive_failures
        elif short == "AlertRaised":
            alert = ev
        elif short == "TailEvaluated":
            tail = ev
        elif short == "PortfolioAlertsChanged":
            portfolio = ev
        elif short == "Transitioned":
            at = ev.at
            out.append({"notificationId": e.notification_id, "at": iso_utc(at),
                        "line": f"{ev.from_state} -> {ev.to_state} @ {iso_utc(at)[11:16]} ({ev.reason})",
                        "trigger": ev.trigger, "actor": ev.actor,
                        "metrics": _metrics(ev.trigger, streak, alert, tail, portfolio)})
            streak = 0 if ev.reset_counter else streak
    return out


def evidence_references(entries: Iterable[LoggedEvent]) -> dict[str, list[int]]:
    """Every evidence hash an event of the window names, with the notification ids naming it."""
    refs: dict[str, list[int]] = {}
    for e in entries:
        for h in named_evidence(e.event):
            refs.setdefault(h, []).append(e.notification_id)
    return dict(sorted(refs.items()))


@dataclass(frozen=True)
class AnchorStamp:
    id: str
    anchor_sequence: int
    chain_length: int
    anchored_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "anchorSequence": self.anchor_sequence, "chainLength": self.chain_length,
                "anchoredAt": iso_utc(self.anchored_at)}


def audit_section(verification: Mapping[str, Any], evidence: Mapping[str, list[int]], stored: Iterable[str],
                  anchors: Sequence[AnchorStamp], start: datetime, end: datetime) -> dict[str, Any]:
    """Chain result over the window, gaps, each evidence hash and whether its blob is indexed, and the anchors
    around the window (the last one before it is what the chain up to the incident is pinned by)."""
    kept = set(stored)
    before = [a for a in anchors if a.anchored_at < start]
    during = [a for a in anchors if start <= a.anchored_at <= end]
    after = [a for a in anchors if a.anchored_at > end]
    items = [{"hash": h, "notificationIds": ids, "stored": h in kept} for h, ids in evidence.items()]
    return {
        "chainIntact": bool(verification.get("valid")),
        "verification": dict(verification),
        "sequenceGaps": list(verification.get("gaps") or []),
        "evidence": items,
        "evidenceMissing": sum(1 for i in items if not i["stored"]),
        "anchors": {"lastBeforeWindow": before[-1].to_dict() if before else None,
                    "inWindow": [a.to_dict() for a in during],
                    "firstAfterWindow": after[0].to_dict() if after else None},
    }


def build_report(entries: Sequence[LoggedEvent], origins: Mapping[str, Any], ident: str, start: datetime,
                 end: datetime, audit: Mapping[str, Any],
                 pnl: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
                 settlements: Sequence[FeeSettlement] = ()) -> dict[str, Any]:
    """The §8 data of one window, sections in the spec's order; ``pnl`` is the book's (unrealised, resolution)
    figures, which need the log before the window (``postmortem_pnl``; ADR 0434); ``settlements`` the fee
    corrections of the whole log, which count at their fills' times (ADR 0449)."""
    lines = timeline(entries, origins)
    return {
        "header": header(entries, ident, start, end),
        "impact": impact(entries, origins, start, end, pnl, settlements),
        "timeline": [x.to_dict() for x in lines],
        "detection": detection(entries, origins),
        "response": response(lines),
        "invariants": invariant_analysis(entries, origins),
        "breaker": breaker_analysis(entries),
        "audit": dict(audit),
    }
