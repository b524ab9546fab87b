"""Checkpoints in the log for the aggregates every order, scheduled tick or gate check touches (ADRs 0503, 0505
and 0508, after the budget ledgers' ADR 0501).

A checkpoint is an ordinary event of its aggregate, in the log and in the audit chain, restating the whole state;
a process's first load starts at the last one instead of replaying every risk check or counted order since the
aggregate was created. The library's snapshots are not used: they sit outside the hash chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate

# events between two checkpoints of a ledger, the breaker, a throttle, a mark or a compliance source: a first load
# replays about this many
CHECKPOINT_EVERY = 500
A = TypeVar("A", bound=Aggregate)


def resume(cls: type[A], checkpoint: type[Any], events: Sequence[Any], created_on: str = "created_on") -> A:
    """``cls`` rebuilt from its ``checkpoint`` event (first in ``events``, carrying the aggregate's creation time
    in its field ``created_on``; the ledgers' is ``opened_at``) and the events after it: the same aggregate a full
    replay gives. Each event's own ``mutate`` keeps the library's id and version checks."""
    first = events[0] if events else None
    if not isinstance(first, checkpoint):
        raise ValueError(f"{cls.__name__} resumes from a {checkpoint.__qualname__} event")
    aggregate = object.__new__(cls)
    aggregate.__base_init__(first.originator_id, first.originator_version - 1, getattr(first, created_on))
    for ev in events:
        ev.mutate(aggregate)
    return aggregate
