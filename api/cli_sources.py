"""``paulp sources`` and ``paulp claims``: the sources registry of api-and-security §4.8 (ADR 0432).

Every change is an event (registration, expiry, verification, retraction); the listings read the ``sources``
projection's views. Bad input exits 2 before anything is written; heavy modules load inside the commands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.text import Text

from paulp.api.console import cli_console, styled

sources_app = typer.Typer(help="Sources registry (api-and-security §4.8): where facts came from, with lineage.",
                          no_args_is_help=True)
claims_app = typer.Typer(help="Citations for factual claims: no claim is a FACT without an evidence pointer.",
                         no_args_is_help=True)
console = cli_console()


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


@contextmanager
def _registry() -> Iterator[tuple[Any, Any, Any]]:
    """(settings, service, connection) for one command; domain refusals become exit 2 with the reason."""
    import psycopg

    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.errors import DomainError
    from paulp.domain.services.sources import SourcesService

    with services() as (settings, svc), psycopg.connect(svc.database_url, autocommit=True) as conn, \
            context(SourcesService, svc.database_url) as app:
        try:
            yield settings, app, conn
        except DomainError as e:
            raise fail(e.message) from None


def _store(settings: Any) -> Any:
    from paulp.adapters.evidence_store import EvidenceStore

    return EvidenceStore(settings.evidence_dir())


@sources_app.command("register")
def register_command(
    source_type: Annotated[str, typer.Option("--type", help="api_response, websocket_message, webhook_payload,"
                                             " manual_entry or computed")],
    url: Annotated[str, typer.Option(help="where it was fetched (or what was computed)")],
    vendor: Annotated[str, typer.Option(help="who provides it (kalshi, noaa, ...)")],
    quality: Annotated[str, typer.Option(help="authoritative, primary, secondary or tertiary")],
    actor: Annotated[str, typer.Option(help="who registers it")],
    evidence_hash: Annotated[str | None, typer.Option("--evidence-hash", help="the stored blob it rests on")]
    = None,
    parent: Annotated[list[str] | None, typer.Option("--parent", help="a parent source id (repeat)")] = None,
    ttl: Annotated[int | None, typer.Option(help="seconds until it expires")] = None,
    fetched_at: Annotated[str | None, typer.Option("--fetched-at", help="ISO 8601; default now")] = None,
    metadata: Annotated[str | None, typer.Option(help="a JSON object kept with it")] = None,
) -> None:
    """Register a source; the same fetch registered again is the same source (not written twice). Prints its id
    as JSON; listings show it once the sources projection has applied it."""
    from datetime import UTC, datetime

    from paulp.api.cli import fail
    from paulp.api.cli_postmortem import parse_time

    try:
        meta = json.loads(metadata) if metadata is not None else None
    except ValueError:
        raise fail("--metadata is not JSON") from None
    if meta is not None and not isinstance(meta, dict):
        raise fail("--metadata must be a JSON object")
    at = parse_time("--fetched-at", fetched_at) if fetched_at is not None else datetime.now(UTC)
    with _registry() as (settings, app, _conn):
        source, nid = app.register(source_type=source_type, url=url, vendor=vendor, quality=quality,
                                   fetched_at=at, actor=actor, evidence_hash=evidence_hash, lineage=parent or (),
                                   ttl_seconds=ttl, metadata=meta)
        if source.blob_stored and not _store(settings).exists(source.evidence_hash) and nid is not None:
            console.print(styled("yellow", "warning:", f" no blob {source.evidence_hash} in the evidence store"),
                          highlight=False)
    _print({"registered": nid is not None, "sourceId": source.source_id, "evidenceHash": source.evidence_hash,
            "expiresAt": source.expires_at.isoformat() if source.expires_at else None, "notificationId": nid})


@sources_app.command("show")
def show_command(source_id: Annotated[str, typer.Argument(metavar="SOURCE_ID")]) -> None:
    """The source, its verification (§4.8 verify) and its lineage; exit 1 when unknown or invalid."""
    from paulp.adapters.sources import source_row, verify_source
    from paulp.domain.sources import check_source_id, trace_lineage

    with _registry() as (settings, app, conn):
        sid = check_source_id(source_id)
        row = source_row(conn, sid)
        check = verify_source(row, _store(settings))
        lineage = trace_lineage(sid, app.parents_of) if row is not None else []
    _print({"source": row, "verification": check, "lineage": lineage})
    if not check["valid"]:
        raise typer.Exit(1)


@sources_app.command("list")
def list_command(
    vendor: Annotated[str | None, typer.Option(help="only this vendor")] = None,
    evidence_hash: Annotated[str | None, typer.Option("--evidence-hash", help="the latest source with it")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Newest first, as JSON; with --evidence-hash only the latest source resting on that hash."""
    from paulp.adapters.sources import latest_by_hash, list_sources

    with _registry() as (_, _app, conn):
        if evidence_hash is not None:
            found = latest_by_hash(conn, evidence_hash.strip())
            _print([found] if found else [])
            return
        _print(list_sources(conn, vendor, limit))


@sources_app.command("stats")
def stats_command() -> None:
    """Count, expired count and the quality histogram."""
    from paulp.adapters.sources import stats

    with _registry() as (_, _app, conn):
        _print(stats(conn))


@sources_app.command("expire")
def expire_command(actor: Annotated[str, typer.Option(help="who runs the sweep (kept in the reason)")]) -> None:
    """Expire every source past its TTL (an event each; blobs are kept: the store is content-addressed and
    shared) and every citation past its expiry."""
    from datetime import UTC, datetime

    from paulp.adapters.sources import due_citations, due_sources
    from paulp.api.cli import fail

    if not actor.strip():
        raise fail("--actor must not be blank")
    now = datetime.now(UTC)
    with _registry() as (_, app, conn):
        # one save for the sweep: a citation that refuses the actor leaves every source unexpired too (ADR 0510)
        done, cited = app.expire_due(due_sources(conn, now), due_citations(conn, now)[0],
                                     f"ttl passed (sweep by {actor.strip()})", actor, now)
    console.print(f"{len(done)} sources and {len(cited)} citations expired", highlight=False)


@claims_app.command("add")
def add_claim(
    claim: Annotated[str, typer.Option(help="the claim, as it will be cited")],
    source_type: Annotated[str, typer.Option("--type", help="api_response, paper_snapshot, article_snapshot,"
                                             " screenshot, computation or on_chain")],
    actor: Annotated[str, typer.Option(help="who records it")],
    evidence_hash: Annotated[str | None, typer.Option("--evidence-hash", help="the stored blob it cites")] = None,
    input_hash: Annotated[list[str] | None, typer.Option("--input-hash", help="a computation's input blob"
                                                         " (repeat)")] = None,
    code_ref: Annotated[str | None, typer.Option("--code-ref", help="the code that computed it")] = None,
    url: Annotated[str | None, typer.Option()] = None,
    title: Annotated[str | None, typer.Option()] = None,
    author: Annotated[str | None, typer.Option()] = None,
    published: Annotated[str | None, typer.Option(help="publication date as printed")] = None,
    confidence: Annotated[str, typer.Option(help="high, medium or low")] = "medium",
    reverify_days: Annotated[int | None, typer.Option("--reverify-days", help="re-verify every N days")] = None,
    expires: Annotated[str | None, typer.Option(help="ISO 8601 time it stops being current")] = None,
) -> None:
    """Record a citation (SR-001, SR-002, ...). Refused without an evidence pointer, or when a cited blob is
    not in the evidence store (a FACT pointing at nothing is not evidence). The same claim and evidence as an
    active citation is that one (exit 0, nothing recorded)."""
    from datetime import UTC, datetime

    from paulp.adapters.sources import citations_claiming, failed_blobs, next_citation_number
    from paulp.api.cli import fail
    from paulp.api.cli_postmortem import parse_time
    from paulp.domain.sources import Citation

    until = parse_time("--expires", expires) if expires is not None else None
    fields: dict[str, Any] = {
        "claim": claim, "source_type": source_type, "retrieved_at": datetime.now(UTC), "actor": actor,
        "confidence": confidence, "evidence_hash": evidence_hash, "input_evidence_hashes": input_hash or (),
        "computation_code_ref": code_ref, "url": url, "title": title, "author": author,
        "publication_date": published, "auto_reverify_days": reverify_days, "expires_at": until}
    with _registry() as (settings, app, conn):
        cited = Citation.record(number=0, **fields).evidence  # validated before anything is read or written
        missing = failed_blobs(_store(settings), cited)
        if missing:
            raise fail("cited evidence not in the evidence store (missing or altered): " + ", ".join(missing))
        citation, nid = app.record_citation(lambda: next_citation_number(conn),
                                            claiming=lambda text: citations_claiming(conn, text), **fields)
    if nid is None:
        console.print(f"{citation.citation_id} already recorded (active, same claim and evidence); nothing recorded",
                      highlight=False)
    else:
        console.print(f"{citation.citation_id} recorded (notification {nid})", highlight=False)


@claims_app.command("list")
def list_claims(
    status: Annotated[str | None, typer.Option(help="active, expired, retracted or unverified")] = None,
    citation: Annotated[str | None, typer.Option("--id", help="one citation, SR-nnn")] = None,
) -> None:
    """The citations, oldest number first, as JSON."""
    from paulp.adapters.sources import citations

    with _registry() as (_, _app, conn):
        _print(citations(conn, status, citation))


@claims_app.command("verify")
def verify_claims(
    actor: Annotated[str, typer.Option(help="who verifies")],
    citation: Annotated[list[str] | None, typer.Argument(metavar="[SR-nnn]...", help="default: every one due")]
    = None,
) -> None:
    """Re-check each cited blob (present, still hashing to its name) and record the outcome: intact → active,
    else unverified with the failing hashes. Without ids, every citation whose re-verify interval has passed.
    Exit 1 if any failed."""
    from datetime import UTC, datetime

    from paulp.adapters.sources import due_citations, failed_blobs
    from paulp.api.cli import fail
    from paulp.domain.errors import DomainError

    with _registry() as (settings, app, conn):
        ids = citation or due_citations(conn, datetime.now(UTC))[1]
        store = _store(settings)
        # Every id is looked up before any outcome is recorded: an unknown one among known ones used to exit 2
        # with the outcomes of the ids before it already in the log (bad input must record nothing).
        cited = {cid: app.citation(cid.strip()) for cid in ids}
        unknown = [cid for cid, found in cited.items() if found is None]
        if unknown:
            raise fail(f"no citation {', '.join(unknown)}; nothing verified")
        checks = {found.citation_id: failed_blobs(store, found.evidence) for found in cited.values() if found}
        try:  # every outcome in one save: a retracted or expired citation among them records none (ADR 0510)
            passed, _ = app.verify_citations(checks, actor)
        except DomainError as e:
            raise fail(f"{e.message}; nothing verified") from None
    for cid, ok in passed.items():
        console.print(Text.assemble(f"{cid}: ", "verified" if ok else ("FAILED", "red")), highlight=False)
    failures = sum(not ok for ok in passed.values())
    console.print(f"{len(passed) - failures} of {len(passed)} citations verified", highlight=False)
    if failures:
        raise typer.Exit(1)


@claims_app.command("retract")
def retract_claim(
    citation: Annotated[str, typer.Argument(metavar="SR-nnn")],
    reason: Annotated[str, typer.Option(help="why it no longer stands")],
    actor: Annotated[str, typer.Option(help="who retracts it")],
) -> None:
    """Retract a citation (an event; it stays listed as retracted)."""
    with _registry() as (_, app, _conn):
        nid = app.retract_citation(citation.strip(), reason, actor)
    console.print(f"{citation.strip()} retracted (notification {nid})", highlight=False)
