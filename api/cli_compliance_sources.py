"""``paulp compliance list|check|propose-status|approve|reject|review|review-due|violations|record-violation|
resolve-violation``: the compliance matrix (api-and-security §6.3, ADR 0368; ToS reviews ADR 0401).

Changes are two-person: one operator proposes, a different one approves by the proposal's id. Commands that
decide read the sources' events (what the gate reads); ``list`` and ``violations`` read the views.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from paulp.api.console import cli_console

console = cli_console()
T = TypeVar("T")
SOURCES = ("SELECT source_name, status, block_reason, authentication_type, allowed_usage, rate_limits,"
           " tos_next_review_date, status_changed_at, status_proposed_by, status_approved_by"
           " FROM views.compliance_sources ORDER BY source_name")
SOURCE_KEYS = ("sourceName", "status", "blockReason", "authenticationType", "allowedUsage", "rateLimits",
               "tosNextReviewDate", "statusChangedAt", "statusProposedBy", "statusApprovedBy")
VIOLATIONS = ("SELECT violation_id, source_name, violation_type, severity, description, detected_at, resolved,"
              " resolved_by, resolved_at FROM views.compliance_violations")
VIOLATION_KEYS = ("violationId", "sourceName", "violationType", "severity", "description", "detectedAt",
                  "resolved", "resolvedBy", "resolvedAt")


def _json(rows: Any) -> str:
    return json.dumps(rows, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


@contextmanager
def _service() -> Iterator[Any]:
    """The compliance context on its own, seeded (insert-if-absent) before any command reads or changes it."""
    from paulp.api.cli import services
    from paulp.api.contexts import context
    from paulp.domain.services.compliance import ComplianceService

    with services() as (_, svc), context(ComplianceService, svc.database_url) as app:
        app.ensure_seeded()
        yield app


def _run(command: Callable[[], T]) -> T:
    """A domain refusal is the operator's input: its message on stderr, exit 2, nothing recorded."""
    from paulp.api.cli import fail
    from paulp.domain.errors import DomainError

    try:
        return command()
    except DomainError as exc:
        raise fail(f"{exc.message} ({exc.code})") from None


def list_sources(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """The matrix from views.compliance_sources (follows the projector)."""
    import psycopg

    from paulp.api.cli import services

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = [dict(zip(SOURCE_KEYS, r, strict=True)) for r in conn.execute(SOURCES).fetchall()]
    if as_json:
        typer.echo(_json(rows))
        return
    if not rows:
        console.print("no sources in the view yet: the matrix is seeded at start-up and projected by"
                      " `paulp up` / `paulp project --projection compliance`")
        return
    table = Table("source", "status", "auth", "allowed usage", "ToS review due", "changed by")
    for r in rows:
        status = r["status"] + (f" ({r['blockReason']})" if r["blockReason"] else "")
        changed = ", ".join(x for x in (r["statusProposedBy"], r["statusApprovedBy"]) if x)
        table.add_row(r["sourceName"], status, r["authenticationType"] or "-", ", ".join(r["allowedUsage"]) or "-",
                      r["tosNextReviewDate"].date().isoformat(), changed)
    console.print(table)


def check(sources: Annotated[list[str], typer.Argument(help="source names, e.g. kalshi_trade_api")]) -> None:
    """§6.3 checks read from the log: each source, then the batch as the ingestion gate decides it; exit 1
    when the batch is not allowed (fail closed: an unknown source blocks)."""
    from paulp.domain.compliance_matrix import check_batch, check_source

    with _service() as app:
        found = {name: app.source(name) for name in sources}
    each = {n: check_source(n, s.status.value if s else None, s.allowed_usage if s else ()) for n, s in found.items()}
    batch = check_batch(sources, {n: s.status.value for n, s in found.items() if s is not None})
    typer.echo(_json({"sources": each, "batch": batch.as_dict()}))
    if not batch.allowed:
        raise typer.Exit(1)


def propose_status(
    source: Annotated[str, typer.Argument(help="source name")],
    status: Annotated[str, typer.Argument(help="approved, under_review or blocked")],
    reason: Annotated[str, typer.Option(help="why (kept with the change)")],
    actor: Annotated[str, typer.Option(help="who proposes it")],
    block_reason: Annotated[str | None, typer.Option(help="shown as the block reason (blocked only;"
                                                            " default: the reason)")] = None,
) -> None:
    """Propose a status change; a different operator must approve it within 24 h."""
    with _service() as app:
        proposal_id, nid = _run(lambda: app.propose_status(source, status, reason, block_reason, actor))
    console.print(f"proposal {proposal_id}: {source} -> {status}, waiting for a second operator"
                  f" (`paulp compliance approve {proposal_id} --actor …`; notification {nid})", highlight=False)


def approve(
    proposal_id: Annotated[str, typer.Argument(help="the proposal's id, e.g. kalshi_trade_api#p1")],
    actor: Annotated[str, typer.Option(help="who approves it (not its proposer)")],
) -> None:
    """Approve a pending status change: the source's status changes now (the gate obeys it at the next fetch)."""
    with _service() as app:
        src, nid = _run(lambda: app.approve(proposal_id, actor))
    proposer, approver = src.changed_by
    console.print(f"{src.source_name} is now {src.status.value} (proposed by {proposer}, approved by {approver};"
                  f" notification {nid})", highlight=False)


def reject(
    proposal_id: Annotated[str, typer.Argument(help="the proposal's id")],
    actor: Annotated[str, typer.Option(help="who withdraws it")],
    reason: Annotated[str, typer.Option(help="why")],
) -> None:
    """Withdraw a pending status change (any operator, its proposer included)."""
    with _service() as app:
        nid = _run(lambda: app.reject(proposal_id, actor, reason))
    console.print(f"proposal {proposal_id} rejected (notification {nid})", highlight=False)


def review_due(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """§6.3 ToS review list: sources whose next ToS review date has passed (read from the log)."""
    from paulp.domain.compliance_matrix import SEED, tos_review_due

    with _service() as app:
        now = app.clock.now()
        dates = {s.source_name: found.tos_next_review_date for s in SEED
                 if (found := app.source(s.source_name)) is not None}
    due = tos_review_due(dates.items(), now)
    if as_json:
        typer.echo(_json([{"sourceName": n, "tosNextReviewDate": dates[n]} for n in due]))
        return
    for name in due:
        console.print(f"{name}: ToS review was due {dates[name].date().isoformat()}", highlight=False)
    if not due:
        console.print("no ToS review is due")


def review(
    source: Annotated[str, typer.Argument(help="source name")],
    actor: Annotated[str, typer.Option(help="who read the terms")],
    notes: Annotated[str, typer.Option(help="what the review found (kept with it)")],
    tos_version: Annotated[str | None, typer.Option(help="the terms' version as read (default: unchanged)")] = None,
) -> None:
    """Record a ToS review by one operator: the next review falls due in 90 days (no status changes)."""
    with _service() as app:
        due, nid = _run(lambda: app.review_tos(source, actor, notes, tos_version))
    console.print(f"{source.strip()}: ToS reviewed by {actor.strip()}; next review due {due.date().isoformat()}"
                  f" (notification {nid})", highlight=False)


def violations(
    show_all: Annotated[bool, typer.Option("--all", help="also resolved ones")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Compliance violations from the view (unresolved ones fail gate P3_COMPLIANCE_CHECK_PASS)."""
    import psycopg

    from paulp.api.cli import services

    query = VIOLATIONS + ("" if show_all else " WHERE NOT resolved") + " ORDER BY detected_at, violation_id"
    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = [dict(zip(VIOLATION_KEYS, r, strict=True)) for r in conn.execute(query).fetchall()]
    if as_json:
        typer.echo(_json(rows))
        return
    table = Table("id", "source", "type", "severity", "detected", "resolved")
    for r in rows:
        table.add_row(r["violationId"], r["sourceName"], r["violationType"], r["severity"], str(r["detectedAt"]),
                      f"by {r['resolvedBy']}" if r["resolved"] else "no")
    console.print(table)


def record_violation(
    source: Annotated[str, typer.Argument(help="source name")],
    violation_type: Annotated[str, typer.Option("--type", help="what kind, e.g. rate_limit_exceeded")],
    severity: Annotated[str, typer.Option(help="warning or critical")],
    description: Annotated[str, typer.Option(help="what happened")],
    actor: Annotated[str, typer.Option(help="who records it")],
) -> None:
    """Record a compliance violation on a source; the same one as an unresolved violation there is that one (exit 0,
    nothing recorded)."""
    with _service() as app:
        violation_id, nid = _run(lambda: app.record_violation(source, violation_type, severity, description, actor))
    if nid is None:
        console.print(f"violation {violation_id} already recorded (unresolved, same type, severity, description and"
                      " actor); nothing recorded", highlight=False)
    else:
        console.print(f"violation {violation_id} recorded (notification {nid})", highlight=False)


def resolve_violation(
    violation_id: Annotated[str, typer.Argument(help="the violation's id, e.g. kalshi_trade_api#v1")],
    actor: Annotated[str, typer.Option(help="who resolves it")],
    notes: Annotated[str | None, typer.Option(help="how it was resolved")] = None,
) -> None:
    """Resolve a compliance violation (once; the first resolution stands)."""
    with _service() as app:
        nid = _run(lambda: app.resolve_violation(violation_id, actor, notes))
    console.print(f"violation {violation_id} resolved (notification {nid})", highlight=False)


def add_source_commands(app: typer.Typer) -> None:
    for name, command in (("list", list_sources), ("check", check), ("propose-status", propose_status),
                          ("approve", approve), ("reject", reject), ("review", review), ("review-due", review_due),
                          ("violations", violations), ("record-violation", record_violation),
                          ("resolve-violation", resolve_violation)):
        app.command(name)(command)
