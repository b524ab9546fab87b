"""Order lifecycle states and transition table (trading §1.2, §1.3): pure data any layer may show."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from paulp.domain.clock import iso_utc


class OrderState(StrEnum):
    PENDING = "PENDING"
    PRE_TRADE_CHECK = "PRE_TRADE_CHECK"
    PRE_TRADE_FAILED = "PRE_TRADE_FAILED"
    VALIDATING = "VALIDATING"
    VALIDATED = "VALIDATED"
    RISK_CHECK = "RISK_CHECK"
    RISK_APPROVED = "RISK_APPROVED"
    RISK_REJECTED = "RISK_REJECTED"
    RISK_TIMEOUT = "RISK_TIMEOUT"
    SUBMITTING = "SUBMITTING"
    SUBMITTED = "SUBMITTED"
    ORDER_ACKNOWLEDGED = "ORDER_ACKNOWLEDGED"
    PARTIAL_FILL = "PARTIAL_FILL"
    FILLED = "FILLED"
    PRICE_MOVE_CANCEL = "PRICE_MOVE_CANCEL"
    RECONCILED = "RECONCILED"
    RECONCILIATION_DRIFT = "RECONCILIATION_DRIFT"
    ARCHIVED = "ARCHIVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    ERROR = "ERROR"


S = OrderState

ALLOWED_TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = {
    S.PENDING: frozenset({S.PRE_TRADE_CHECK, S.VALIDATING, S.CANCELLED, S.ERROR}),
    S.PRE_TRADE_CHECK: frozenset({S.VALIDATING, S.PRE_TRADE_FAILED, S.ERROR}),
    S.PRE_TRADE_FAILED: frozenset(),
    S.VALIDATING: frozenset({S.VALIDATED, S.REJECTED, S.ERROR}),
    S.VALIDATED: frozenset({S.RISK_CHECK, S.CANCELLED, S.ERROR}),
    S.RISK_CHECK: frozenset({S.RISK_APPROVED, S.RISK_REJECTED, S.RISK_TIMEOUT, S.ERROR}),
    S.RISK_APPROVED: frozenset({S.SUBMITTING, S.CANCELLED, S.ERROR}),
    S.RISK_REJECTED: frozenset(),
    S.RISK_TIMEOUT: frozenset({S.RISK_CHECK, S.CANCELLED}),
    S.SUBMITTING: frozenset({S.SUBMITTED, S.REJECTED, S.ERROR}),
    S.SUBMITTED: frozenset(
        {S.ORDER_ACKNOWLEDGED, S.PARTIAL_FILL, S.FILLED, S.PRICE_MOVE_CANCEL, S.CANCELLED, S.EXPIRED, S.ERROR}
    ),
    S.ORDER_ACKNOWLEDGED: frozenset(
        {S.PARTIAL_FILL, S.FILLED, S.PRICE_MOVE_CANCEL, S.CANCELLED, S.EXPIRED, S.ERROR}
    ),
    S.PARTIAL_FILL: frozenset({S.FILLED, S.CANCELLED, S.EXPIRED, S.ERROR}),
    S.FILLED: frozenset({S.RECONCILED, S.RECONCILIATION_DRIFT}),
    S.PRICE_MOVE_CANCEL: frozenset(),
    S.RECONCILED: frozenset({S.ARCHIVED}),
    S.RECONCILIATION_DRIFT: frozenset({S.RECONCILED}),
    S.ARCHIVED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.ERROR: frozenset({S.PENDING}),
}

# Used for cancel refusal and metrics; FILLED is terminal for trading yet still reconciles.
TERMINAL_STATES: frozenset[OrderState] = frozenset(
    {S.FILLED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.RISK_REJECTED, S.PRE_TRADE_FAILED,
     S.PRICE_MOVE_CANCEL, S.ARCHIVED}
)

# Cancel is offered only where a cancel cannot race an in-flight step (§1.4 item 11).
CANCELLABLE_STATES: frozenset[OrderState] = frozenset(
    {S.PENDING, S.VALIDATED, S.RISK_APPROVED, S.RISK_TIMEOUT, S.SUBMITTED, S.ORDER_ACKNOWLEDGED,
     S.PARTIAL_FILL}
)

# Working at the venue: fills, acknowledgements and venue cancels/expiry apply here.
WORKING_STATES: frozenset[OrderState] = frozenset({S.SUBMITTED, S.ORDER_ACKNOWLEDGED, S.PARTIAL_FILL})

CLOSING_STATES: frozenset[OrderState] = frozenset(
    {S.FILLED, S.ARCHIVED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.RISK_REJECTED, S.PRE_TRADE_FAILED,
     S.PRICE_MOVE_CANCEL}
)

# An order in one of these still holds its (strategy, ticker, side) slot: a new signal for it is ignored.
OPEN_STATES: frozenset[OrderState] = frozenset(OrderState) - TERMINAL_STATES - {
    S.RECONCILED, S.RECONCILIATION_DRIFT}

# Reached only through FILLED (§1.3): an order in one of these filled, and the reconcile run moves FILLED orders here.
AFTER_FILL: frozenset[OrderState] = frozenset({S.RECONCILED, S.RECONCILIATION_DRIFT, S.ARCHIVED})

# Timestamp fields stamped when a transition enters the state (§1.3); closedAt is in CLOSING_STATES.
STAMPED_FIELDS: Mapping[OrderState, str] = {
    S.PRE_TRADE_CHECK: "pre_trade_checked_at",
    S.VALIDATED: "validated_at",
    S.RISK_APPROVED: "risk_approved_at",
    S.SUBMITTED: "submitted_at",
    S.ORDER_ACKNOWLEDGED: "acknowledged_at",
    S.FILLED: "filled_at",
    S.RECONCILED: "reconciled_at",
    S.ARCHIVED: "archived_at",
}


def is_terminal(state: OrderState | str) -> bool:
    return OrderState(state) in TERMINAL_STATES


def is_transition_allowed(source: OrderState | str, target: OrderState | str) -> bool:
    """Self-transitions are never allowed; the table has none."""
    return OrderState(target) in ALLOWED_TRANSITIONS[OrderState(source)]


def transition_table() -> dict[str, list[str]]:
    """The table as JSON-able lists, in declaration order, for display and APIs."""
    return {s.value: [t.value for t in OrderState if t in ALLOWED_TRANSITIONS[s]] for s in OrderState}


def shortest_path(source: OrderState, target: OrderState) -> list[OrderState]:
    """Fewest allowed transitions from source to target, as the list of targets ([] when equal)."""
    if source == target:
        return []
    previous: dict[OrderState, OrderState] = {}
    queue: deque[OrderState] = deque([source])
    while queue:
        current = queue.popleft()
        for nxt in sorted(ALLOWED_TRANSITIONS[current]):
            if nxt in previous or nxt == source:
                continue
            previous[nxt] = current
            if nxt == target:
                path = [nxt]
                while previous[path[-1]] != source:
                    path.append(previous[path[-1]])
                return list(reversed(path))
            queue.append(nxt)
    raise ValueError(f"{target} is unreachable from {source}")


@dataclass(frozen=True)
class HistoryEntry:
    """One stateHistory entry {from, to, timestamp, reason, metadata}."""

    source: OrderState
    target: OrderState
    at: datetime
    reason: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.source.value, "to": self.target.value,
                               "timestamp": iso_utc(self.at), "reason": self.reason}
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out
