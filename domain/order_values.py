"""Inputs and results the order lifecycle records (trading §1.1, §1.4, §1.5), and its errors.

Results travel inside events as plain dicts (camelCase keys, as the spec's record shows them) so a
stored event never depends on these classes' layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from paulp.domain.errors import DomainError


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class PreTradeCheck:
    """§1.4.1's result; ``depth`` in USD. ``adjusted_size`` is the market-impact size (§5.4) the risk step then
    applies, ``market_impact`` the assessment behind it (ADR 0373); both absent in results recorded before."""

    passed: bool
    spread: float | None = None
    depth: float | None = None
    vpin_score: float | None = None
    block_reason: str | None = None
    adjusted_size: int | None = None
    market_impact: Mapping[str, Any] | None = None
    llm_gate: Mapping[str, Any] | None = None  # §8.3's verdict for a gated strategy's order (ADR 0425)

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"passed": self.passed, "spread": self.spread, "depth": self.depth,
                           "vpinScore": self.vpin_score, "blockReason": self.block_reason,
                           "adjustedSize": self.adjusted_size,
                           "marketImpact": dict(self.market_impact) if self.market_impact is not None else None,
                           "llmGate": dict(self.llm_gate) if self.llm_gate is not None else None})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PreTradeCheck:
        return cls(bool(d["passed"]), d.get("spread"), d.get("depth"), d.get("vpinScore"), d.get("blockReason"),
                   d.get("adjustedSize"), d.get("marketImpact"), d.get("llmGate"))


@dataclass(frozen=True)
class RiskCheckResult:
    approved: bool
    adjusted_size: int | None = None
    violations: tuple[str, ...] = ()
    invariant_ids: tuple[str, ...] = ()  # ids of the failed invariants (a denial names them)
    input_hash: str | None = None  # SHA-256 of the canonical risk input: what exactly was judged
    category: str | None = None  # the market's category the check judged the order in (I4; ADR 0299)

    def to_dict(self) -> dict[str, Any]:
        return _drop_none({"approved": self.approved, "adjustedSize": self.adjusted_size,
                           "violations": list(self.violations) or None,
                           "invariantIds": list(self.invariant_ids) or None, "inputHash": self.input_hash,
                           "category": self.category})

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RiskCheckResult:
        return cls(bool(d["approved"]), d.get("adjustedSize"), tuple(d.get("violations") or ()),
                   tuple(d.get("invariantIds") or ()), d.get("inputHash"), d.get("category"))


class ExecutionStatus(StrEnum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    PAPER_FILLED = "paper_filled"
    QUEUED = "queued"


@dataclass(frozen=True)
class PaperFill:
    count: int
    fill_price: int
    fee_cents: int | None = None  # the modelled fee (ADR 0437); None: not modelled


@dataclass(frozen=True)
class ExecutionResult:
    success: bool
    status: ExecutionStatus
    paper_fill: PaperFill | None = None
    rejection_reason: str | None = None
    venue_order_id: str | None = None
    mode: str | None = None


@dataclass(frozen=True)
class ReconciliationResult:
    verified: bool
    expected_size: float
    broker_size: float
    drift_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "expectedSize": self.expected_size,
                "brokerSize": self.broker_size, "driftPct": self.drift_pct}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReconciliationResult:
        return cls(bool(d["verified"]), d["expectedSize"], d["brokerSize"], d["driftPct"])


@dataclass(frozen=True)
class LifecyclePolicy:
    """Timers and limits of §1.5 (per-strategy execution policy; defaults are the spec's)."""

    stale_order_timeout: timedelta = timedelta(seconds=300)
    min_fill_pct: float = 0.5
    allow_resubmit: bool = True
    max_resubmits: int = 2
    risk_check_timeout: timedelta = timedelta(seconds=30)
    risk_check_retries: int = 1
    max_retries: int = 3
    cancel_on_price_move: float = 0.03  # probability units: 0.03 = 3 cents = 3 percentage points (ADR 0382)


DEFAULT_POLICY = LifecyclePolicy()


class OrderError(DomainError):
    """Base of order lifecycle refusals."""

    code = "ORDER_ERROR"


class InvalidOrderTransition(OrderError):
    """Raised when the transition table (§1.3) does not allow the move; self-transitions included."""

    code = "INVALID_TRANSITION"

    def __init__(self, source: str, target: str) -> None:
        super().__init__(f"Invalid state transition: {source} -> {target}")
        self.source = source
        self.target = target


class OrderNotInRequiredState(OrderError):
    """Raised when a step command is issued from a state it does not accept."""

    code = "WRONG_STATE"

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class OrderInTerminalState(OrderError):
    """Raised when a cancel targets a terminal order."""

    code = "ORDER_TERMINAL"

    def __init__(self, state: str) -> None:
        super().__init__(f"Order is in terminal state: {state}")
        self.state = state


class OrderNotCancellable(OrderError):
    """Raised when a non-terminal order is mid-step (validating, risk check, submitting, post-trade, error)."""

    code = "NOT_CANCELLABLE"

    def __init__(self, state: str) -> None:
        super().__init__(f"Order is not cancellable from this state: {state}")
        self.state = state


class RetryNotAllowed(OrderError):
    """Raised when retry is asked outside ERROR or beyond maxRetries."""

    code = "RETRY_NOT_ALLOWED"


class VenueOutcomeUnknown(OrderError):
    """Raised when a retry would risk a second venue order before the first one's fate is known."""

    code = "VENUE_OUTCOME_UNKNOWN"


class InvalidFill(OrderError):
    """Raised when a fill has a non-positive size or a price outside 1..99 cents."""

    code = "INVALID_FILL"


class ImpossibleVenueAnswer(OrderError):
    """Raised when Kalshi's answer about our order cannot be true of it (ADR 0519): it names another market, side,
    action or client order id, or fewer fills than the order already holds. Nothing of it is booked."""

    code = "IMPOSSIBLE_VENUE_ANSWER"


class InvalidExecutionResult(OrderError):
    """Raised when an execution result has a status the lifecycle does not know."""

    code = "INVALID_EXECUTION_RESULT"


class InvalidEvidenceHash(OrderError):
    """Raised when evidence is not a lowercase sha256 hex digest."""

    code = "INVALID_EVIDENCE_HASH"


class NaiveTimestamp(OrderError):
    """Raised when a command's ``now`` has no timezone (all lifecycle times are UTC instants)."""

    code = "NAIVE_TIMESTAMP"


class InvalidManualFix(OrderError):
    """Raised when a manual RECONCILIATION_DRIFT -> RECONCILED fix lacks its reason or operator."""

    code = "INVALID_MANUAL_FIX"


class ReplacementNotAllowed(OrderError):
    """Raised when an order may not be replaced (still working, resubmit disabled or limit reached)."""

    code = "RESUBMIT_NOT_ALLOWED"
