"""``paulp rebuild``: replace a live read model with the one the log builds, while projectors run (ADR 0010)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from paulp.api.console import cli_console, styled

if TYPE_CHECKING:
    from paulp.adapters.rebuild import Prepared, Swapped, TableDiff
    from paulp.projections.base import Projection

console = cli_console()


def rebuild(
    projection: Annotated[str | None, typer.Option(help="projection to rebuild")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every registered projection, one after another")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="swap the rebuilt rows in; without it nothing changes")] = False,
) -> None:
    """Rebuild a view from the whole log and swap it in atomically (dry run without --yes).

    Use after a read-model fix or a migration the views alone could not complete (e.g. 0056). The running
    projector continues from its tracked position; exit 1 if a rebuild was refused (live view untouched)."""
    from paulp.api.cli import fail, services
    from paulp.projections.registry import all_projections

    known = all_projections()
    if all_ == (projection is not None):
        raise fail("give --projection P or --all")
    if projection is not None and projection not in known:
        raise fail(f"unknown projection {projection!r}; known: {', '.join(sorted(known))}")
    chosen = list(known.values()) if all_ else [known[projection or ""]]
    refused = 0
    with services() as (_, svc):
        for proj in chosen:
            refused += not _one(svc.database_url, proj, yes)
    if refused:
        raise fail(f"{refused} rebuild(s) refused; the live view of each is unchanged", 1)


def _one(database_url: str, projection: Projection, yes: bool) -> bool:
    """Rebuild one projection; False (after saying why) when it was refused."""
    import psycopg

    from paulp.adapters import rebuild as rb
    from paulp.adapters.replay import ReplayError
    from paulp.api.cli import err

    try:
        with rb.exclusive(database_url, projection):
            prepared = rb.prepare(database_url, projection)
            try:
                if yes:
                    _swapped(prepared, rb.swap(database_url, projection, prepared))
                else:
                    _preview(prepared, *rb.preview(database_url, projection, prepared))
            finally:
                rb.drop(database_url, prepared)
    except (rb.RebuildError, ReplayError) as e:
        err.print(styled("bold red", "refused:", f" {e}"))
        return False
    except psycopg.Error as e:  # rolled back: the live view is as it was
        err.print(styled("bold red", "refused:", f" {projection.name}: database error: {type(e).__name__}: {e}"))
        return False
    return True


def _preview(prepared: Prepared, position: int, diffs: list[TableDiff]) -> None:
    table = Table("table", "live rows", "rebuilt rows", "differ", "only live", "only rebuilt")
    for d in diffs:
        table.add_row(d.table, str(d.live), str(d.rebuilt), str(d.differ), str(d.only_live), str(d.only_rebuilt))
    console.print(f"{prepared.projection}: rebuilt from the log through notification {position}"
                  " (the projector's position)")
    console.print(table)
    console.print(f"dry run: nothing changed; {sum(d.changed for d in diffs)} table(s) of {prepared.projection}"
                  " would change (add --yes to swap)")


def _swapped(prepared: Prepared, swapped: Swapped) -> None:
    table = Table("table", "rows")
    for name, n in swapped.rows.items():
        table.add_row(name, str(n))
    console.print(table)
    console.print(f"{swapped.projection}: swapped in at notification {swapped.position} ({prepared.events} replayed,"
                  f" {swapped.caught_up} caught up under the projector's lock,"
                  f" {swapped.dead_letters_cleared} dead letter(s) cleared)")
