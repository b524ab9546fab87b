"""One reconciliation (trading §7, api-and-security §1.3 ``POST /reconcile``): our LIVE fills against the
positions Kalshi says the account holds.

Internal side: every LIVE order's filled contracts (the execution mode comes from the venue order view,
where each submission records it), grouped by (market, SIDE), less what LIVE exits sold. PAPER fills
never reach the venue, so they are not compared with it (ADR 0256). The venue is read first: when it
cannot be read nothing is written. Major or critical drift goes to the breaker (alert + drift path of
§2.3 item 5) before the run is recorded as a ``ReconciliationReport.Completed`` event. After it, the run moves
the orders it verified (ADR 0410) and settles LIVE fills' unknown fees from Kalshi (ADR 0448; ``feeCorrections`` in
the run's result, not in the report).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from paulp.api.fee_corrections import correct_fees
from paulp.api.order_closing import close_orders, filled_orders
from paulp.api.venue_session import kalshi_port, require_credentials, venue_call
from paulp.domain.reconciliation import Position, PositionKey, RunStatus, reconcile
from paulp.domain.strategy_registry import CATALOGUE, StrategyStatus

log = logging.getLogger("paulp.reconcile")
VENUE = "kalshi"
LIVE_FILLS = (  # bought in LIVE orders, less what LIVE exits sold (ADR 0260), plus venue positions adopted (0415)
    "SELECT ticker, side, sum(n) FROM ("
    " SELECT o.ticker, o.side, o.filled_size AS n FROM views.orders o"
    " JOIN views.kalshi_orders k ON k.order_id = o.order_id"
    " WHERE k.execution_mode = 'LIVE' AND o.filled_size > 0"  # archived too: their exits are subtracted (ADR 0410)
    " UNION ALL SELECT x.ticker, x.side, -x.filled_size FROM views.position_exits x"
    " WHERE x.mode = 'LIVE' AND x.state = 'FILLED'"
    " UNION ALL SELECT a.ticker, a.side, a.contracts FROM views.position_adjustments a) f"
    " GROUP BY ticker, side HAVING sum(n) <> 0 ORDER BY ticker, side"
)
ALERTING = (RunStatus.MAJOR_DRIFT, RunStatus.CRITICAL_DRIFT)


RESOLVED = "SELECT ticker FROM views.market_marks WHERE result IS NOT NULL AND ticker = ANY(%s)"


def internal_live_positions(container: Any) -> list[Position]:
    with container.pool.connection() as conn:
        return [Position(ticker, side, size) for ticker, side, size in conn.execute(LIVE_FILLS)]


def _disagreeing(internal: list[Position], venue: list[Position]) -> set[str]:
    """Markets whose (side, size) holdings differ between the two sides."""
    ours: dict[str, dict[Any, Any]] = {}
    theirs: dict[str, dict[Any, Any]] = {}
    for book, positions in ((ours, internal), (theirs, venue)):
        for p in positions:
            book.setdefault(p.market_id, {})[p.key] = p.size
    return {t for t in ours.keys() | theirs.keys() if ours.get(t, {}) != theirs.get(t, {})}


def settled_markets(container: Any, port: Any, tickers: set[str]) -> tuple[set[str], list[str]]:
    """Of markets the two sides disagree on, those whose outcome is determined: settled money, not a position
    either side still holds (ADR 0287), so not drift. Known from our marks, else asked of the venue (its answer
    evidenced); a market that cannot be read stays in the comparison (ADR 0397)."""
    if not tickers:
        return set(), []
    with container.pool.connection() as conn:
        settled = {t for (t,) in conn.execute(RESOLVED, (sorted(tickers),))}
    evidence: list[str] = []
    for ticker in sorted(tickers - settled):
        try:
            read = port.market(ticker)
        except Exception:
            log.warning("reconcile: market %s could not be read; compared as held", ticker, exc_info=True)
            continue
        evidence.extend(read.evidence_hashes)
        if read.value.result is not None:
            settled.add(ticker)
    return settled, evidence


@dataclass(frozen=True)
class VenueComparison:
    """What a run compares: internal and venue positions (settled markets left out of both), the evidence hashes,
    the settled markets, whether Kalshi was read, and Kalshi's cost per held key where it sent one (ADR 0450)."""

    internal: list[Position]
    positions: list[Position]
    evidence: list[str]
    settled: set[str]
    venue_read: bool
    costs: dict[PositionKey, Decimal] = field(default_factory=dict)


def venue_comparison(container: Any, read_venue: bool = False) -> VenueComparison:
    """The comparison as a run makes it; ``read_venue`` reads Kalshi even with nothing LIVE held (a rebuild adopts
    what it holds, ADR 0415; a FILLED LIVE order is judged against it, ADR 0410)."""
    internal = internal_live_positions(container)
    live = any(container.strategies.status_of(info) == StrategyStatus.LIVE for info in CATALOGUE)
    positions: list[Position] = []
    evidence: list[str] = []
    settled: set[str] = set()
    costs: dict[PositionKey, Decimal] = {}
    venue_read = bool(read_venue or internal or live)
    if venue_read:
        with kalshi_port(container.settings) as (port, client):
            require_credentials(client, "venue positions cannot be read")
            venue = venue_call("positions read", port.positions)
            internal = internal_live_positions(container)  # after the venue read: fills that landed meanwhile
            positions, evidence, costs = list(venue.positions), list(venue.evidence_hashes), dict(venue.costs)
            settled, read = settled_markets(container, port, _disagreeing(internal, positions))
        evidence += read
        if settled:
            log.info("reconcile: left out settled markets %s", ", ".join(sorted(settled)))
            internal = [p for p in internal if p.market_id not in settled]
            positions = [p for p in positions if p.market_id not in settled]
            costs = {k: v for k, v in costs.items() if k[0] not in settled}
    return VenueComparison(internal, positions, evidence, settled, venue_read, costs)


def reconcile_now(container: Any, run_id: str, triggered_by: str, source: str,
                  slot: datetime | None = None) -> dict[str, Any]:
    """Run, alert, record; the §1.3 result. Raises ``JobFailed`` (no report) when the venue is unreadable.

    ``run_id`` is the ``JobRun``'s, so the report and the run that produced it share one id (ADR 0393).

    With no strategy LIVE and no LIVE fill there is nothing at the venue to compare: in PAPER mode the
    "venue" side is the paper book itself (trading §7), which is the internal side, so the run records an
    empty, matching comparison without reading Kalshi (and without needing its credentials)."""
    candidates = filled_orders(container)  # before the internal side is read: each is in it (ADR 0410)
    seen = venue_comparison(container, read_venue=any(mode == "LIVE" for *_, mode in candidates))
    internal, positions, evidence, settled, venue_read = (seen.internal, seen.positions, seen.evidence, seen.settled,
                                                          seen.venue_read)
    run = reconcile(internal, positions)
    if run.status in ALERTING:
        container.breaker.reconciliation_status(run.status.value)
    report = container.orchestrator.record_reconciliation(run_id, VENUE, triggered_by, run, evidence, source, slot,
                                                          sorted(settled))
    close_orders(container, run_id, candidates, run, settled, venue_read)  # steps 8-9 of the orders (ADR 0410)
    result: dict[str, Any] = dict(report.result)
    fees = correct_fees(container, run_id)  # LIVE fills' unknown fees read again from Kalshi (ADR 0448)
    if fees is not None:
        result["feeCorrections"] = fees
    return result
