"""``paulp execution policy``: each strategy's execution policy (trading §5.1), changed in the log (ADR 0380).

A change names the mode it applies to, takes effect from the next order and bumps the policy's version. Bad
input exits 2 with nothing recorded.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

execution_app = typer.Typer(help="Execution settings operators change (audited in the log).", no_args_is_help=True)
policy_app = typer.Typer(help="Per-strategy execution policies (trading §5.1): show or change.", no_args_is_help=True)
execution_app.add_typer(policy_app, name="policy")
console = cli_console()


@policy_app.command("set")
def set_policy(
    strategy: Annotated[str, typer.Argument(help="bonding, weather, xv_signal, smart_money or resolution")],
    pairs: Annotated[list[str], typer.Argument(help="FIELD=VALUE pairs in the spec's names: maxSingleOrderSize=20,"
                                               " blockedTickers=KXA,KXB, tradingHours.endHourUtc=20,"
                                               " tradingHours.tradingDays=\\[1,2,3]")],
    mode: Annotated[str, typer.Option(help="the mode's policy to change: PAPER or LIVE")],
    actor: Annotated[str, typer.Option(help="who makes the change (kept in the log)")],
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    venue: Annotated[str, typer.Option(help="the venue's policy")] = "kalshi",
) -> None:
    """Change a strategy's policy for one mode; the next order of that strategy is held to it."""
    from paulp.api.cli import fail, services
    from paulp.api.cli_risk_limits import assignments
    from paulp.api.contexts import context
    from paulp.domain.execution_policies import (
        InvalidExecutionPolicy,
        policy_changes,
        policy_mode,
        policy_strategy,
        policy_venue,
    )
    from paulp.domain.services.operator_limits import ExecutionPolicyService

    try:  # refused before any service starts: nothing stored
        s, m, v = policy_strategy(strategy), policy_mode(mode), policy_venue(venue)
        changes = policy_changes(assignments(pairs))
    except (ValueError, InvalidExecutionPolicy) as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc), context(ExecutionPolicyService, svc.database_url) as app:
        try:
            version, nid = app.update(s, m.value, changes, actor, reason, v)
        except InvalidExecutionPolicy as exc:
            raise fail(str(exc)) from None
    console.print(f"{s} {m.value} policy at {v}: version {version} in force (notification {nid})", highlight=False)


@policy_app.command("show")
def show_policy(
    strategy: Annotated[str | None, typer.Argument(help="one strategy (default: all)")] = None,
    venue: Annotated[str, typer.Option(help="the venue's policies")] = "kalshi",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Each strategy's PAPER and LIVE policy in force, read from the log as the execution step reads it."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.execution_policies import (
        SETTABLE_MODES,
        InvalidExecutionPolicy,
        policy_json,
        policy_strategy,
        policy_venue,
    )
    from paulp.domain.execution_policy import INITIAL_STRATEGY_MODES, policy_for_mode
    from paulp.domain.services.operator_limits import ExecutionPolicyService

    try:
        names = [policy_strategy(strategy)] if strategy is not None else list(INITIAL_STRATEGY_MODES)
        v = policy_venue(venue)
    except InvalidExecutionPolicy as exc:
        raise fail(str(exc)) from None
    rows: list[dict[str, Any]] = []
    with services() as (_, svc), context(ExecutionPolicyService, svc.database_url) as app:
        for name in names:
            row = app.row(name, v)
            for mode in SETTABLE_MODES:
                policy = policy_json(row.policy(mode) if row else policy_for_mode(mode))
                rows.append({"strategy": name, "venue": v, "mode": mode.value,
                             "version": row.policy_version if row else 0,
                             "changed": sorted(row.overrides.get(mode.value, {})) if row else [], "policy": policy})
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("strategy", "mode", "version", "per min", "per hour", "daily volume (c)", "max size", "spacing ms",
                  "hours (UTC)", "changed by operators")
    for r in rows:
        p, h = r["policy"], r["policy"]["tradingHours"]
        hours = f"{h['startHourUtc']}-{h['endHourUtc']} days {h['tradingDays']}" if h["enabled"] else "any"
        table.add_row(r["strategy"], r["mode"], str(r["version"]), str(p["maxOrdersPerMinute"]),
                      str(p["maxOrdersPerHour"]), str(p["maxDailyVolume"]), str(p["maxSingleOrderSize"]),
                      str(p["minOrderSpacingMs"]), hours, ", ".join(r["changed"]))
    console.print(table)
