"""``paulp evidence``: what an auditor asks of one stored response (api-and-security §4.3/§4.4; ADR 0430) —
where it came from, what it fed, and whether its bytes are still the ones hashed. Heavy modules are imported
inside the commands, so ``paulp --help`` stays quick."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from paulp.api.console import cli_console, styled

evidence_app = typer.Typer(help="Evidence blobs: provenance, lineage (what each fed) and re-verification.",
                           no_args_is_help=True)
console = cli_console()


def _checked(values: list[str]) -> list[str]:
    from paulp.api.cli import fail
    from paulp.domain.evidence import InvalidEvidenceHash, check_evidence_hash

    try:
        return [check_evidence_hash(v.strip()) for v in values]
    except InvalidEvidenceHash as e:
        raise fail(str(e)) from None


@evidence_app.command("show")
def show_command(
    evidence_hash: Annotated[str, typer.Argument(metavar="HASH", help="lowercase hex SHA-256 of the body")],
) -> None:
    """The blob's index row, every fetch that produced it, every event that used it (the evidence_usage view)
    and a fresh hash check of the bytes, as JSON. Exit 1 when the hash is unknown or the check fails."""
    import psycopg

    from paulp.adapters.evidence_lookup import describe
    from paulp.adapters.evidence_store import EvidenceStore
    from paulp.api.cli import fail, services

    (h,) = _checked([evidence_hash])
    with services() as (settings, svc), psycopg.connect(svc.database_url, autocommit=True) as conn:
        found = describe(conn, EvidenceStore(settings.evidence_dir()), h)
    if found is None:
        raise fail(f"unknown evidence {h}: not indexed, not named by any event, not on disk", 1)
    print(json.dumps(found, indent=2, sort_keys=True, default=str))
    if not found["check"]["passed"]:
        raise typer.Exit(1)


@evidence_app.command("verify")
def verify_command(
    hashes: Annotated[list[str] | None, typer.Argument(metavar="[HASH]...", help="blobs to check")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every indexed blob (with --since/--source: those)")] = False,
    since: Annotated[str | None, typer.Option(help="with --all: fetched at or after, ISO 8601 (UTC if no offset)")]
    = None,
    source: Annotated[str | None, typer.Option(help="with --all: only this source (kalshi_trade_api, ...)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON")] = False,
) -> None:
    """Re-read each blob, recompute its SHA-256 and stamp the index row (verified_at, verification_passed).
    Exit 1 if any blob is missing, altered or not indexed; exit 2 on bad input, before anything is read."""
    from datetime import UTC, datetime

    import psycopg

    from paulp.adapters.evidence_lookup import indexed_hashes, verify
    from paulp.adapters.evidence_store import EvidenceStore
    from paulp.api.cli import fail, services
    from paulp.api.cli_postmortem import parse_time

    named = _checked(hashes or [])
    if bool(named) == all_:
        raise fail("give either blob hashes or --all")
    if (since is not None or source is not None) and not all_:
        raise fail("--since and --source only go with --all")
    after = parse_time("--since", since) if since is not None else None
    with services() as (settings, svc), psycopg.connect(svc.database_url, autocommit=True) as conn:
        targets = named or indexed_hashes(conn, after, source)
        results = verify(conn, EvidenceStore(settings.evidence_dir()), targets, datetime.now(UTC))
    failed = [r for r in results if not r.passed]
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for r in failed:
            console.print(styled("red", "FAILED", f" {r.evidence_hash}: {r.problem}"), highlight=False)
        console.print(f"{len(results) - len(failed)} of {len(results)} blobs verified", highlight=False)
    if failed:
        raise typer.Exit(1)
