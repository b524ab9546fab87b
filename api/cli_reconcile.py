"""``paulp reconcile``: reconciliation runs and their drift rows from the views (trading §7, §9; ADR 0393).

api-and-security §1.3 names no read endpoint for them, so the CLI is the operator's way in. Sizes and
percentages are the views' exact decimals; ``--json`` prints them as decimal strings so none is rounded.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

reconcile_app = typer.Typer(help="Reconciliation runs (scheduled and manual) and their drift rows.",
                            no_args_is_help=True)
console = cli_console()

RUN_COLUMNS = ("run_id", "at", "status", "internal_count", "venue_count", "matched_count", "drift_count",
               "max_drift_pct", "total_absolute_drift", "triggered_by", "source", "slot", "venue")
RUN_KEYS = ("runId", "at", "status", "internalCount", "venueCount", "matchedCount", "driftCount", "maxDriftPct",
            "totalAbsoluteDrift", "triggeredBy", "source", "slot", "venue")
RUNS = f"SELECT {', '.join(RUN_COLUMNS)} FROM views.reconciliation_runs ORDER BY at DESC, run_id DESC LIMIT %s"
RUN = f"SELECT {', '.join(RUN_COLUMNS)} FROM views.reconciliation_runs WHERE run_id = %s"
DRIFTS = ("SELECT market_id, side, internal_size, venue_size, drift, drift_pct, severity"
          " FROM views.reconciliation_drifts WHERE run_id = %s ORDER BY market_id, side")
DRIFT_KEYS = ("marketId", "side", "internalSize", "venueSize", "drift", "driftPct", "severity")


def _text(value: Any) -> Any:
    """JSON for a view value: a decimal as its exact text, a time as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _trigger(run: dict[str, Any]) -> str:
    if run["source"] == "scheduler" and run["slot"] is not None:
        return f"schedule slot {run['slot']:%Y-%m-%d %H:%M}Z"
    return f"{run['source'] or 'unrecorded'}: {run['triggeredBy']}"


def _fetch(query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import psycopg

    from paulp.api.cli import services

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        return conn.execute(query, params).fetchall()


@reconcile_app.command("runs")
def runs(
    limit: Annotated[int, typer.Option(min=1, max=500, help="how many runs, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Newest reconciliation runs from the reconciliation_runs view (it follows the projector)."""
    found = [dict(zip(RUN_KEYS, r, strict=True)) for r in _fetch(RUNS, (limit,))]
    if as_json:
        typer.echo(json.dumps([{k: _text(v) for k, v in run.items()} for run in found]))
        return
    table = Table("run", "at", "status", "internal", "venue", "matched", "drifts", "max |drift %|", "trigger")
    for r in found:
        table.add_row(r["runId"], r["at"].isoformat(), r["status"], str(r["internalCount"]), str(r["venueCount"]),
                      str(r["matchedCount"]), str(r["driftCount"]), str(r["maxDriftPct"]), _trigger(r))
    console.print(table)


@reconcile_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="a run id from `paulp reconcile runs`")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """One run and its drift rows (every compared key graded minor, major or critical); exit 1 if unknown."""
    found = _fetch(RUN, (run_id,))
    if not found:
        typer.echo(f"error: no reconciliation run {run_id!r} in the view (see `paulp reconcile runs`)", err=True)
        raise typer.Exit(1)
    run = dict(zip(RUN_KEYS, found[0], strict=True))
    drifts = [dict(zip(DRIFT_KEYS, d, strict=True)) for d in _fetch(DRIFTS, (run_id,))]
    if as_json:
        out = {k: _text(v) for k, v in run.items()}
        out["drifts"] = [{k: _text(v) for k, v in d.items()} for d in drifts]
        typer.echo(json.dumps(out))
        return
    console.print(f"run {run['runId']} at {run['at'].isoformat()} ({_trigger(run)}): {run['status']}, "
                  f"{run['internalCount']} internal / {run['venueCount']} at {run['venue']}, "
                  f"{run['matchedCount']} matched, max |drift %| {run['maxDriftPct']}")
    table = Table("market", "side", "internal", "venue", "drift", "drift %", "severity")
    for d in drifts:
        table.add_row(d["marketId"], d["side"], str(d["internalSize"]), str(d["venueSize"]), str(d["drift"]),
                      str(d["driftPct"]), d["severity"])
    console.print(table)


@reconcile_app.command("run")
def run(
    actor: Annotated[str, typer.Option(help="who runs it (the run's triggeredBy)")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Reconcile now, as POST /admin/reconcile does (a JobRun, source admin); exit 1 when the venue cannot be
    read (the run is recorded as failed, no report)."""
    from paulp.api.cli import operator_text, run_wired

    who = operator_text(actor, "--actor")
    run_id, result = run_wired(lambda c: c.jobs.run_now("reconcile", who, "admin"))
    if as_json:
        typer.echo(json.dumps({"runId": run_id, **result}))
        return
    console.print(f"run {run_id}: {result['status']}, {result['internalPositionCount']} internal /"
                  f" {result['venuePositionCount']} at the venue, {result['matchedCount']} matched,"
                  f" max |drift %| {result['maxDriftPct']} (details: paulp reconcile show {run_id})")
    fees = result.get("feeCorrections")
    if fees:  # LIVE fills' and exit sells' unknown fees read again from Kalshi (ADRs 0448, 0449)
        paid = sum(c["feeUsd"] for c in fees["corrected"])
        exits = sum(1 for c in fees["corrected"] if c.get("kind") == "exit")
        console.print(f"fees: {len(fees['corrected']) - exits} orders and {exits} exit sells settled from Kalshi"
                      f" (+${paid:.2f}), {len(fees['leftUnknown'])} left unknown")
        for left in fees["leftUnknown"]:
            what = f"exit {left['exitId']} ({left['orderId']})" if left.get("kind") == "exit" else left["orderId"]
            console.print(f"  {what}: {left['reason']} ({left['detail']})")


@reconcile_app.command("rebuild-positions")
def rebuild_positions(
    operator: Annotated[str, typer.Option(help="who adopts the venue's positions (kept in the log)")],
    reason: Annotated[str, typer.Option(help="why, e.g. the incident id (kept in the log)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the adjustments, record nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Disaster recovery (trading §8 DR step 4, ADR 0415): adopt Kalshi's positions as internal truth, one
    recorded adjustment of venue - internal contracts per drifted (market, side), then reconcile again.
    Only in HALT; exit 1 and nothing written when refused or when the venue cannot be read."""
    from paulp.api.cli import operator_text, run_wired
    from paulp.api.position_rebuild import rebuild_positions as rebuild

    who, why = operator_text(operator, "--operator"), operator_text(reason, "--reason")
    out = run_wired(lambda c: rebuild(c, who, why, dry_run))
    if as_json:
        typer.echo(json.dumps(out))
        return
    verb = "would adopt" if dry_run else "adopted"
    console.print(f"venue read ({out['statusBefore']} before): {verb} {len(out['adjustments'])} adjustment(s)"
                  + (f"; rebuild {out['rebuildId']}" if out["rebuildId"] else ""))
    table = Table("market", "side", "internal", "venue", "adjustment", "venue cost (c)")
    for a in out["adjustments"]:
        table.add_row(a["marketId"], a["side"], a["internalSize"], a["venueSize"], a["contracts"],
                      a["venueCostCents"] or "-")
    console.print(table)
    for a in out["withoutCost"]:  # ADR 0450: no entry, so no stop-loss; named so the operator knows
        console.print(f"no usable venue cost for {a['marketId']} {a['side']}: the exit monitor will not judge these"
                      f" {a['contracts']} contracts (close them with paulp positions close venue-adjustment …)")
    follow = out["followUp"]
    if follow is not None:
        console.print(f"follow-up reconciliation {follow['runId']}: {follow['status']}")
        if follow["status"] != "ok":
            raise typer.Exit(1)
    elif not out["adjustments"]:
        console.print("internal positions already match the venue; nothing recorded")
