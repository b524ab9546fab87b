"""``paulp orders cancel``, ``replace`` and ``reconcile``: one order's operator commands (ADRs 0383, 0410).

Exit 0 when done; 1 when refused by the lifecycle (terminal, mid-step, already replaced, max_resubmits, another
order open for the key, not in RECONCILIATION_DRIFT) or when the order is left working (Kalshi could not be asked
or did not confirm); 2 on bad input. A refusal records nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from paulp.api.console import cli_console

console = cli_console()
BAD_INPUT = ("invalid_reason", "invalid_price", "invalid_operator")


def orders_cancel(
    order_id: Annotated[str, typer.Argument(help="the order's id (order-…)")],
    reason: Annotated[str, typer.Option(help="why (recorded on the order)")],
) -> None:
    """Cancel one order (trading §1.4 step 11): in the log, or at Kalshi first when it works there; CANCELLED only
    when Kalshi confirms. Exit 1 if it is terminal, mid-step, or left working."""
    from paulp.api.cli import fail, wired
    from paulp.api.order_commands import OrderCommandRefused, cancel_one
    from paulp.api.venue_session import JobFailed

    if not reason.strip():
        raise fail("--reason must not be blank")
    with wired() as container:
        try:
            result = cancel_one(container, order_id, reason)
        except OrderCommandRefused as exc:
            raise fail(exc.message, 2 if exc.code in BAD_INPUT else 1) from None
        except JobFailed as exc:
            raise fail(exc.message, 1) from None
    console.print(f"{result.order_id}: {result.outcome} (state {result.state})", markup=False)
    if not result.closed:
        raise fail(f"order {result.order_id} not cancelled: {result.outcome}", 1)


def orders_replace(
    order_id: Annotated[str, typer.Argument(help="a CANCELLED, EXPIRED or PRICE_MOVE_CANCEL order's id")],
    max_price: Annotated[int | None, typer.Option(help="the replacement's limit in cents (default: the old one's)")]
    = None,
) -> None:
    """Replace a closed, unfilled order (trading §1.5): a new PENDING order for the unfilled remainder, resubmit
    number + 1 in its id, linked both ways; the execute step risk-checks and sends it. Refused past
    max_resubmits (2) or when resubmission is disabled."""
    from paulp.api.cli import fail, wired
    from paulp.api.order_commands import OrderCommandRefused, replace_one

    with wired() as container:
        try:
            new = replace_one(container, order_id, max_price)
        except OrderCommandRefused as exc:
            raise fail(exc.message, 2 if exc.code in BAD_INPUT else 1) from None
    console.print(f"{order_id} replaced by {new.order_id} (resubmit #{new.resubmit_count}, "
                  f"{new.requested_size} contracts at {new.max_price:g}¢, PENDING)", markup=False)


def orders_reconcile(
    order_id: Annotated[str, typer.Argument(help="a RECONCILIATION_DRIFT order's id")],
    reason: Annotated[str, typer.Option(help="the fix made (recorded on the order)")],
    operator: Annotated[str, typer.Option(help="who made it (recorded on the order)")],
) -> None:
    """Mark a drifted order RECONCILED after a manual fix (trading §1.3 RECONCILIATION_DRIFT -> RECONCILED). Exit 1
    if the order is in any other state; its position is then archived by a later reconcile run once closed."""
    from paulp.api.cli import fail, wired
    from paulp.api.order_commands import OrderCommandRefused, resolve_drift_one

    with wired() as container:
        try:
            order = resolve_drift_one(container, order_id, reason, operator)
        except OrderCommandRefused as exc:
            raise fail(exc.message, 2 if exc.code in BAD_INPUT else 1) from None
    console.print(f"{order.order_id}: RECONCILED (manual fix by {operator.strip()})", markup=False)
