"""``paulp audit mirror`` and ``paulp audit verify-mirror``: write the audit mirror now, and check it (ADR 0385)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paulp.api.console import cli_console, styled

console = cli_console()
err = cli_console(stderr=True)


def mirror(rescan: Annotated[bool, typer.Option(help="walk the whole chain: recreate files moved aside, compare"
                                                  " the others")] = False) -> None:
    """Copy every chain record not yet mirrored to PAULP_AUDIT_MIRROR_DIR, then stop (what `paulp up` does
    continuously); exit 1 if the mirror cannot be written or a mirror file differs from its record (the
    breaker is tripped to HALT for that)."""
    from paulp.adapters.audit_mirror import MirrorUnavailable
    from paulp.api.audit_mirror_job import mirror_now
    from paulp.api.cli import fail, services
    from paulp.api.wiring import build

    created = already = 0
    with services() as (settings, svc):
        if settings.PAULP_AUDIT_MIRROR_DIR is None:
            raise fail("PAULP_AUDIT_MIRROR_DIR is not set: nothing to write the mirror to", 1)
        container = build(settings, svc.database_url, svc.nats_url)
        try:
            first = True
            while True:
                result = mirror_now(container, from_start=rescan and first)
                first = False
                created, already = created + result.created, already + result.already
                if result.busy:
                    raise fail("another audit mirror writer holds this mirror (is `paulp up` running?)", 1)
                if result.caught_up:
                    break
        except MirrorUnavailable as exc:
            raise fail(str(exc), 1) from None
        finally:
            container.close()
    if result.mismatch is not None:
        raise fail(f"{result.mismatch.message()}; breaker tripped to HALT", 1)
    console.print(f"audit mirror at sequence {result.position} of {result.head}: {created} file(s) written,"
                  f" {already} already there")


def verify_mirror(as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False) -> None:
    """Compare every mirror file with the chain (missing, different, extra); exit 1 on any finding. Records
    past the writer's position are pending, not missing."""
    from paulp.adapters.audit_mirror import MirrorUnavailable
    from paulp.adapters.audit_mirror_check import verify_mirror as run
    from paulp.api.cli import fail, services

    with services() as (settings, svc):
        try:
            report = run(svc.database_url, settings.PAULP_AUDIT_MIRROR_DIR)
        except MirrorUnavailable as exc:
            raise fail(str(exc), 1) from None
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    if report.valid:
        if not as_json:
            console.print(styled("green", "audit mirror matches the chain", f": {report.checked} record(s), mirrored"
                                 f" through {report.position}, {report.pending} pending"))
        return
    for kind in ("missing", "different", "extra"):
        for item in getattr(report, kind).items:
            err.print(f"{kind}: {item if isinstance(item, str) else item['key']}", markup=False)
    raise fail(f"audit mirror does NOT match the chain: {report.missing.count} missing,"
               f" {report.different.count} different, {report.extra.count} extra", 1)
