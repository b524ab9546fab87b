"""Which chain range the hourly audit job verifies (api-and-security §5.5, ADR 0506).

§5.5 asks for verification "from the previous verified anchor to the head" after each anchor and a full chain
verification daily. The hourly run resumes after the records an earlier *valid* run verified and a verified
anchor pins; anything that makes that earlier verdict untrustworthy sends the run back to genesis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

# Hourly slots start a few seconds apart and the job's own anchor takes time: a full run that fell due at most
# this long before the next slot is run at that slot, so "every 24 hours" stays one hour of day, not 25 hours.
SLOT_SLACK = timedelta(minutes=5)

Mode = Literal["full", "incremental"]


@dataclass(frozen=True)
class PriorVerification:
    """The newest recorded verification, with the length of the newest anchor it verified (None: no anchor)."""

    valid: bool
    checked_through: int
    anchored_through: int | None


@dataclass(frozen=True)
class VerificationPlan:
    mode: Mode
    start: int  # first chain sequence walked; the incremental walk also link-checks ``start - 1``
    why: str


def full(why: str) -> VerificationPlan:
    return VerificationPlan("full", 1, why)


def plan_verification(last: PriorVerification | None, last_full_at: datetime | None, head: int, now: datetime,
                      full_every: timedelta | None) -> VerificationPlan:
    """Full from genesis unless a valid run verified a prefix that an anchor pins and a full run is not due.

    The walk resumes after ``min(checked_through, anchored_through)``: records the last run verified but no
    anchor pinned yet (appended between its anchor and its walk) are walked again, so every record below the
    resume point has its stored hash pinned by an anchor whose snapshot every run re-checks."""
    if full_every is None:
        return full("full verification requested")
    if last is None:
        return full("no earlier verification")
    if not last.valid:
        return full("the last verification was invalid")
    if last.checked_through > head:
        return full(f"the last verification reached sequence {last.checked_through}, beyond the head {head}")
    if last_full_at is None or now - last_full_at >= full_every - SLOT_SLACK:
        return full("full verification due")
    resume = min(last.checked_through, last.anchored_through or 0)
    if resume < 1:
        return full("no verified anchor pins the verified records")
    return VerificationPlan("incremental", resume + 1, f"after sequence {resume}, verified and anchored")
