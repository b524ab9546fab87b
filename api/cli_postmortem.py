"""``paulp postmortem``: the data trading §8's postmortem sections need, read from the log for a window (ADR 0404)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from paulp.api.console import cli_console

console = cli_console()
FORMATS = ("json", "markdown")


def parse_time(option: str, text: str) -> datetime:
    """An ISO 8601 time; one without an offset is taken as UTC (the timeline is UTC)."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        from paulp.api.cli import fail

        raise fail(f"{option} is not an ISO 8601 time: {text!r}") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)




def postmortem(
    from_: Annotated[str, typer.Option("--from", help="window start, ISO 8601 (UTC when no offset)")],
    to: Annotated[str, typer.Option("--to", help="window end, ISO 8601, inclusive")],
    incident_id: Annotated[str | None, typer.Option("--incident-id", help="default: derived from the window")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or markdown")] = "json",
    output: Annotated[Path | None, typer.Option("--output", help="file (replaced whole); default (or -): stdout",
                                                dir_okay=False)] = None,
) -> None:
    """Header, impact, timeline, detection, response, invariant, breaker and audit-trail data of an incident
    window, from the event log; exit 1 (report still written) when the chain over the window is not intact."""
    from paulp.adapters.postmortem import PostmortemError
    from paulp.adapters.postmortem import postmortem as build
    from paulp.api.cli import fail, output_file, services, write_output
    from paulp.domain.postmortem import InvalidIncidentId
    from paulp.domain.postmortem import incident_id as derive_id
    from paulp.domain.postmortem_render import render_markdown

    start, end = parse_time("--from", from_), parse_time("--to", to)
    if start > end:
        raise fail("--from must not be after --to")
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    output = output_file(output)
    try:
        ident = derive_id(start, end, incident_id)
    except InvalidIncidentId as exc:
        raise fail(str(exc)) from None
    with services() as (settings, svc):
        try:
            report = build(svc.database_url, settings.PAULP_ANCHOR_DATABASE_URL or svc.database_url, start, end, ident)
        except PostmortemError as exc:
            raise fail(str(exc), 1) from None
    text = json.dumps(report, indent=2, default=str) + "\n" if fmt == "json" else render_markdown(report)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_output(output, text)
        console.print(f"postmortem {ident} written to {output} ({report['header']['events']} event(s))")
    if not report["audit"]["chainIntact"]:
        raise fail(f"audit chain over the window is NOT intact (first bad sequence"
                   f" {report['audit']['verification'].get('firstBadSequence')})", 1)
