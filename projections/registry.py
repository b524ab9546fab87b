"""Every projection the system runs, by name (the projector, replay and doctor iterate over this)."""

from __future__ import annotations

from paulp.projections.base import Projection
from paulp.projections.breaker import BreakerStateProjection


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [BreakerStateProjection()]
    return {p.name: p for p in projections}
