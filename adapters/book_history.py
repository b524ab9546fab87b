"""The history the risk check's loss figures need, read in time bounded by the window (ADR 0521).

The daily and weekly windows need only the closes since the week began, but the drawdown is equity's fall from
its all-time peak (ADR 0286): a fold, in time order, of every close since the first. The fold of the closes
before a cutoff (UTC midnight a week before now) is kept per book and capital as a ``Prefix``; each check reads
the rows from the prefix's cutoff on (8 days at most, index ranges) and folds on from it, the same Decimal
additions in the same order as a fold from the first close. A prefix is trusted only while ``book_changes``
(migration 0111: triggers on every table the book reads) records no change, by a transaction the prefix may not
have seen, to a close before its cutoff; any such change (a fill recorded late with an old time, a fee settled
on an old fill, a resolution, a rebuild of the views) drops it and the next check folds the whole history again.
The daily job prunes the journal (``prune_changes``, ADR 0526); a prefix older than the pruning is dropped too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import Connection

Close = tuple[datetime, Decimal]  # realised PnL net of the fees paid then (ADR 0442), at its time
Fee = tuple[datetime, Decimal | None]  # a fee in USD at its fill time; None: not known

BEGINNING = datetime(1, 1, 1, tzinfo=UTC)  # before any close: a prefix with this cutoff holds none
WEEK = timedelta(days=7)
# What a prefix has seen: the transactions visible in the snapshot taken before its rows were read (READ COMMITTED:
# the reads after it see all of those, and perhaps more, which the next check then counts as not seen). A change
# journaled by any other transaction may have escaped it: one that had not started (xid from the snapshot's xmax on)
# or was still running (its xip list). Both are index probes; a long transaction elsewhere does not widen them.
WATERMARK = "SELECT pg_current_snapshot()::text"
# A prefix also stops being trusted once the journal was pruned above its snapshot's xmin (ADR 0526): an entry it
# would have had to see may be gone. Both are read in one statement, so a prune committing meanwhile is seen whole
# (its deletions and its horizon) or not at all.
CHANGED = (
    "SELECT EXISTS (SELECT 1 FROM public.book_changes WHERE (xid >= %(xmax)s OR xid = ANY(%(xip)s::bigint[]))"
    " AND (strategy IS NULL OR strategy = ANY(%(names)s)) AND (mode IS NULL OR mode = %(mode)s)"
    " AND (at IS NULL OR at < %(cutoff)s))"
    " OR EXISTS (SELECT 1 FROM public.book_changes_pruned WHERE below > %(xmin)s)"
)


def unseen(snapshot: str) -> dict[str, Any]:
    """The transactions ``snapshot`` (``xmin:xmax:xip,...``) did not see: from its xmax on, and those in its list;
    with its xmin, below which every transaction had ended when it was taken."""
    xmin, xmax, xip = snapshot.split(":")
    return {"xmin": int(xmin), "xmax": int(xmax), "xip": [int(x) for x in xip.split(",") if x]}


def prune_below(conn: Connection[Any], horizon: int) -> int:
    """Delete the journal's entries by transactions below ``horizon`` and raise the pruned horizon to it, in the
    caller's transaction (ADR 0526). A kept prefix whose snapshot's xmin is below the horizon is no longer trusted
    (``CHANGED``): it may have needed an entry deleted here. Returns the entries deleted."""
    deleted = conn.execute("DELETE FROM public.book_changes WHERE xid < %s", (horizon,)).rowcount
    conn.execute("UPDATE public.book_changes_pruned SET below = greatest(below, %s)", (horizon,))
    return deleted


def prune_changes(conn: Connection[Any], now: datetime) -> int:
    """The daily job's prune, in the caller's transaction (ADR 0526): the entries below the xmin of the snapshot
    the previous prune took, then this one's xmin kept for the next. A prefix kept by a check since the previous
    prune has a snapshot whose xmin is at least that (xmins only grow), so a book checked at least once a day keeps
    its prefix; an older one is folded again. The xmin is the cluster's oldest running transaction: a long one
    anywhere holds the horizon back (less is pruned, never too much). Returns the entries deleted."""
    row = conn.execute("SELECT next FROM public.book_changes_pruned FOR UPDATE").fetchone()
    horizon = None if row is None else row[0]
    taken = conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint").fetchone()
    assert taken is not None
    deleted = 0 if horizon is None else prune_below(conn, int(horizon))
    conn.execute("UPDATE public.book_changes_pruned SET next = %s, at = %s", (int(taken[0]), now))
    return deleted


MAX_PREFIXES = 256  # books x modes x capitals a process keeps; the oldest goes first


def cutoff_for(now: datetime) -> datetime:
    """The latest cutoff a check at ``now`` may use: UTC midnight of the day a week before, at or before both
    windows' starts (``now - WEEK`` and today's midnight), and the same all day, so a prefix moves once a day."""
    return (now.astimezone(UTC) - WEEK).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Prefix:
    """A book's closes and fees before ``cutoff``, folded from its capital in time order (ADR 0286)."""

    cutoff: datetime
    equity: Decimal  # capital, plus each close before the cutoff added in time order
    peak: Decimal  # the highest that equity was, capital included
    fees_known: Decimal = Decimal(0)  # known fees before the cutoff, USD
    fees_unknown: int = 0  # fills before the cutoff whose fee is not known
    fees_paid: int = 0  # fees before the cutoff, known or not (a zero fee is not one)

    @classmethod
    def opening(cls, capital: Decimal) -> Prefix:
        return cls(BEGINNING, capital, capital)

    def fold(self, closes: Iterable[Close], fees: Iterable[Fee], cutoff: datetime) -> Prefix:
        """This prefix extended to ``cutoff`` by the closes and fees in [self.cutoff, cutoff), in the order a
        stable sort by time leaves them (ties keep the reading's order)."""
        equity, peak = self.equity, self.peak
        for _, pnl in sorted(closes, key=lambda c: c[0]):
            equity += pnl
            peak = max(peak, equity)
        known, unknown, paid = self.fees_known, self.fees_unknown, self.fees_paid
        for _, fee in fees:
            paid += 1
            if fee is None:
                unknown += 1
            else:
                known += fee
        return Prefix(cutoff, equity, peak, known, unknown, paid)


@dataclass(frozen=True)
class _Kept:
    prefix: Prefix
    watermark: str  # the snapshot taken before the rows it was folded from were read


class BookPrefixes:
    """One process's prefixes, by (book's strategy names, mode, capital); shared by its snapshot readers."""

    def __init__(self, limit: int = MAX_PREFIXES) -> None:
        self._kept: dict[tuple[frozenset[str], str, Decimal], _Kept] = {}
        self._lock = threading.Lock()
        self.limit = limit
        self.folds_from_beginning = 0  # how many checks read the whole history (the first, and after a change)

    def start(self, conn: Connection[Any], names: list[str], mode: str, capital: Decimal,
              now: datetime) -> tuple[Prefix, datetime, str]:
        """The prefix to fold on from, the cutoff the check ends it at, and this check's watermark. The rows to
        read are those from the prefix's cutoff on; a prefix a change may have moved is replaced by the opening
        one (capital alone), so they are then the whole history."""
        row = conn.execute(WATERMARK).fetchone()
        assert row is not None
        watermark, cutoff = str(row[0]), cutoff_for(now)
        with self._lock:
            kept = self._kept.get((frozenset(names), mode, capital))
        if kept is not None and kept.prefix.cutoff <= cutoff:
            found = conn.execute(CHANGED, {**unseen(kept.watermark), "names": names, "mode": mode,
                                           "cutoff": kept.prefix.cutoff}).fetchone()
            if found is not None and not found[0]:
                return kept.prefix, cutoff, watermark
        with self._lock:
            self.folds_from_beginning += 1
        return Prefix.opening(capital), cutoff, watermark

    def keep(self, names: list[str], mode: str, capital: Decimal, prefix: Prefix, watermark: str) -> None:
        key = (frozenset(names), mode, capital)
        with self._lock:
            self._kept.pop(key, None)
            self._kept[key] = _Kept(prefix, watermark)
            while len(self._kept) > self.limit:
                del self._kept[next(iter(self._kept))]
