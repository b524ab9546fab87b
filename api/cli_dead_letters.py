"""``paulp dead-letters``: what the projectors gave up on (api-and-security §7.2), and the replay of one after the
projection was fixed (ADR 0398)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from paulp.api.console import cli_console

dead_letters_app = typer.Typer(help="Messages the projectors dead-lettered, and their replay.", no_args_is_help=True)
console = cli_console()


@dead_letters_app.command("list")
def list_command(
    projection: Annotated[str | None, typer.Option(help="only this projection")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="only the ones not replayed yet")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="print them as JSON")] = False,
) -> None:
    """Newest first."""
    import psycopg

    from paulp.adapters.dead_letters import list_dead_letters
    from paulp.api.cli import services

    with services() as (_, svc), psycopg.connect(svc.database_url, autocommit=True) as conn:
        rows = list_dead_letters(conn, limit, projection, pending)
    if as_json:
        print(json.dumps([r.to_json() for r in rows], indent=2))
        return
    table = Table("id", "projection", "event", "topic", "stream seq", "DLQ seq", "attempts", "recorded",
                  "replayed", "error")
    for r in rows:
        table.add_row(str(r.id), r.projection, str(r.notification_id), r.topic, str(r.stream_seq or "-"),
                      str(r.dlq_seq or "-"), str(r.attempts or "-"), r.recorded_at.isoformat(timespec="seconds"),
                      f"{r.replayed_at.isoformat(timespec='seconds')} by {r.replayed_by}" if r.replayed_at else "-",
                      r.error)
    console.print(table)


@dead_letters_app.command("replay")
def replay_command(
    letter_id: Annotated[int, typer.Argument(metavar="ID", help="the dead letter's id (paulp dead-letters list)")],
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    actor: Annotated[str, typer.Option(help="who replays it")],
) -> None:
    """Apply one dead-lettered event to its view with the projection as deployed now, and mark it replayed.
    Exit 1 and nothing changed when it is unknown, already replayed, or still fails."""
    from paulp.adapters.dead_letters import replay_dead_letter
    from paulp.api.cli import fail, operator_text, services
    from paulp.domain.errors import DomainError
    from paulp.projections.registry import all_projections

    why, who = operator_text(reason, "--reason"), operator_text(actor, "--actor")
    with services() as (_, svc):
        try:
            row = replay_dead_letter(svc.database_url, all_projections(), letter_id, who, why)
        except DomainError as e:
            raise fail(e.message, 1) from None
    console.print(f"dead letter {row.id} (event {row.notification_id}) replayed into {row.projection}"
                  f" by {row.replayed_by}", highlight=False)
