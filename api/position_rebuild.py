"""Rebuild internal positions from the venue (trading §7 "Rebuild", §8 DR step 4; ADR 0415).

Refused before the venue is read unless the breaker is in HALT and an operator gives a reason. Then Kalshi is read
now, compared as a reconciliation run compares (LIVE fills - LIVE exits + earlier adjustments, settled markets
left out), and each drifted (market, SIDE) gets one ``PositionRebuild.Adjusted`` of venue - internal contracts.
An unreadable venue raises ``JobFailed`` with nothing written. After recording, the reconciliation view is
brought up to the rebuild (the same log catch-up as the one-shot tools) and a follow-up reconciliation is run as a
``JobRun`` (source ``admin``, the operator as actor): its status says whether the rebuild took. From the in-flight
check to the last adjustment recorded no LIVE exit or close can sell (ADR 0480), and the rebuild does not start
while one is selling (``live_sells_in_progress``).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from paulp.adapters.projector import catch_up_from_log
from paulp.api.advisory_locks import no_live_sells
from paulp.api.reconcile_job import VENUE, venue_comparison
from paulp.domain.orchestration import reconciliation_result
from paulp.domain.order_states import WORKING_STATES
from paulp.domain.position_exits import ExitState
from paulp.domain.position_rebuild import require_halted_operator, require_nothing_in_flight
from paulp.domain.reconciliation import reconcile

PROJECTION = "reconciliation"  # owns views.position_adjustments, which the reconcile job reads
ORDERS = "orders"  # owns views.orders and views.position_exits
LOCK_WAIT_S = 5.0
WORKING_LIVE = ("SELECT order_id FROM views.orders WHERE state = ANY(%s) AND coalesce(mode, 'LIVE') <> 'PAPER'"
                " ORDER BY created_at, order_id")
UNSETTLED_EXITS = ("SELECT exit_uuid::text FROM views.position_exits WHERE mode = 'LIVE' AND state = ANY(%s)"
                   " ORDER BY decided_at, exit_uuid")


def rebuild_positions(container: Any, operator: str, reason: str, dry_run: bool = False,
                      follow_up: bool = True) -> dict[str, Any]:
    """Adopt the venue's positions; the summary the CLI prints. Raises a ``RebuildRefused`` (nothing read or
    written) or ``JobFailed`` (venue unreadable, nothing written)."""
    require_halted_operator(container.breaker.get().state.value, operator, reason)  # before Kalshi is read
    # one at a time, and never beside a reconciliation run: two rebuilds reading the same drift would both
    # adopt it (JobBusy, nothing read, when one is going on)
    with container.jobs.exclusive("reconcile", LOCK_WAIT_S), no_live_sells(container, LOCK_WAIT_S):
        _require_nothing_in_flight(container)  # before Kalshi is read; and no LIVE sell starts until we are done
        read_at = container.clock.now()  # not later than the read itself, so the age check errs on the safe side
        seen = venue_comparison(container, read_venue=True)  # with Kalshi's cost of each position (ADR 0450)
        evidence, settled = seen.evidence, seen.settled
        run = reconcile(seen.internal, seen.positions)
        comparison = reconciliation_result(run, read_at)
        if settled:
            comparison["settledMarkets"] = sorted(settled)
        rebuild_id = uuid.uuid4().hex
        rebuild, notification_id = container.orchestrator.adopt_venue_positions(  # the breaker read again: HALT?
            rebuild_id, VENUE, run, comparison, evidence, read_at, container.breaker.get().state.value, operator,
            reason, dry_run, seen.costs)
        if rebuild is not None and not dry_run:  # the next run must see the adjustments before the lock goes
            with psycopg.connect(container.database_url, autocommit=True) as conn:
                catch_up_from_log(conn, container.projections[PROJECTION])
    adjustments = rebuild.adjustments if rebuild is not None else []
    out: dict[str, Any] = {
        "rebuildId": rebuild_id if rebuild is not None and not dry_run else None, "dryRun": dry_run,
        "statusBefore": comparison["status"], "adjustments": [a.to_dict() for a in adjustments],
        "evidenceHashes": list(evidence), "settledMarkets": sorted(settled), "followUp": None,
        # adopted without a usable venue cost: the exit monitor cannot judge them, an operator closes them (ADR 0450)
        "withoutCost": [{"marketId": a.market_id, "side": a.side, "contracts": str(a.contracts)}
                        for a in adjustments if a.contracts > 0 and a.venue_cost_cents is None],
    }
    if dry_run or rebuild is None or not follow_up:
        return out
    run_id, result = container.jobs.run_now("reconcile", operator.strip(), "admin")
    out["followUp"] = {"runId": run_id, "status": result["status"], "matchedCount": result["matchedCount"],
                       "maxDriftPct": result["maxDriftPct"]}
    out["notificationId"] = notification_id
    return out


def _require_nothing_in_flight(container: Any) -> None:
    """A LIVE order working at Kalshi (or in doubt) or a LIVE exit not yet filled could still change what Kalshi
    holds: adopting the venue now would count those contracts a second time when they resolve. The views are
    brought up to the log first, so an order or exit recorded a moment ago is seen."""
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections[ORDERS])
        orders = [r[0] for r in conn.execute(WORKING_LIVE, ([s.value for s in WORKING_STATES],)).fetchall()]
        exits = [r[0] for r in conn.execute(UNSETTLED_EXITS, ([ExitState.DECIDED.value, ExitState.IN_DOUBT.value],))
                 .fetchall()]
    require_nothing_in_flight(orders, exits)
