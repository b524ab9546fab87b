"""``paulp compliance``: compliance commands (api-and-security §6.3, §7.3), among them the regulatory export of
orders (ADR 0371)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paulp.api.cli_compliance_sources import add_source_commands

compliance_app = typer.Typer(help="Compliance: the matrix of data sources (two-person status changes, the"
                             " ingestion gate's answers, violations) and the regulatory export of orders.",
                             no_args_is_help=True)
add_source_commands(compliance_app)  # list, check, propose-status, approve, … (ADR 0368)

LIVE_ONLY = ("LIVE",)
LIVE_AND_PAPER = ("LIVE", "PAPER")




@compliance_app.command("export")
def export(
    start: Annotated[str, typer.Option("--from", help="first day, YYYY-MM-DD (UTC, included)")],
    end: Annotated[str, typer.Option("--to", help="last day, YYYY-MM-DD (UTC, included)")],
    fmt: Annotated[str, typer.Option("--format", help="json (raw rows), cftc (Part 17 JSON) or csv")],
    output: Annotated[Path | None, typer.Option("--output", help="write here (replaced whole); default (or -): stdout",
                                                dir_okay=False)] = None,
    include_paper: Annotated[bool, typer.Option("--include-paper",
                                                help="also PAPER orders (default: LIVE orders only)")] = False,
) -> None:
    """Orders created from --from to --to (both days included) as CFTC Part 17 records; exit 2 on bad input, 1
    if a stored order cannot be reported, and then nothing is written."""
    import psycopg

    from paulp.adapters.regulatory_export import read_order_rows
    from paulp.api.cli import fail, output_file, services, write_output
    from paulp.domain.regulatory_export import (
        InvalidExportRequest,
        InvalidOrderRow,
        ReportPeriod,
        parse_format,
        render,
    )

    try:
        period, kind = ReportPeriod.parse(start, end), parse_format(fmt)
    except InvalidExportRequest as exc:
        raise fail(exc.message) from None
    output = output_file(output)
    first, after_last = period.bounds()
    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = read_order_rows(conn, first, after_last, LIVE_AND_PAPER if include_paper else LIVE_ONLY)
    try:
        text = render(rows, period, kind)
    except InvalidOrderRow as exc:
        raise fail(f"cannot export: {exc.message}", code=1) from None
    if output is None:
        typer.echo(text, nl=False)
        return
    write_output(output, text)
    typer.echo(f"{len(rows)} records exported to {output}", err=True)
