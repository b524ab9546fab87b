"""The postmortem's PnL figures that need the book before the window (trading §8 Impact; ADR 0434): positions
folded from the log's fills and exits up to each edge of the window, valued against the last quotes the log
holds at that edge, and what each resolution inside the window settled.

Valued as ``/admin/positions`` values a position (ADR 0166, 0329): settled once its market resolved, else at
its side's mark, else at its average entry (unrealised 0, listed as unmarked). Cost leaves an exit at the
position's average, as the positions view books it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from paulp.domain.marks import Quotes, settlement_price_cents, unrealized_pnl_usd
from paulp.domain.prices import half_up

Key = tuple[str, str, str, str]  # strategy, ticker, side, mode
CENT = Decimal("0.01")


@dataclass
class Holding:
    contracts: int = 0
    cost_cents: Decimal = Decimal(0)

    @property
    def avg_entry_cents(self) -> Decimal:
        return self.cost_cents / self.contracts if self.contracts else Decimal(0)


class Book:
    """Open positions as the log builds them, event by event (the fold behind both edges of the window)."""

    def __init__(self) -> None:
        self.orders: dict[str, tuple[str, str, str]] = {}
        self.modes: dict[str, str] = {}
        self.exits: dict[str, Key] = {}
        self.holdings: dict[Key, Holding] = {}
        self.results: dict[str, str] = {}
        self.settled: list[dict[str, Any]] = []  # resolutions met while recording (inside the window)
        self.recording = False

    def apply(self, name: str, originator_id: str, ev: Any) -> None:
        if name == "Order.Created":
            self.orders[originator_id] = (ev.strategy, ev.ticker, ev.side)
        elif name == "OrderRecord.Transitioned" and ev.to_state == "SUBMITTED":
            mode = (ev.metadata or {}).get("mode")
            if isinstance(mode, str):
                self.modes[originator_id] = mode
        elif name == "OrderRecord.FillRecorded" and originator_id in self.orders:
            strategy, ticker, side = self.orders[originator_id]
            h = self.holdings.setdefault((strategy, ticker, side, self.modes.get(originator_id, "LIVE")), Holding())
            h.contracts += ev.fill_size
            h.cost_cents += Decimal(half_up(ev.fill_size * ev.fill_price))  # as the positions view books it
        elif name == "PositionExit.Decided":
            self.exits[originator_id] = (ev.strategy, ev.ticker, ev.side, ev.mode)
        elif name == "PositionExit.Filled" and originator_id in self.exits:
            self._sold(self.exits[originator_id], ev.size)
        elif name == "MarketMark.Resolved":
            self._resolved(ev.ticker, ev.result)

    def _sold(self, key: Key, size: int) -> None:
        h = self.holdings.get(key)
        if h is None:
            return
        if h.contracts <= size:
            self.holdings.pop(key)
            return
        h.cost_cents -= (h.cost_cents * size / h.contracts).quantize(Decimal(1), ROUND_HALF_UP)
        h.contracts -= size

    def _resolved(self, ticker: str, result: str) -> None:
        if ticker in self.results:
            return
        self.results[ticker] = result
        if not self.recording:
            return
        for (strategy, t, side, mode), h in sorted(self.holdings.items()):
            if t == ticker and h.contracts > 0:
                value = settlement_price_cents(result, side, h.avg_entry_cents)
                pnl = unrealized_pnl_usd(h.avg_entry_cents, value, h.contracts)
                self.settled.append({"strategy": strategy, "ticker": ticker, "side": side, "mode": mode,
                                     "result": result, "contracts": h.contracts,
                                     "pnlUsd": float(pnl.quantize(CENT))})

    def snapshot(self) -> dict[Key, Holding]:
        return {k: Holding(h.contracts, h.cost_cents) for k, h in self.holdings.items() if h.contracts > 0}


def valuation(holdings: Mapping[Key, Holding], quotes: Mapping[str, Quotes], results: Mapping[str, str]
              ) -> dict[str, Any]:
    """Unrealised PnL of the holdings at one edge: total, per mode, and the positions with no mark."""
    total, unmarked = Decimal(0), []
    by_mode: dict[str, Decimal] = {}
    for (strategy, ticker, side, mode), h in sorted(holdings.items()):
        entry = h.avg_entry_cents
        if ticker in results:
            price: Decimal | None = settlement_price_cents(results[ticker], side, entry)
        else:
            q = quotes.get(ticker)
            mark = q.side_price(side) if q is not None else None
            price = None if mark is None else Decimal(repr(mark))
        if price is None:
            unmarked.append(f"{strategy}/{ticker}/{side}/{mode}")
            continue
        pnl = unrealized_pnl_usd(entry, price, h.contracts)
        total += pnl
        by_mode[mode] = by_mode.get(mode, Decimal(0)) + pnl
    return {"totalUsd": float(total.quantize(CENT)), "byMode": {m: float(v.quantize(CENT)) for m, v in
                                                                sorted(by_mode.items())},
            "positions": len(holdings), "unmarkedAtEntry": unmarked}


def window_pnl(start: Mapping[str, Any], end: Mapping[str, Any], settled: Iterable[Mapping[str, Any]]
               ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(unrealised section, resolution section) of the Impact for the two edges' valuations."""
    rows = list(settled)
    unrealized = {"atStart": dict(start), "atEnd": dict(end),
                  "changeUsd": round(end["totalUsd"] - start["totalUsd"], 2)}
    resolution = {"totalUsd": round(sum(r["pnlUsd"] for r in rows), 2), "positions": rows}
    return unrealized, resolution
