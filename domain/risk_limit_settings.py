"""The operator's risk limits (trading §3.2: "updated by an operator (partial merge, audited)"), as events.

One singleton aggregate holds the limits row every risk check reads. Tightening takes effect at once: an operator
in an incident must not wait for anyone. Loosening is proposed by one operator and approved by another within
24 hours, against the limits the proposal was made on (ADR 0379). A refused change records nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.errors import DomainError
from paulp.domain.gate_checks import risk_limit_problems
from paulp.domain.governance import EquivalenceGrade
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.risk_limits import DEFAULT_LIMITS, FIELD_OF_WIRE, WIRE_NAMES, RiskLimits, UnknownRiskLimit
from paulp.domain.texts import bounded_text

PROPOSAL_TTL = timedelta(hours=24)
NAME_MAX, REASON_MAX = 200, 2000
GRADES = "allowedEquivalenceGrades"
KNOWN_GRADES = tuple(g.value for g in EquivalenceGrade)
PCT = frozenset({"maxPositionPct", "maxConcentrationPct", "maxMarketExposurePct", "maxCategoryExposurePct",
                 "maxDailyLossPct", "maxDrawdownPct", "maxWeeklyLossPct", "slippageKillThresholdPct"})
UNIT = frozenset({"maxVpin", "maxAmbiguityScore"})
HIGHER_IS_TIGHTER = frozenset({"minLiquidity", "minTimeToSettlementHours", "minOrderSize"})
# The rest of the §3.2 row: read as constants by the exits, the breaker and the tail check, so a stored value would
# change nothing; refused until each reader takes it from here (ADR 0379).
FIXED_IN_CODE = {"stopLossPct": "exits (domain/exits.py)", "takeProfitPct": "exits (domain/exits.py)",
                 "maxHoldingHours": "exits (domain/exits.py)", "haltTimeoutMinutes": "the breaker (breaker_rules)",
                 "cautionPositionScaling": "the breaker scaling (risk_limits.adjusted_limits)",
                 "maxTailHerfindahl": "the tail check (domain/tail.py)",
                 "maxTailPositionPct": "the tail check (domain/tail.py)"}


class InvalidRiskLimit(DomainError):
    """Raised when a limits change is empty, changes nothing, or gives a value or row outside the spec's bounds."""

    code = "INVALID_RISK_LIMIT"


class LooseningNeedsApproval(DomainError):
    """Raised when a direct update would loosen a limit: that takes a proposal and a second operator."""

    code = "LOOSENING_NEEDS_APPROVAL"


class ProposalRefused(DomainError):
    """Raised when a proposal cannot be made or approved (unknown, used, expired, stale, same operator)."""

    code = "PROPOSAL_REFUSED"


def limit_name(key: object) -> str:
    """The spec's name of a limit given either spelling (``maxPositionPct`` or ``max_position_pct``)."""
    name = key.strip() if isinstance(key, str) else ""
    wire = name if name in FIELD_OF_WIRE else WIRE_NAMES.get(name, "")
    if wire:
        return wire
    camel = name if name in FIXED_IN_CODE else "".join(
        p if i == 0 else p.capitalize() for i, p in enumerate(name.split("_")))
    if camel in FIXED_IN_CODE:
        raise UnknownRiskLimit(f"{camel} is read as a constant by {FIXED_IN_CODE[camel]}; it cannot be set here")
    raise UnknownRiskLimit(f"Unknown risk limit {key!r} (known: {', '.join(sorted(FIELD_OF_WIRE))})")


def limit_value(wire: str, value: object) -> float | tuple[str, ...]:
    """One limit's new value, checked against its own bounds (§3.2; the same bounds gate P4 checks)."""
    if wire == GRADES:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(g, str) for g in items):
            raise InvalidRiskLimit(f"{wire} must be a list of grades, got {value!r}")
        grades = tuple(dict.fromkeys(g.strip() for g in items if g.strip()))
        unknown = [g for g in grades if g not in KNOWN_GRADES]
        if not grades or unknown:
            raise InvalidRiskLimit(f"{wire} must be a non-empty list of {', '.join(KNOWN_GRADES)}, got {value!r}")
        return grades
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRiskLimit(f"{wire} must be a finite number, got {value!r}")
    number = float(value)
    if wire in PCT and not 0 < number <= 100:
        raise InvalidRiskLimit(f"{wire} must be in (0, 100], got {value!r}")
    if wire in UNIT and not 0 < number <= 1:
        raise InvalidRiskLimit(f"{wire} must be in (0, 1], got {value!r}")
    if wire == "maxSpread" and not 0 < number < 1:
        raise InvalidRiskLimit(f"{wire} must be in (0, 1), got {value!r}")
    if not number > 0:
        raise InvalidRiskLimit(f"{wire} must be > 0, got {value!r}")
    return number


def limit_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """An operator's partial update with names and values checked; JSON values (lists, not tuples)."""
    if not changes:
        raise InvalidRiskLimit("no limit to change")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        wire = limit_name(key)
        if wire in out:
            raise InvalidRiskLimit(f"{wire} given twice")
        checked = limit_value(wire, value)
        out[wire] = list(checked) if isinstance(checked, tuple) else checked
    return out


def loosened(current: Mapping[str, Any], changes: Mapping[str, Any]) -> list[str]:
    """The limits a change makes less strict: a higher maximum, a lower minimum, a grade added."""
    out = []
    for wire, new in changes.items():
        old = current[wire]
        if wire == GRADES:
            looser = not set(new) <= set(old)
        else:
            looser = new < old if wire in HIGHER_IS_TIGHTER else new > old
        if looser:
            out.append(wire)
    return sorted(out)


def _same(wire: str, new: Any, old: Any) -> bool:
    """Whether a value is the one in force (grades as a set: their order means nothing)."""
    if wire == GRADES and isinstance(old, list | tuple):
        return set(new) == set(old)
    return bool(new == old)


def _text(value: object, field: str, limit: int) -> str:
    return bounded_text(value, field, limit, InvalidRiskLimit)


@dataclass(frozen=True)
class CurrentLimits:
    """The base limits a risk check applies (before the breaker's scaling) and the version they have."""

    limits: RiskLimits
    version: int


class LimitsSource(Protocol):
    def current(self) -> CurrentLimits:
        """The limits in force now; raises when they cannot be read (never a default in their place)."""
        ...


class RiskLimitSettings(Aggregate):
    """The limits row (singleton): the spec's defaults until an operator changes them."""

    class Started(Aggregate.Created):
        baseline: dict[str, Any]  # the limits in force before the first change, kept so replay never reads code

    class Updated(Aggregate.Event):  # trading §9 RiskLimitsUpdated
        changes: dict[str, Any]
        previous: dict[str, Any]
        version: int
        actor: str
        reason: str
        updated_at: datetime
        proposal_id: str | None
        proposed_by: str | None

    class LooseningProposed(Aggregate.Event):
        proposal_id: str
        changes: dict[str, Any]
        previous: dict[str, Any]
        base_version: int
        actor: str
        reason: str
        proposed_at: datetime
        expires_at: datetime

    @staticmethod
    def create_id() -> UUID:
        return uuid5(PAULP_NAMESPACE, "risk-limits/global")

    @classmethod
    def start(cls) -> RiskLimitSettings:
        row: RiskLimitSettings = cls(baseline=DEFAULT_LIMITS.to_json())
        return row

    @event(Started)
    def __init__(self, baseline: dict[str, Any]) -> None:
        self.values: dict[str, Any] = dict(baseline)
        self.limits_version = 0
        self.proposals: dict[str, dict[str, Any]] = {}
        self.updated_by: str | None = None
        self.updated_at: datetime | None = None

    @property
    def limits(self) -> RiskLimits:
        return DEFAULT_LIMITS.merged(self.values)

    @property
    def current(self) -> CurrentLimits:
        return CurrentLimits(self.limits, self.limits_version)

    def _decide(self, changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """The real changes, the values they replace, and which loosen; a row that breaks a bound is refused."""
        checked = {k: v for k, v in limit_changes(changes).items() if not _same(k, v, self.values.get(k))}
        if not checked:
            raise InvalidRiskLimit("nothing changes: every value given is already in force")
        problems = risk_limit_problems({**self.values, **checked})
        if problems:
            raise InvalidRiskLimit("; ".join(problems))
        return checked, {k: self.values[k] for k in checked}, loosened(self.values, checked)

    def update(self, changes: Mapping[str, Any], actor: object, reason: object, now: datetime) -> int:
        """Apply a change that loosens nothing, at once; returns the new version."""
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        checked, previous, looser = self._decide(changes)
        if looser:
            raise LooseningNeedsApproval(
                f"{', '.join(looser)} would be loosened: propose it (`paulp risk limits propose`) and have a second"
                " operator approve it; tightening alone takes effect at once")
        self._updated(checked, previous, self.limits_version + 1, who, why, now, None, None)
        return self.limits_version

    def propose(self, changes: Mapping[str, Any], actor: object, reason: object, now: datetime) -> str:
        """Record a loosening for a second operator to approve within 24 h; returns the proposal's id. The same
        changes proposed again while a proposal of them can still be approved are that proposal, nothing recorded:
        a re-run script or a retried command must not leave two of them waiting (ADR 0517)."""
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        checked, previous, looser = self._decide(changes)
        if not looser:
            raise ProposalRefused("this change loosens nothing: apply it with `paulp risk limits set`")
        for waiting, p in self.pending(now).items():
            if set(p["changes"]) == set(checked) and all(_same(k, checked[k], p["changes"][k]) for k in checked):
                return waiting
        pid = f"P{len(self.proposals) + 1}"
        self._proposed(pid, checked, previous, self.limits_version, who, why, now, now + PROPOSAL_TTL)
        return pid

    def approve(self, proposal_id: object, actor: object, reason: object, now: datetime) -> int:
        """A second operator puts a proposal in force, if the limits are still those it was made on."""
        who, why = _text(actor, "actor", NAME_MAX), _text(reason, "reason", REASON_MAX)
        pid = proposal_id.strip().upper() if isinstance(proposal_id, str) else ""
        p = self.proposals.get(pid)
        if p is None:
            raise ProposalRefused(f"no proposal {proposal_id!r}")
        if p["approved_by"] is not None:
            raise ProposalRefused(f"proposal {pid} was already approved by {p['approved_by']}")
        if now > p["expires_at"]:
            raise ProposalRefused(f"proposal {pid} expired at {p['expires_at'].isoformat()}: propose it again")
        if who.casefold() == p["actor"].casefold():
            raise ProposalRefused(f"proposal {pid} was made by {p['actor']}: a second operator must approve it")
        if p["base_version"] != self.limits_version:
            raise ProposalRefused(f"the limits changed since proposal {pid} (version {p['base_version']} ->"
                                  f" {self.limits_version}): propose it again")
        problems = risk_limit_problems({**self.values, **p["changes"]})
        if problems:  # unreachable while the version is unchanged; kept as the last line of defence
            raise InvalidRiskLimit("; ".join(problems))
        self._updated(dict(p["changes"]), {k: self.values[k] for k in p["changes"]}, self.limits_version + 1, who, why,
                      now, pid, p["actor"])
        return self.limits_version

    @event(Updated)
    def _updated(self, changes: dict[str, Any], previous: dict[str, Any], version: int, actor: str, reason: str,
                 updated_at: datetime, proposal_id: str | None, proposed_by: str | None) -> None:
        self.values.update(changes)
        self.limits_version, self.updated_by, self.updated_at = version, actor, updated_at
        if proposal_id is not None:
            self.proposals[proposal_id]["approved_by"] = actor

    @event(LooseningProposed)
    def _proposed(self, proposal_id: str, changes: dict[str, Any], previous: dict[str, Any], base_version: int,
                  actor: str, reason: str, proposed_at: datetime, expires_at: datetime) -> None:
        self.proposals[proposal_id] = {"changes": changes, "previous": previous, "base_version": base_version,
                                       "actor": actor, "reason": reason, "proposed_at": proposed_at,
                                       "expires_at": expires_at, "approved_by": None}

    def pending(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Proposals that can still be approved now."""
        return {pid: p for pid, p in self.proposals.items() if p["approved_by"] is None
                and now <= p["expires_at"] and p["base_version"] == self.limits_version}
