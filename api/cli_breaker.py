"""``paulp breaker``: the breaker's state and what moved it ("why are we in HALT?"), and the operator's moves.

``status`` reads the state from the breaker's events (current even when the projectors lag) and the history
(transitions, alerts, the portfolio valuations' latched alert levels and tail-concentration evaluations) from the
breaker_state views, which say how far they have read the log. ``transition`` and ``reset`` are trading §2.2's
operator commands, recorded with the actor who ran them (ADR 0376).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

breaker_app = typer.Typer(help="Circuit breaker: its state, what moved it, and the operator's moves.",
                          no_args_is_help=True)
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
    from paulp.api.cli import wired

    with wired() as container:
        found = read_status(container, limit)
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


def _operator_input(reason: str, actor: str) -> tuple[str, str]:
    """Refuse a blank reason or actor, or a NUL (no text column can hold it), before anything starts."""
    from paulp.api.cli import fail

    for name, value in (("--reason", reason), ("--actor", actor)):
        if not value.strip():
            raise fail(f"{name} must not be blank")
        if "\x00" in value:
            raise fail(f"{name} must not contain NUL characters")
    return reason.strip(), actor.strip()


def _move(command: str, *args: Any) -> Any:
    """Run one BreakerService command; a refusal (invalid transition, reset from HALT without force) exits 1
    with the spec's message, and the refused command records nothing."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.breaker_rules import InvalidBreakerTransition, ResetRefused
    from paulp.domain.services.breaker import BreakerService

    with services() as (_, svc), context(BreakerService, svc.database_url) as app:
        try:
            return getattr(app, command)(*args)
        except (InvalidBreakerTransition, ResetRefused) as exc:
            raise fail(str(exc), 1) from None


def _report(result: Any, actor: str) -> None:
    console.print(f"breaker {result.previous_state.value} -> {result.new_state.value} by {actor}:"
                  f" {result.reason} (notification {result.notification_id})", highlight=False)


@breaker_app.command("transition")
def transition(
    to: Annotated[str, typer.Option("--to", help="NORMAL, CAUTION, HALT or RECOVERY (trading §2.2's table)")],
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    actor: Annotated[str, typer.Option(help="who moves it")],
) -> None:
    """Move the breaker through the manual table (HALT only to RECOVERY); the blocked-check counter is kept.
    Exit 1 and nothing recorded when the table refuses the move."""
    from paulp.api.cli import fail
    from paulp.domain.breaker_rules import BreakerState

    target = to.strip().upper()
    if target not in BreakerState.__members__:
        raise fail(f"Invalid target state {to!r}; one of: {', '.join(BreakerState.__members__)}")
    why, who = _operator_input(reason, actor)
    _report(_move("transition", target, why, who), who)


@breaker_app.command("reset")
def reset(
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    actor: Annotated[str, typer.Option(help="who resets it")],
    force: Annotated[bool, typer.Option("--force", help="reset from HALT as well")] = False,
) -> None:
    """Back to NORMAL from any state with the blocked-check counter at 0 (trading §2.2), recorded as a transition
    even NORMAL -> NORMAL. From HALT only with --force: otherwise exit 1 and nothing recorded."""
    why, who = _operator_input(reason, actor)
    _report(_move("reset", why, force, who), who)
