"""One order's operator commands (ADR 0383): cancel it (trading §1.4 step 11) and replace a closed, unfilled one
(§1.5 cancel/replace), each read from the order's events, not from a view.

Cancel goes through the one per-order cancel path (``cancel_job.cancel_order``): not at a venue -> CANCELLED
in the log; working at Kalshi -> the request recorded, Kalshi's cancel, CANCELLED only on its confirmation; an
in-doubt submission is first looked up by client order id (ADR 0100/0280). Replace makes a new PENDING order for
the unfilled remainder with ``resubmitCount + 1`` in its deterministic id, linked both ways in one save; the
execute step then takes it through validation, the risk governor and submission like any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from paulp.api.cancel_job import at_venue, cancel_order, resolve_doubt
from paulp.api.venue_session import credentialed_port_if
from paulp.domain.errors import DomainError
from paulp.domain.order_states import CANCELLABLE_STATES, OPEN_STATES, TERMINAL_STATES
from paulp.domain.order_timers import replace
from paulp.domain.order_values import OrderInTerminalState, OrderNotCancellable
from paulp.domain.orders import Order
from paulp.domain.services.base import WriteConflict

CLOSED_BY_CANCEL = ("cancelled", "cancelled_at_venue", "price_move_cancelled_at_venue")
T = TypeVar("T")
OTHER_OPEN = ("SELECT order_id FROM views.orders WHERE strategy = %s AND ticker = %s AND side = %s"
              " AND state = ANY(%s) AND order_id <> %s ORDER BY created_at LIMIT 1")


class OrderCommandRefused(Exception):
    """Raised when a command is refused before anything is recorded; ``message`` is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class CancelResult:
    order_id: str
    outcome: str
    state: str

    @property
    def closed(self) -> bool:
        return self.outcome in CLOSED_BY_CANCEL


def _load(container: Any, order_id: str) -> Order:
    order: Order | None = container.orders.find(order_id)
    if order is None:
        raise OrderCommandRefused("order_not_found", f"no order {order_id!r}")
    return order


def _on_fresh_state(container: Any, command: Callable[[], T]) -> T:
    """``command`` (which loads the order) run again on the order as it is now when another writer saved it between
    its load and its save (ADR 0512); a refusal with code ``conflict`` when that happened on every attempt."""
    try:
        return container.orders.retry_on_conflict(command)  # type: ignore[no-any-return]
    except WriteConflict as exc:
        raise OrderCommandRefused(exc.code, exc.message) from None


def cancel_one(container: Any, order_id: str, reason: str) -> CancelResult:
    """§1.4.11 for one order: refused (nothing recorded) when terminal or mid-step, with the spec's messages. When
    another writer saved the order meanwhile (a fill, the timers, another operator), decided again on it as it is
    now."""
    if not reason.strip():
        raise OrderCommandRefused("invalid_reason", "--reason must not be blank")
    return _on_fresh_state(container, lambda: _cancel_now(container, order_id, reason))


def _cancel_now(container: Any, order_id: str, reason: str) -> CancelResult:
    order = _load(container, order_id)
    if order.state in TERMINAL_STATES:
        raise OrderCommandRefused(OrderInTerminalState.code, str(OrderInTerminalState(order.state.value)))
    if order.state not in CANCELLABLE_STATES:
        raise OrderCommandRefused(OrderNotCancellable.code, str(OrderNotCancellable(order.state.value)))
    with credentialed_port_if(at_venue(order), container.settings, "the order may rest at Kalshi") as port:
        if order.submission_in_doubt and order.broker_order_id is None:
            resolved = resolve_doubt(container, order, port)
            if isinstance(resolved, str):
                return CancelResult(order_id, resolved, _load(container, order_id).state.value)
            order = resolved
        outcome = cancel_order(container, order, reason.strip(), port)
    return CancelResult(order_id, outcome, _load(container, order_id).state.value)


def replace_one(container: Any, order_id: str, max_price: int | None = None) -> Order:
    """§1.5 replacement of a cancelled/expired/price-move-cancelled order; the new order is saved with the old
    one's ``Replaced`` in one save. Refused when another order holds its (strategy, ticker, side) (§1.8). Decided
    again on the order as it is now when another writer saved it meanwhile (another operator's replace: refused as
    already replaced)."""
    if max_price is not None and not 1 <= max_price <= 99:
        raise OrderCommandRefused("invalid_price", f"--max-price must be 1..99 cents, got {max_price}")
    return _on_fresh_state(container, lambda: _replace_now(container, order_id, max_price))


def _replace_now(container: Any, order_id: str, max_price: int | None) -> Order:
    order = _load(container, order_id)
    try:  # decided on the loaded copy: nothing is recorded unless every check below passes
        new = replace(order, container.clock.now(), container.lifecycle_policy(order.strategy),  # max_resubmits
                      None if max_price is None else float(max_price))
    except DomainError as exc:
        raise OrderCommandRefused(exc.code, str(exc)) from None
    with container.pool.connection() as conn:
        other = conn.execute(OTHER_OPEN, (order.strategy, order.ticker, order.side,
                                          [s.value for s in OPEN_STATES], order.order_id)).fetchone()
    if other is not None:
        raise OrderCommandRefused("order_open_for_key", f"order {other[0]} is still open for {order.strategy} "
                                                        f"{order.ticker} {order.side}: cancel it first")
    if container.orders.find(new.order_id) is not None:
        raise OrderCommandRefused("order_exists", f"order {new.order_id} already exists")
    container.orders.save(order, new)
    return new


def resolve_drift_one(container: Any, order_id: str, reason: str, operator: str) -> Order:
    """§1.3 RECONCILIATION_DRIFT -> RECONCILED "after manual fix" (ADR 0410): the operator has made the position
    right (or shown it was); refused with nothing recorded from any other state."""
    if not reason.strip():
        raise OrderCommandRefused("invalid_reason", "--reason must not be blank")
    if not operator.strip():
        raise OrderCommandRefused("invalid_operator", "--operator must not be blank")

    def resolve() -> Order:
        order = _load(container, order_id)
        try:
            order.resolve_drift(reason, operator, container.clock.now())
        except DomainError as exc:
            raise OrderCommandRefused(exc.code, str(exc)) from None
        container.orders.save(order)
        return order

    return _on_fresh_state(container, resolve)
