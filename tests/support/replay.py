"""Events through the store's transcoder and back, and the aggregate folded from them: what a state machine's
replay invariant compares with the live aggregate."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from paulp.adapters.eventstore.codec import make_mapper

MAPPER = make_mapper()
A = TypeVar("A")


def through_store(events: Iterable[Any]) -> list[Any]:
    """Each event as the store gives it back (encoded, then decoded with the same transcodings)."""
    return [MAPPER.to_domain_event(MAPPER.to_stored_event(e)) for e in events]


def folded(stored: Iterable[Any], kind: type[A]) -> A:
    """The aggregate the stored events rebuild; fails when they rebuild nothing or something else."""
    rebuilt = None
    for ev in stored:
        rebuilt = ev.mutate(rebuilt)
    assert isinstance(rebuilt, kind), rebuilt
    return rebuilt
