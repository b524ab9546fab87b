"""The postmortem report as Markdown: the §8 sections with the system's data filled in, for the author to edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _timeline(report: Mapping[str, Any]) -> list[str]:
    out = ["| # | time (UTC) | kind | aggregate | what | actor |", "|---|---|---|---|---|---|"]
    out += [f"| {x['notificationId']} | {x['at']} | {x['kind']} | {_cell(x['aggregate'])} | {_cell(x['summary'])}"
            f" | {_cell(x['actor'] or '')} |" for x in report["timeline"]]
    return out


def _invariants(inv: Mapping[str, Any]) -> list[str]:
    out = [f"{inv['evaluations']} evaluation(s), {inv['legacyEvaluations']} legacy.", ""]
    if inv["legacyNote"]:
        out += [f"_{inv['legacyNote']}_", ""]
    out += ["| invariant | severity | pass | fail | failures: actual vs threshold |", "|---|---|---|---|---|"]
    for i in inv["invariants"]:
        fails = "; ".join(f"{_cell(v['actual'])} vs {_cell(v['threshold'])}" for v in i["values"] if not v["passed"])
        out.append(f"| {i['id']} {i['name'] or ''} | {i['severity'] or ''} | {i['passed']} | {i['failed']}"
                   f" | {fails} |")
    return out


def _audit(audit: Mapping[str, Any]) -> list[str]:
    anchors = audit["anchors"]
    last = anchors["lastBeforeWindow"]
    return [
        f"- chain intact over the window: **{'yes' if audit['chainIntact'] else 'NO'}**"
        f" (first bad sequence {audit['verification'].get('firstBadSequence')})",
        f"- sequence gaps: {audit['sequenceGaps'] or 'none'}",
        f"- events that no longer decode whole (left out above): "
        f"{[u['notificationId'] for u in audit.get('unreadableEvents', [])] or 'none'}",
        f"- evidence hashes referenced: {len(audit['evidence'])}, missing from the index: {audit['evidenceMissing']}",
        *[f"  - `{e['hash']}` ({'stored' if e['stored'] else 'NOT STORED'})" for e in audit["evidence"]],
        f"- last anchor before the window: {last['anchoredAt'] + ' (' + last['id'] + ')' if last else 'none'}",
        f"- anchors in the window: {len(anchors['inWindow'])}",
    ]


def render_markdown(report: Mapping[str, Any]) -> str:
    h, imp, det = report["header"], report["impact"], report["detection"]
    pnl = imp["realizedPnlUsd"]
    fees = imp["feesUsd"]
    lines = [
        f"# Postmortem {h['incidentId']}", "",
        "## Header", "",
        f"- window: {h['window']['from']} .. {h['window']['to']}",
        f"- first / last event: {h['firstEventAt']} / {h['lastEventAt']} ({h['events']} event(s))",
        "- severity, author, reviewers: _to fill_", "",
        "## Impact", "",
        f"- duration of the window: {imp['window']['durationSeconds']:.0f} s",
        f"- services emitting errors: {imp['errorsByService'] or 'none'}",
        f"- failed job runs: {len(imp['failedJobRuns'])}",
        f"- realized PnL from exits: {pnl['exits']:+.2f} USD ({pnl['exitFills']} exit fill(s)); resolutions:"
        f" {len(pnl['resolutions'])} ({pnl['resolutionPnl']})",
        f"- unrealized PnL: {imp['unrealizedPnlUsd']}",
        f"- fees paid in the window: {fees['total']:.2f} USD ({fees['fillsWithFee']} fill(s) with a fee,"
        f" {fees.get('corrections', 0)} correction(s) settled later +{fees.get('correctedUsd', 0):.2f} USD for"
        f" {fees.get('fillsFeeSettled', 0)} fill(s), {fees['fillsFeeUnknown']} unknown); the PnL figures above are"
        " gross",
        f"- orders touched: {imp['ordersTouched']}, positions touched: {imp['positionsTouched']}", "",
        "## Timeline (UTC)", "", *_timeline(report), "",
        "## Detection", "",
        f"- first anomalous event: {_point(det['firstAnomaly'])}",
        f"- first alert: {_point(det['firstAlert'])}"
        + (f", alert {det['firstAlert']['alert']}" if det["firstAlert"] else " (no alert fired)"),
        f"- detection delay: {det['detectionDelaySeconds']} s", "",
        "## Response", "",
        *([f"- {r['at']} {r['actor']}: {r['aggregate']}: {r['summary']}" for r in report["response"]]
          or ["- no operator command in the window"]), "",
        "## Invariant analysis", "", *_invariants(report["invariants"]), "",
        "## Circuit breaker analysis", "",
        *([f"- {b['line']} [{b['trigger']}, {b['actor']}] {b['metrics'] or ''}" for b in report["breaker"]]
          or ["- no transition in the window"]), "",
        "## Audit trail verification", "", *_audit(report["audit"]), "",
        "## Root cause, action items, prevention, lessons learned, approvals", "", "_to fill_", "",
    ]
    return "\n".join(lines)


def _point(p: Mapping[str, Any] | None) -> str:
    return "none" if p is None else f"#{p['notificationId']} at {p['at']}: {p['aggregate']}: {p['summary']}"
