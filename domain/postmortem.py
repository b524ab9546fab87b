"""Postmortem data from the log (trading §8 table): header, impact, timeline, detection and response.

Pure functions over decoded events of one window, so every section is testable without a database; the log
is the record, never the views, which may be rebuilt or lagging (ADR 0404). Analyses of invariants, the breaker
and the audit trail are in ``postmortem_analysis``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.domain.clock import iso_utc
from paulp.domain.postmortem_topics import Kind, is_classified, kind_of

_TIME_FIELDS = ("at", "updated_at", "set_at", "withdrawn_at", "declared_at", "approved_at", "requested_at",
                "signed_off_at", "detected_at", "proposed_at", "run_at", "completed_at", "failed_at", "created_at",
                "started_at", "seeded_at")
_KEYS = ("order_id", "job", "scope", "source_name", "strategy_id", "ticker", "market_id", "run_id", "decision_id",
         "check_id", "pair_id", "violation_id", "request_id", "consumer", "strategy")
_ACTOR_FIELDS = ("actor", "operator", "approver", "signed_off_by", "proposed_by", "resolved_by", "reviewed_by",
                 "requested_by")
OPERATOR_TRIGGERS = frozenset({"manual", "reset"})
ESCALATED = frozenset({"CAUTION", "HALT"})
NOT_DERIVABLE_UNREALIZED = "not derivable: no event in the window to place its edges in the log"
NOT_DERIVABLE_RESOLUTION = "not derivable: no event in the window to place its edges in the log"


class InvalidIncidentId(ValueError):
    """Raised when a given incident id is blank, too long or holds control characters."""


@dataclass(frozen=True)
class LoggedEvent:
    """One stored event of the window: its place in the log, its chain record time, and the decoded event."""

    notification_id: int
    recorded_at: datetime | None
    originator_id: str
    event: Any

    @property
    def name(self) -> str:
        return type(self.event).__qualname__

    @property
    def aggregate(self) -> str:
        """The aggregate's name; an order's events are declared on ``OrderRecord`` but are the Order's."""
        name = self.name.split(".", 1)[0]
        return "Order" if name == "OrderRecord" else name

    @property
    def at(self) -> datetime | None:
        """When it happened (the event's business time), else when it was recorded."""
        for field in _TIME_FIELDS:
            value = getattr(self.event, field, None)
            if isinstance(value, datetime):
                return value
        return self.recorded_at


@dataclass(frozen=True)
class FeeSettlement:
    """A fee left unknown at a fill and settled later from Kalshi (``FeesCorrected`` of an order, ADR 0448, or of
    an exit, ADR 0449), read from the whole log: it counts with its fill (the one at ``counted_at``), whenever the
    correction itself was recorded."""

    notification_id: int
    originator_id: str
    fee_cents: Decimal
    counted_at: datetime


def incident_id(start: datetime, end: datetime, given: str | None = None) -> str:
    """The given id, or one derived from the window alone: the same window always gets the same id."""
    if given is not None:
        text = given.strip()
        if not text or len(text) > 100 or any(ord(c) < 32 for c in text):
            raise InvalidIncidentId("--incident-id must be 1 to 100 printable characters")
        return text
    digest = hashlib.sha256(f"{iso_utc(start)}|{iso_utc(end)}".encode()).hexdigest()[:8]
    return f"INC-{start.strftime('%Y%m%dT%H%MZ')}-{digest}"


def _stamp(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at)


def label(entry: LoggedEvent, origins: Mapping[str, Any]) -> str:
    """Aggregate and its natural key (from the event or the aggregate's first event)."""
    first = origins.get(entry.originator_id)
    for key in _KEYS:
        for source in (entry.event, first):
            value = getattr(source, key, None)
            if isinstance(value, str) and value:
                return f"{entry.aggregate} {value}"
    return f"{entry.aggregate} {entry.originator_id[:8]}"


def operator_actor(entry: LoggedEvent) -> str | None:
    """Who commanded it, when an operator did: breaker moves by the manual table or a reset, and changes."""
    ev = entry.event
    if entry.name == "CircuitBreaker.Transitioned":
        return str(ev.actor) if ev.trigger in OPERATOR_TRIGGERS else None
    if kind_of(entry.name) not in (Kind.CHANGE, Kind.OPERATOR):
        return None
    for field in _ACTOR_FIELDS:
        value = getattr(ev, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def _risk_summary(ev: Any) -> str:
    evaluation = ev.evaluation
    approved = bool(ev.result.get("approved"))
    if evaluation is None:
        ids = ", ".join(ev.result.get("invariantIds") or ()) or "none named"
        return "risk check approved (legacy record)" if approved else f"risk check BLOCKED: {ids} (legacy record)"
    counts = f"{evaluation['passedCount']}/{evaluation['invariantsEvaluated']} passed"
    if approved:
        return f"risk check approved ({counts})"
    return f"risk check BLOCKED: {', '.join(evaluation['criticalIds'])} ({counts})"


def summary(entry: LoggedEvent) -> str:
    """One short human line for the event."""
    ev, name = entry.event, entry.name
    short = name.split(".", 1)[1]
    if name == "CircuitBreaker.Transitioned":
        return f"{ev.from_state} -> {ev.to_state} ({ev.reason}) by {ev.actor} [{ev.trigger}]"
    if short == "Transitioned":
        return f"{ev.from_state} -> {ev.to_state}: {ev.reason}"
    if short == "RiskChecked":
        return _risk_summary(ev)
    if short == "FillRecorded":
        return f"filled {ev.fill_size} @ {ev.fill_price} (total {ev.filled_size})"
    if name == "PositionExit.FeesCorrected":  # ADR 0449: an exit sell's unknown fee, counted at its fill's time
        return f"exit fee settled +{ev.fee_cents}c (Kalshi's total, fill at {_stamp(ev.counted_at)})"
    if short == "FeesCorrected":  # ADR 0448: unknown fees settled from Kalshi, counted at the latest fill's time
        return f"fees settled +{ev.fee_cents}c for {ev.fills_settled} fills (Kalshi's total {ev.venue_fees_cents}c)"
    if name == "PositionExit.Filled":
        return f"exit filled {ev.size} @ {ev.exit_price}, realized {ev.realized_pnl_usd:+.2f} USD"
    if name == "CircuitBreaker.AlertRaised":
        return f"{ev.severity} {ev.code}: {ev.message}".rstrip(": ")
    if name == "CircuitBreaker.TailEvaluated":
        return f"tail HHI {ev.hhi:.3f}, {'compliant' if ev.compliant else 'BREACH'}"
    if entry.aggregate == "Order" and short == "Created":
        return f"created {ev.side} {ev.requested_size} {ev.ticker} @ <= {ev.max_price} ({ev.strategy})"
    parts = [f"{k}={_short(getattr(ev, k))}" for k in (
        "to_status", "mode", "changes", "code", "severity", "percent_used", "result", "passed", "drift_count",
        "error", "error_code", "detail", "message", "reason") if getattr(ev, k, None) not in (None, "", {}, [])]
    return f"{short}: {', '.join(parts)}" if parts else short


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class TimelineLine:
    notification_id: int
    at: datetime | None
    kind: Kind
    aggregate: str
    summary: str
    actor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"notificationId": self.notification_id, "at": _stamp(self.at), "kind": self.kind.value,
                "aggregate": self.aggregate, "summary": self.summary, "actor": self.actor}


def timeline(entries: Sequence[LoggedEvent], origins: Mapping[str, Any]) -> list[TimelineLine]:
    """The classified events in log order (the one global order, not the business times)."""
    lines = []
    for e in sorted(entries, key=lambda x: x.notification_id):
        kind = kind_of(e.name)
        if kind is not None:
            lines.append(TimelineLine(e.notification_id, e.at, kind, label(e, origins), summary(e), operator_actor(e)))
    return lines


def header(entries: Sequence[LoggedEvent], ident: str, start: datetime, end: datetime) -> dict[str, Any]:
    ordered = sorted(entries, key=lambda x: x.notification_id)
    unknown = Counter(e.name for e in ordered if not is_classified(e.name))
    return {"incidentId": ident, "window": {"from": iso_utc(start), "to": iso_utc(end)},
            "firstEventAt": _stamp(ordered[0].recorded_at) if ordered else None,
            "lastEventAt": _stamp(ordered[-1].recorded_at) if ordered else None,
            "firstNotificationId": ordered[0].notification_id if ordered else None,
            "lastNotificationId": ordered[-1].notification_id if ordered else None,
            "events": len(ordered), "unclassifiedEvents": dict(sorted(unknown.items()))}


def _service(entry: LoggedEvent, origins: Mapping[str, Any]) -> str:
    if entry.aggregate == "JobRun":
        return f"job {getattr(origins.get(entry.originator_id), 'job', '?')}"
    return entry.aggregate


def _position(entry: LoggedEvent, origins: Mapping[str, Any]) -> tuple[str, str, str] | None:
    source = origins.get(entry.originator_id, entry.event)
    keys = tuple(getattr(source, k, None) for k in ("strategy", "ticker", "side"))
    return (str(keys[0]), str(keys[1]), str(keys[2])) if all(isinstance(k, str) for k in keys) else None


def window_fees(fills: Sequence[LoggedEvent], settlements: Sequence[FeeSettlement]) -> dict[str, Any]:
    """Fees paid in the window: those the window's fills (buys and exit sells) carried (ADR 0437) plus each later
    correction whose fill is one of them (ADR 0449): the order's or exit's fill recorded without a fee at the time
    the correction counts at (``counted_at``, copied from that fill; an order's several fills count at the latest,
    ADR 0448), wherever in the log the correction was recorded. A fill without a fee that a correction of its order
    or exit settled (one counted at or after the fill) is ``fillsFeeSettled``, no longer unknown."""
    known = [f for e in fills if (f := getattr(e.event, "fee_cents", None)) is not None]
    unknown = [e for e in fills if getattr(e.event, "fee_cents", None) is None]
    times = {(e.originator_id, e.event.at) for e in unknown}
    counted = [s for s in settlements if (s.originator_id, s.counted_at) in times]
    latest: dict[str, datetime] = {}
    for s in settlements:
        latest[s.originator_id] = max(s.counted_at, latest.get(s.originator_id, s.counted_at))
    settled = [e for e in unknown if (last := latest.get(e.originator_id)) is not None and e.event.at <= last]
    corrected = sum((s.fee_cents for s in counted), Decimal(0))
    return {"total": round(float(sum(known, Decimal(0)) + corrected) / 100, 6), "fillsWithFee": len(known),
            "fillsFeeUnknown": len(unknown) - len(settled), "fillsFeeSettled": len(settled),
            "correctedUsd": round(float(corrected) / 100, 6), "corrections": len(counted)}


def impact(entries: Sequence[LoggedEvent], origins: Mapping[str, Any], start: datetime, end: datetime,
           pnl: tuple[Mapping[str, Any], Mapping[str, Any]] | None = None,
           settlements: Sequence[FeeSettlement] = ()) -> dict[str, Any]:
    """§8 Impact: window, failed services, PnL (exits from the window; unrealised at both edges and what
    resolutions settled from ``pnl``, the book folded from the log before it), fees (with the later corrections
    of the window's fills, ``settlements``), orders and positions touched."""
    errors = [e for e in entries if kind_of(e.name) is Kind.ERROR]
    failed_runs = [{"notificationId": e.notification_id, "job": getattr(origins.get(e.originator_id), "job", None),
                    "error": e.event.error, "at": _stamp(e.at)} for e in errors if e.name == "JobRun.Failed"]
    exits = [e for e in entries if e.name == "PositionExit.Filled"]
    realized = round(sum(float(e.event.realized_pnl_usd) for e in exits), 2)
    resolutions = [{"notificationId": e.notification_id, "ticker": e.event.ticker, "result": e.event.result,
                    "at": _stamp(e.at)} for e in entries if e.name == "MarketMark.Resolved"]
    fills = [e for e in entries if e.name in ("Order.FillRecorded", "OrderRecord.FillRecorded", "PositionExit.Filled")]
    orders = {e.originator_id for e in entries if e.aggregate == "Order"}
    positions = {p for e in entries
                 if e.name in ("Order.FillRecorded", "OrderRecord.FillRecorded") or e.aggregate == "PositionExit"
                 if (p := _position(e, origins)) is not None}
    return {
        "window": {"from": iso_utc(start), "to": iso_utc(end), "durationSeconds": (end - start).total_seconds()},
        "failedJobRuns": failed_runs,
        "errorsByService": dict(sorted(Counter(_service(e, origins) for e in errors).items())),
        "realizedPnlUsd": {"exits": realized, "exitFills": len(exits), "resolutions": resolutions,
                           "resolutionPnl": dict(pnl[1]) if pnl else NOT_DERIVABLE_RESOLUTION},
        "unrealizedPnlUsd": dict(pnl[0]) if pnl else NOT_DERIVABLE_UNREALIZED,
        # fees paid by the fills inside the window and settled for them later (ADRs 0437, 0449); PnL stays gross
        "feesUsd": window_fees(fills, settlements),
        "ordersTouched": len(orders),
        "positionsTouched": len(positions),
    }


def anomaly(entry: LoggedEvent) -> str | None:
    """Why an event is anomalous (a block, an error, drift, a failed check, an escalation, an alert), or None."""
    ev, name, kind = entry.event, entry.name, kind_of(entry.name)
    if name.endswith(".RiskChecked") and not ev.result.get("approved"):
        return "risk check blocked"
    if name == "IngestionBlocked.Recorded" and ev.status != "allowed":
        return f"ingestion {ev.status}"
    if kind is Kind.ERROR:
        return "error"
    if kind is Kind.ALERT:
        return "alert"
    if name == "CircuitBreaker.Transitioned" and ev.to_state in ESCALATED and ev.trigger not in OPERATOR_TRIGGERS:
        return "breaker escalation"
    if name == "CircuitBreaker.TailEvaluated" and not ev.compliant:
        return "tail concentration breach"
    if kind is Kind.CHECK and _check_failed(ev):
        return "check found drift or failures"
    return None


def _check_failed(ev: Any) -> bool:
    results = getattr(ev, "results", None)
    failed_case = isinstance(results, list) and any(
        isinstance(r, dict) and r.get("status") == "failed" for r in results)
    return bool(getattr(ev, "drift_count", 0)) or getattr(ev, "passed", None) is False \
        or bool(getattr(ev, "failed", 0)) or failed_case


def detection(entries: Sequence[LoggedEvent], origins: Mapping[str, Any]) -> dict[str, Any]:
    """First anomalous event against the first alert that fired, and the delay between them."""
    ordered = sorted(entries, key=lambda x: x.notification_id)
    first_bad = next(((e, why) for e in ordered if (why := anomaly(e)) is not None), None)
    first_alert = next((e for e in ordered if kind_of(e.name) is Kind.ALERT), None)

    def point(e: LoggedEvent) -> dict[str, Any]:
        return {"notificationId": e.notification_id, "at": _stamp(e.at), "aggregate": label(e, origins),
                "summary": summary(e)}

    delay = None
    if first_bad is not None and first_alert is not None and first_bad[0].at and first_alert.at:
        delay = (first_alert.at - first_bad[0].at).total_seconds()
    return {
        "firstAnomaly": None if first_bad is None else {**point(first_bad[0]), "why": first_bad[1]},
        "firstAlert": None if first_alert is None else {**point(first_alert),
                                                        "alert": getattr(first_alert.event, "code", first_alert.name)},
        "alertFired": first_alert is not None,
        "detectionDelaySeconds": delay,
    }


def response(lines: Sequence[TimelineLine]) -> list[dict[str, Any]]:
    """Operator commands with actor and time, from the timeline."""
    return [{"notificationId": x.notification_id, "at": _stamp(x.at), "actor": x.actor, "aggregate": x.aggregate,
             "summary": x.summary} for x in lines if x.actor is not None]
