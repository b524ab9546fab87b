"""The lifecycle's last two steps (trading §1.4 steps 8-9, §7 "Order-level"; ADR 0410): what a reconciliation run
says of each FILLED order, and when a RECONCILED order's position is closed and with what PnL.

Pure decisions; the reconcile job reads the views, asks these, and moves the orders.

**Order-level reconciliation.** The venue holds positions, not orders, so an order is verified by its
``(market, SIDE)`` key's comparison: severity none -> verified, anything else -> drift, with the key's sizes and
drift percentage. A key the run did not grade is decided only when that silence means something: a market the run
left out as settled (ADR 0397) is verified by the settlement (neither side holds it any longer: 0 against 0); a key
absent from both sides of a run that read the whole venue book is held by neither (0 against 0). Anything else
(the venue was not read) is no decision.

**Archive.** Contracts of one position (strategy, market, side, mode) are held in *episodes*: from the first fill
after the position was flat until exits sold it out (the exit monitor's ``opened_at``, ADR 0260). An order's
contracts belong to the episode its first fill opened or joined. An episode is closed when a later one opened or
the position is flat (sold out by exits), or when the market's outcome is known and no exit of it is unfinished
(the rest is settled at the settlement price). A closed episode's proceeds (exit sales plus the settlement of what
was left) are shared by its contracts pro rata, as the positions view shares cost (average cost): an order's PnL
is its share of the proceeds less its own cost. The orders' PnL of an episode therefore adds up to the episode's
realised PnL. That PnL is gross; each order's fees (its own fills' and its pro rata share of the episode's exit
sells', ADR 0437) are given beside it, and the PnL net of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from paulp.domain.clock import iso_utc
from paulp.domain.marks import settlement_price_cents
from paulp.domain.order_states import OrderState
from paulp.domain.order_values import ReconciliationResult
from paulp.domain.reconciliation import DriftSeverity, ReconciliationRun, json_number, position_key

PNL_QUANTUM = Decimal("0.000001")  # dollars, as exits realise PnL (ADR 0260)
SETTLED = "settled"
VERIFIED_EMPTY = ReconciliationResult(True, 0, 0, 0)


@dataclass(frozen=True)
class OrderVerdict:
    """What a run says of one order: the §1.1 ``reconciliationResult`` and why (``compared``, ``settled``,
    ``flat``: held by neither side)."""

    result: ReconciliationResult
    basis: str


def order_verdict(market_id: str, side: str, run: ReconciliationRun, settled: Iterable[str],
                  whole_book_read: bool) -> OrderVerdict | None:
    """The run's word on an order of ``(market_id, side)``; None when the run says nothing of it."""
    key = position_key(market_id, side)
    graded = {(d.market_id, d.side): d for d in run.drifts}
    drift = graded.get(key)
    if drift is not None:
        result = ReconciliationResult(drift.severity is DriftSeverity.NONE, json_number(drift.internal_size),
                                      json_number(drift.venue_size), json_number(drift.drift_pct))
        return OrderVerdict(result, "compared")
    if market_id in set(settled):
        return OrderVerdict(VERIFIED_EMPTY, SETTLED)
    if whole_book_read:
        return OrderVerdict(VERIFIED_EMPTY, "flat")
    return None


def verdicts(orders: Iterable[tuple[str, str, str]], run: ReconciliationRun, settled: Iterable[str],
             whole_book_read: bool) -> dict[str, OrderVerdict]:
    """``order_verdict`` for each ``(order_id, market_id, side)``; orders the run says nothing of are left out."""
    left_out = frozenset(settled)
    out: dict[str, OrderVerdict] = {}
    for oid, market_id, side in orders:
        verdict = order_verdict(market_id, side, run, left_out, whole_book_read)
        if verdict is not None:
            out[oid] = verdict
    return out


# ---------------------------------------------------------------------------------------------------- archive
@dataclass(frozen=True)
class HeldFill:
    """One order's contracts in a position: all it filled, its average price (cents), its first fill's time."""

    order_id: str
    state: str
    contracts: int
    avg_price_cents: Decimal
    first_fill_at: datetime
    fees_cents: Decimal | None = None  # its fills' known fees; None: none known (ADR 0437)
    fees_complete: bool = False  # every fill's fee known

    @property
    def cost_cents(self) -> Decimal:
        return self.avg_price_cents * self.contracts


@dataclass(frozen=True)
class ExitSale:
    """A filled exit of the position: the episode it sold from (``opened_at``), contracts and price (cents)."""

    opened_at: datetime
    contracts: int
    exit_price_cents: Decimal
    fee_cents: Decimal | None = None  # the sell's fee; None: not known (ADR 0437)


@dataclass(frozen=True)
class PositionNow:
    """The position as the views hold it now: its side, the open episode's start (None when flat), the market's
    outcome if known, and whether an exit of it is still unfinished (decided or in doubt)."""

    side: str
    episode_start: datetime | None
    result: str | None
    exit_unfinished: bool


@dataclass(frozen=True)
class Archival:
    order_id: str
    pnl_usd: Decimal  # gross, as before fees were recorded
    closing_notes: str
    fees_usd: Decimal = Decimal(0)  # its fills' fees and its share of the episode's exit sells' (known ones)
    fees_complete: bool = False  # every one of those fees known

    @property
    def net_pnl_usd(self) -> Decimal:
        return self.pnl_usd - self.fees_usd


def _episode_of(first_fill_at: datetime, starts: Sequence[datetime]) -> datetime | None:
    """The latest episode start at or before the fill; None when the fill is older than every known start."""
    earlier = [s for s in starts if s <= first_fill_at]
    return max(earlier) if earlier else None


def archivals(fills: Iterable[HeldFill], exits: Iterable[ExitSale], position: PositionNow) -> list[Archival]:
    """The RECONCILED orders of ``fills`` whose episode is closed, each with its PnL and a note saying how the
    episode closed. ``fills`` are every order with contracts in the position (archived ones included: they
    hold their share of the episode); an episode whose figures do not add up is left for the next run."""
    held, sales = list(fills), list(exits)
    starts = sorted({s.opened_at for s in sales} | ({position.episode_start} if position.episode_start else set()))
    episodes: dict[datetime, list[HeldFill]] = {}
    for fill in held:
        start = _episode_of(fill.first_fill_at, starts)
        if start is not None and fill.contracts > 0:
            episodes.setdefault(start, []).append(fill)
    out: list[Archival] = []
    for start, members in sorted(episodes.items()):
        if not any(f.state == OrderState.RECONCILED for f in members):
            continue
        sold = [s for s in sales if s.opened_at == start]
        closed = _close(start, members, sold, position)
        if closed is None:
            continue
        proceeds, notes = closed
        bought = sum(f.contracts for f in members)
        exit_fees = sum((s.fee_cents or Decimal(0) for s in sold), Decimal(0))
        exits_complete = all(s.fee_cents is not None for s in sold)
        for f in members:
            if f.state == OrderState.RECONCILED:
                pnl = (proceeds * f.contracts / bought - f.cost_cents) / 100
                fees = ((f.fees_cents or Decimal(0)) + exit_fees * f.contracts / bought) / 100
                out.append(Archival(f.order_id, pnl.quantize(PNL_QUANTUM, rounding=ROUND_HALF_UP), notes,
                                    fees.quantize(PNL_QUANTUM, rounding=ROUND_HALF_UP),
                                    f.fees_complete and exits_complete))
    return out


def _close(start: datetime, members: list[HeldFill], sold: list[ExitSale],
           position: PositionNow) -> tuple[Decimal, str] | None:
    """(the episode's proceeds in cents, how it closed), or None while it is open or its figures disagree."""
    bought = sum(f.contracts for f in members)
    sold_n = sum(s.contracts for s in sold)
    sales = sum((s.exit_price_cents * s.contracts for s in sold), Decimal(0))
    left = bought - sold_n
    opened = f"episode opened {iso_utc(start)}, {bought} contracts"
    if left < 0:
        return None
    if position.episode_start != start:  # a later episode opened, or the position is flat: sold out
        return (sales, f"Sold by exits: {opened}, {sold_n} sold for {_cents(sales)}") if left == 0 else None
    if position.result is None or position.exit_unfinished:  # the open episode closes only at settlement
        return None
    avg = sum((f.cost_cents for f in members), Decimal(0)) / bought
    price = settlement_price_cents(position.result, position.side, avg)
    settled = f"{left} settled {position.result} at {_cents(price)} each"
    sold_text = f"{sold_n} sold by exits for {_cents(sales)}, " if sold_n else ""
    return sales + price * left, f"Market settled: {opened}, {sold_text}{settled}"


def _cents(value: Decimal) -> str:
    return f"{json_number(value)}¢"
