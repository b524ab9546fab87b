"""Compliance events recorded from the external clients' failures (api-and-security §6.3; ADR 0400).

The job runner opens one ``RunOutcomes`` per run of an ingestion job (``observe_run``: ``ingest`` and ``scan``,
the runs the compliance gate stands in front of); the places that already classify a venue or NOAA failure
call ``note_failure`` with the source they were calling. At the run's end one event per source and type is
recorded. Recording never fails a run: a failure to record is logged. Outside such a run (the trading jobs,
the minute marks, the API) a note is dropped, so nothing here can grow without bound.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from paulp.domain.compliance_outcomes import RunOutcomes

log = logging.getLogger("paulp.compliance")
_current: ContextVar[RunOutcomes | None] = ContextVar("paulp_run_outcomes", default=None)
OBSERVED_JOBS = frozenset({"ingest", "scan"})  # a failed trading run writes only its JobRun (ADR 0393, 0400)


def note_failure(source: str, exc: BaseException) -> None:
    """Count ``exc`` against ``source`` in the current run (a no-op outside one, or for a failure that is ours)."""
    outcomes = _current.get()
    if outcomes is None:
        return
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(exc, TimeoutError) and code is None:
        code = "venue_timeout"
    outcomes.note(source, status if isinstance(status, int) else None, code if isinstance(code, str) else "")


@contextmanager
def observe_run(container: Any, job: str) -> Iterator[RunOutcomes | None]:
    """Collect an ingestion run's failures; record them when it ends, whether it completed or failed."""
    if job not in OBSERVED_JOBS:
        yield None
        return
    outcomes = RunOutcomes(job)
    token = _current.set(outcomes)
    try:
        yield outcomes
    finally:
        _current.reset(token)
        record(container, outcomes)


def record(container: Any, outcomes: RunOutcomes) -> int:
    """One compliance event per (source, type) the run saw; returns how many were recorded."""
    recorded = 0
    for source, kind, description in outcomes.summaries():
        try:
            container.compliance.record_event(source, kind.value, description, f"job:{outcomes.job}")
            recorded += 1
        except Exception:  # the run's own outcome stands; the failure to record is the operator's to see here
            log.exception("could not record compliance event %s on %s (%s)", kind.value, source, description)
    return recorded
