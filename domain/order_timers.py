"""Timers and cancel/replace of the order lifecycle (trading §1.5), decided from the order and ``now``.

The source stored these policy values but never enforced them; these functions are the
recommended enforcement. A timer that finds nothing to do returns False and emits nothing, so a
late or repeated scheduler tick is harmless. Deadlines pass strictly after the timeout (at exactly
the timeout the order is still on time, as the vectors' clock convention reads boundaries).

A timer whose start is more than the timeout *after* ``now`` is due too (ADR 0522): only a wall clock stepped
back that far reads an order's time so far ahead, and the order's age can then not be told. Without this a
resting order outlived its stale timeout by the whole step. So a step back keeps an order working at most twice
its timeout, and its reason says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from paulp.domain.order_record import require_aware
from paulp.domain.order_states import OrderState
from paulp.domain.order_values import DEFAULT_POLICY, LifecyclePolicy, ReplacementNotAllowed
from paulp.domain.orders import PRICE_MOVE_CANCELLABLE, Order

S = OrderState


def overdue(since: datetime, now: datetime, timeout: timedelta) -> bool:
    """Past ``timeout`` since ``since``, or ``since`` more than ``timeout`` after ``now`` (a clock stepped back)."""
    return now - since > timeout or stepped_back(since, now, timeout)


def stepped_back(since: datetime, now: datetime, timeout: timedelta) -> bool:
    return since - now > timeout


def _reason(reason: str, since: datetime, now: datetime, timeout: timedelta) -> str:
    if not stepped_back(since, now, timeout):
        return reason
    return f"{reason} (the clock stepped back: started {since - now} after now, its age cannot be told)"


@dataclass(frozen=True)
class PriceMove:
    """How far the order's side now asks from the order's limit (ADR 0382): cents, and the move and threshold in
    percentage points of probability (1 cent = 1 point), compared exactly (no float rounding at the boundary)."""

    reference_price: float
    market_price: int
    move_pct: Decimal
    threshold: Decimal

    @property
    def exceeded(self) -> bool:
        """§1.4.7 cancels a move that *exceeded* the threshold (and §1.4.1: "> 0.05 blocks/cancels")."""
        return self.move_pct > self.threshold


def measure_price_move(order: Order, ask: int | None, policy: LifecyclePolicy = DEFAULT_POLICY) -> PriceMove | None:
    """The move of ``ask`` (the side's ask in cents, as the pre-trade check reads the market) from the order's limit
    price, which is the signal's price (§1.7 maxPrice); None without an ask: no move can be read."""
    if ask is None:
        return None
    move = abs(Decimal(ask) - Decimal(repr(order.max_price)))
    return PriceMove(order.max_price, ask, move, Decimal(repr(policy.cancel_on_price_move)) * 100)


def price_move_due(order: Order, ask: int | None, policy: LifecyclePolicy = DEFAULT_POLICY) -> PriceMove | None:
    """The move to cancel a resting order for: SUBMITTED/ORDER_ACKNOWLEDGED with no cancel pending, and beyond
    ``cancel_on_price_move``; None otherwise (so a repeated tick decides nothing twice)."""
    if order.state not in PRICE_MOVE_CANCELLABLE or order.cancel_requested_at is not None:
        return None
    move = measure_price_move(order, ask, policy)
    return move if move is not None and move.exceeded else None


def cancel_for_price_move(order: Order, move: PriceMove, now: datetime, evidence_hash: str | None = None) -> bool:
    """Apply a due move: True when the order is PRICE_MOVE_CANCEL now, False when its venue cancel was requested."""
    require_aware(now)
    return order.cancel_on_price_move(float(move.move_pct), float(move.threshold), move.reference_price,
                                      move.market_price, now, evidence_hash)


def time_out_risk_check(order: Order, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY) -> bool:
    """RISK_CHECK unanswered past the timeout -> RISK_TIMEOUT, then one retry, then CANCELLED."""
    require_aware(now)
    entered = order.entered_at(S.RISK_CHECK)
    timeout = policy.risk_check_timeout
    if order.state != S.RISK_CHECK or entered is None or not overdue(entered, now, timeout):
        return False
    earlier = order.times_entered(S.RISK_TIMEOUT)
    seconds = int(timeout.total_seconds())
    order.transition(S.RISK_TIMEOUT, _reason(f"Risk check not answered within {seconds}s", entered, now, timeout),
                     now)
    if earlier < policy.risk_check_retries:
        order.transition(S.RISK_CHECK, f"Risk check retry #{earlier + 1}", now)
    else:
        order.cancel(now, "Risk check timed out")
    return True


def expire_stale(order: Order, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY) -> bool:
    """Stale-order timeout: cancel unfilled work, cancel a thin partial's remainder, doubt a lost submission."""
    require_aware(now)
    timeout = policy.stale_order_timeout
    if order.state == S.SUBMITTING:
        since = order.queued_at or order.entered_at(S.SUBMITTING)
        if since is None or not overdue(since, now, timeout):
            return False
        order.mark_submission_in_doubt(_reason("No venue answer within stale_order_timeout_sec", since, now, timeout),
                                       now)
        return True
    if order.state not in (S.SUBMITTED, S.ORDER_ACKNOWLEDGED, S.PARTIAL_FILL) or order.cancel_requested_at:
        return False
    since = order.submitted_at
    if since is None or not overdue(since, now, timeout):
        return False
    if order.state == S.PARTIAL_FILL:
        ratio = order.filled_size / order.requested_size if order.requested_size > 0 else 1.0
        if ratio >= policy.min_fill_pct:
            return False  # enough filled: keep working until the venue expires it
        order.cancel(now, _reason("Stale order: cancel remainder below min_fill_pct", since, now, timeout))
        return True
    order.cancel(now, _reason("Stale order: no fill within stale_order_timeout_sec", since, now, timeout))
    return True


def replace(order: Order, now: datetime, policy: LifecyclePolicy = DEFAULT_POLICY,
            max_price: float | None = None) -> Order:
    """New order for the unfilled remainder; its id includes the resubmit number (§1.5)."""
    require_aware(now)
    count = order.resubmit_count + 1
    if not policy.allow_resubmit:
        raise ReplacementNotAllowed("resubmission is disabled by policy")
    if count > policy.max_resubmits:
        raise ReplacementNotAllowed(f"resubmit #{count} exceeds max_resubmits {policy.max_resubmits}")
    remaining = order.requested_size - order.filled_size
    if remaining <= 0:
        raise ReplacementNotAllowed(f"Order {order.order_id} has no unfilled remainder")
    new = Order.create(
        signal_id=order.signal_id, strategy=order.strategy, ticker=order.ticker, side=order.side,
        requested_size=remaining, max_price=order.max_price if max_price is None else max_price, now=now,
        signal_model_probability=order.signal_model_probability, signal_edge=order.signal_edge,
        signal_confidence=order.signal_confidence, signal_expires_at=order.signal_expires_at,
        resubmit_count=count, replaces_order_id=order.order_id,
    )
    order.record_replacement(new.order_id, now)
    return new
