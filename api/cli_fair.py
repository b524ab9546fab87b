"""``paulp fair``: operator-supplied fair probabilities the bonding scan needs to signal bonds (ADR 0277)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from paulp.api.console import cli_console

fair_app = typer.Typer(help="Operator-supplied fair YES probabilities for the bonding scan (expire; audited).",
                       no_args_is_help=True)
console = cli_console()

_DURATION = re.compile(r"^(\d{1,6})([mhd])\Z")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}
LIST = ("SELECT ticker, probability, source, reason, actor, set_at, valid_until, withdrawn_at, withdrawn_by,"
        " withdraw_reason, version FROM views.fair_values")
LIST_KEYS = ("ticker", "probability", "source", "reason", "actor", "setAt", "validUntil", "withdrawnAt",
             "withdrawnBy", "withdrawReason", "version")
CURRENT = " WHERE withdrawn_at IS NULL AND valid_until > %s"


def parse_validity(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d``: how long a value counts from when it is set (the aggregate bounds it)."""
    from paulp.domain.fair_values import InvalidFairValue

    m = _DURATION.match(text.strip())
    if m is None:
        raise InvalidFairValue(f"--valid-for must be a whole number of m, h or d (e.g. 24h), got {text!r}")
    return timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})


def _status(row: dict[str, Any], now: datetime) -> str:
    if row["withdrawnAt"] is not None:
        return "withdrawn"
    return "current" if row["validUntil"] > now else "expired"


@fair_app.command("set")
def set_value(
    ticker: Annotated[str, typer.Argument(help="Kalshi market ticker, as the catalogue spells it")],
    probability: Annotated[float, typer.Argument(help="fair YES probability, strictly between 0 and 1")],
    source: Annotated[str, typer.Option(help="where it comes from, e.g. 'desk research'")],
    reason: Annotated[str, typer.Option(help="why this value (kept with it in the log)")],
    actor: Annotated[str, typer.Option(help="who sets it")],
    valid_for: Annotated[str, typer.Option(help="how long it counts: 90m, 24h, up to 7d")] = "24h",
) -> None:
    """Set (or replace) a market's fair probability; it stops counting when it expires."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.fair_values import InvalidFairValue, fair_ticker
    from paulp.domain.services.fair_values import FairValueService

    try:
        validity, name = parse_validity(valid_for), fair_ticker(ticker)
    except InvalidFairValue as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc):
        with context(FairValueService, svc.database_url) as app:
            try:
                nid = app.set(name, probability, source, reason, actor, validity)
                value = app.get(name)
            except InvalidFairValue as exc:
                raise fail(str(exc)) from None
    assert value is not None and value.valid_until is not None
    console.print(f"fair value of {name} set to {probability} until {value.valid_until.isoformat()}"
                  f" (notification {nid})", highlight=False)


@fair_app.command("withdraw")
def withdraw(
    ticker: Annotated[str, typer.Argument(help="Kalshi market ticker")],
    actor: Annotated[str, typer.Option(help="who withdraws it")],
    reason: Annotated[str, typer.Option(help="why it no longer holds")],
) -> None:
    """Withdraw a market's current fair value: the next scan signals no bond on it."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.fair_values import InvalidFairValue, NoCurrentFairValue, fair_ticker
    from paulp.domain.services.fair_values import FairValueService

    try:
        name = fair_ticker(ticker)
    except InvalidFairValue as exc:
        raise fail(str(exc)) from None
    with services() as (_, svc):
        with context(FairValueService, svc.database_url) as app:
            try:
                nid = app.withdraw(name, actor, reason)
            except (InvalidFairValue, NoCurrentFairValue) as exc:
                raise fail(str(exc)) from None
    console.print(f"fair value of {name} withdrawn (notification {nid})", highlight=False)


@fair_app.command("list")
def list_values(
    show_all: Annotated[bool, typer.Option("--all", help="also expired and withdrawn values")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Fair values from the fair_values view (current ones unless --all); the view follows the projector."""
    import psycopg

    from paulp.adapters.clock import SystemClock
    from paulp.api.cli import services

    now = SystemClock().now()
    query = LIST + ("" if show_all else CURRENT) + " ORDER BY ticker"
    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = [dict(zip(LIST_KEYS, r, strict=True))
                for r in conn.execute(query, () if show_all else (now,)).fetchall()]
    for row in rows:
        row["status"] = _status(row, now)
    if as_json:  # times as ISO text, numbers as numbers
        typer.echo(json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)))
        return
    table = Table("ticker", "p", "status", "valid until", "source", "actor", "reason")
    for r in rows:
        table.add_row(r["ticker"], f"{r['probability']:.4f}", r["status"], r["validUntil"].isoformat(),
                      r["source"], r["actor"], r["reason"])
    console.print(table)
