"""``paulp breaker status``: the breaker's state and what moved it, for an operator asking "why are we in HALT?".

The state is read from the breaker's events (current even when the projectors lag); the history (transitions,
alerts, the portfolio valuations' latched alert levels and tail-concentration evaluations) from the
breaker_state views, which say how far they have read the log.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

breaker_app = typer.Typer(help="Circuit breaker: its state and what moved it.", no_args_is_help=True)
console = cli_console()

HISTORY = {
    "transitions": ("SELECT at, from_state, to_state, trigger, actor, reason FROM views.breaker_transitions"
                    " WHERE scope = 'global' ORDER BY notification_id DESC LIMIT %s",
                    ("at", "from", "to", "trigger", "actor", "reason")),
    "alerts": ("SELECT at, code, severity, message FROM views.breaker_alerts WHERE scope = 'global'"
               " ORDER BY notification_id DESC LIMIT %s", ("at", "code", "severity", "message")),
    "portfolioAlertLevels": ("SELECT at, levels, total_value, daily_pnl, max_drawdown"
                             " FROM views.breaker_portfolio_alerts WHERE scope = 'global'"
                             " ORDER BY notification_id DESC LIMIT %s",
                             ("at", "levels", "totalValue", "dailyPnl", "maxDrawdown")),
    "tailEvaluations": ("SELECT at, compliant, herfindahl, max_position_pct, position_count, total_tail_value"
                        " FROM views.breaker_tail_snapshots WHERE scope = 'global' ORDER BY notification_id DESC"
                        " LIMIT %s", ("at", "compliant", "herfindahl", "maxPositionPct", "count", "totalTailValue")),
}
VIEW_AT = "SELECT last_notification_id FROM projection_tracking WHERE name = 'breaker_state'"
LOG_HEAD = "SELECT coalesce(max(notification_id), 0) FROM paulp_events"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def read_status(container: Any, limit: int) -> dict[str, Any]:
    """The breaker from its events plus its latest history rows from the views (newest first)."""
    from paulp.domain.breaker_rules import HALT_TIMEOUT

    breaker = container.breaker.get()
    halted = breaker.halt_started_at if breaker.state.value == "HALT" else None
    out: dict[str, Any] = {
        "state": breaker.state.value,
        "consecutiveFailures": breaker.consecutive_failures,
        "haltStartedAt": _iso(halted),
        "autoRecoveryAfter": _iso(halted + HALT_TIMEOUT) if halted else None,
        "lastStateChange": _iso(breaker.last_state_change),
        "lastAlert": breaker.last_alert,
        "portfolioAlertLevels": dict(breaker.portfolio_alert_levels),
        "tailBreached": breaker.tail_breached,
        "history": {},
    }
    with container.pool.connection() as conn:
        for name, (query, keys) in HISTORY.items():
            rows = conn.execute(query, (limit,)).fetchall()
            out["history"][name] = [{k: _iso(v) for k, v in zip(keys, r, strict=True)} for r in rows]
        at = conn.execute(VIEW_AT).fetchone()
        head = conn.execute(LOG_HEAD).fetchone()
    out["viewsAt"], out["logHead"] = (int(at[0]) if at else 0), (int(head[0]) if head else 0)
    return out


@breaker_app.command("status")
def status(
    limit: Annotated[int, typer.Option(min=1, max=500, help="history rows of each kind")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The breaker's state (from its events), when HALT recovers by itself, and its latest transitions,
    alerts, latched portfolio alert levels and tail-concentration evaluations (from the views)."""
    from paulp.api.cli import services
    from paulp.api.wiring import build

    with services() as (settings, svc):
        container = build(settings, svc.database_url, svc.nats_url)
        try:
            found = read_status(container, limit)
        finally:
            container.close()
    if as_json:
        typer.echo(json.dumps(found, default=str))
        return
    console.print(f"state {found['state']}  consecutive blocked checks {found['consecutiveFailures']}"
                  f"  last change {found['lastStateChange'] or '-'}")
    if found["autoRecoveryAfter"]:
        console.print(f"HALT since {found['haltStartedAt']}; moves to RECOVERY after {found['autoRecoveryAfter']}")
    levels = ", ".join(f"{k}={v}" for k, v in found["portfolioAlertLevels"].items()) or "none"
    console.print(f"portfolio alerts latched: {levels}; tail concentration breached: {found['tailBreached']}")
    if found["viewsAt"] < found["logHead"]:
        console.print(f"history below is read up to event {found['viewsAt']} of {found['logHead']}"
                      " (projectors behind)")
    for name, rows in found["history"].items():
        if not rows:
            continue
        table = Table(*rows[0].keys(), title=name)
        for r in rows:
            table.add_row(*(json.dumps(v) if isinstance(v, dict) else str(v) for v in r.values()))
        console.print(table)
