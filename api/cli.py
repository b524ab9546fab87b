"""The ``paulp`` command: run the system, migrate, replay, verify the audit chain, diagnose services."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from paulp.api import shutdown
from paulp.api.cli_audit import mirror as audit_mirror
from paulp.api.cli_audit import verify_mirror as audit_verify_mirror
from paulp.api.cli_backtest import backtest_app
from paulp.api.cli_breaker import breaker_app
from paulp.api.cli_clv import clv_app
from paulp.api.cli_compliance import compliance_app
from paulp.api.cli_dead_letters import dead_letters_app
from paulp.api.cli_evidence import evidence_app
from paulp.api.cli_execution import execution_app
from paulp.api.cli_fair import fair_app
from paulp.api.cli_llm import llm_app
from paulp.api.cli_orders import orders_cancel, orders_reconcile, orders_replace
from paulp.api.cli_positions import positions_app
from paulp.api.cli_postmortem import postmortem as postmortem_command
from paulp.api.cli_rebuild import rebuild as rebuild_command
from paulp.api.cli_reconcile import reconcile_app
from paulp.api.cli_risk import risk_app
from paulp.api.cli_sources import claims_app, sources_app
from paulp.api.cli_verify import verify_app
from paulp.api.console import cli_console, styled

if TYPE_CHECKING:  # a command imports what it runs on when it runs: `paulp --help` loads none of it (ADR 0407)
    import asyncio
    import socket

    from pydantic import ValidationError

    from paulp.adapters.config import Settings
    from paulp.adapters.services import Services
    from paulp.api.wiring import Container


class Utf8ArgumentsGroup(TyperGroup):
    """The root command refuses arguments that are not UTF-8, for every subcommand at once (ADR 0499).

    Python decodes argv with ``surrogateescape``: a byte that is not UTF-8 (``$'\\xff'``, a Latin-1 file name)
    arrives as a lone surrogate, which no event, log line or terminal can encode, so a command failed with a
    traceback at its first write. Refused as a usage error (exit 2) before anything runs."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # click.Context (typer vendors click)
        for position, arg in enumerate(args, 1):
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise typer.BadParameter(f"argument {position} ('{shown}') is not valid UTF-8") from None
        return super().parse_args(ctx, args)


# An unhandled error's traceback never shows local variables (database URLs, settings, tokens): typer 0.12, inside
# the ``typer>=0.12`` this project allows, showed them unless told not to (ADR 0514).
app = typer.Typer(help="Paul P: governed, event-sourced trading backend.", no_args_is_help=True,
                  cls=Utf8ArgumentsGroup, pretty_exceptions_show_locals=False)
audit_app = typer.Typer(help="Audit chain commands.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
audit_app.command("mirror")(audit_mirror)
audit_app.command("verify-mirror")(audit_verify_mirror)
orders_app = typer.Typer(help="Order lifecycle views.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
orders_app.command("cancel")(orders_cancel)
orders_app.command("replace")(orders_replace)
orders_app.command("reconcile")(orders_reconcile)
app.add_typer(llm_app, name="llm")
app.add_typer(verify_app, name="verify")
app.add_typer(backtest_app, name="backtest")
app.add_typer(fair_app, name="fair")
app.add_typer(breaker_app, name="breaker")
app.add_typer(compliance_app, name="compliance")
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(risk_app, name="risk")
app.add_typer(reconcile_app, name="reconcile")
app.add_typer(positions_app, name="positions")
app.add_typer(execution_app, name="execution")
app.add_typer(evidence_app, name="evidence")
app.add_typer(sources_app, name="sources")
app.add_typer(claims_app, name="claims")
app.add_typer(clv_app, name="clv")
jobs_app = typer.Typer(help="Orchestrator job runs (triggers, webhooks, schedule slots).", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
console = cli_console()
err = cli_console(stderr=True)


TERMINATED = shutdown.TERMINATED  # the exit status of a command SIGTERM ended (the shell's convention)


def settings_errors(e: ValidationError) -> str:
    """Which variables are malformed and why, never their values (a malformed secret must not reach a log)."""
    parts = [f"{'.'.join(str(p) for p in err['loc']) or 'configuration'}: {err['msg']}" for err in e.errors()]
    return "invalid configuration: " + "; ".join(parts)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(styled("bold red", "error:", f" {message}"))
    return typer.Exit(code)


def output_file(output: Path | None) -> Path | None:
    """Where ``--output`` sends a report: ``None`` (stdout) for no option or ``-``, as in most Unix tools (it
    made a file named ``-``); otherwise a file in a folder that exists, checked before any work (exit 2). The
    option itself refuses a folder (``dir_okay=False``: ``''`` is ``.``), which postmortem found only at the
    final rename, as an OSError traceback after the report was built (ADR 0499)."""
    if output is None or str(output) == "-":
        return None
    if not output.parent.is_dir():
        raise fail(f"--output: no such folder {str(output.parent)!r}")
    return output


def write_output(output: Path, text: str) -> None:
    """A report written whole (``replace_atomically``) as bytes, so CSV keeps its CRLF; a write the system refuses
    is exit 1 naming the file."""
    from paulp.adapters.files import replace_atomically

    try:
        replace_atomically(output, text.encode("utf-8"))
    except OSError as exc:
        raise fail(f"--output: cannot write {str(output)!r}: {exc.strerror or exc}", code=1) from None


def operator_text(value: str, name: str) -> str:
    """An operator's name or reason as the log keeps it: refused (exit 2) when blank or holding a NUL, which no
    text column can store; stripped."""
    if not value.strip() or "\x00" in value:
        raise fail(f"{name} must not be blank or contain NUL characters")
    return value.strip()


CONFLICT_EXIT = ("conflict: another writer changed the same record at the same moment; this command's last change"
                 " was not recorded: run it again")


@contextmanager
def services(check_schema: bool = True) -> Iterator[tuple[Settings, Services]]:
    """Resolve services (env URL wins, else embedded under PAULP_STATE_DIR) and stop what we started. A save that
    lost to another writer's and was neither decided again nor refused by its command ends it with exit 1 and a
    ``conflict`` message instead of a traceback (ADR 0512)."""
    from eventsourcing.persistence import IntegrityError
    from pydantic import ValidationError

    from paulp.adapters.config import ConfigError, Settings
    from paulp.adapters.migrate import MigrationError, refuse_newer_database
    from paulp.adapters.services import ServiceConfigError, resolve_services
    from paulp.domain.errors import EventFromNewerRelease

    try:
        settings = Settings()
        settings.require_urls()
        svc = resolve_services(settings.PAULP_DATABASE_URL, settings.PAULP_NATS_URL, settings.ENVIRONMENT,
                               settings.PAULP_STATE_DIR)
    except (ConfigError, ServiceConfigError) as e:
        raise fail(str(e)) from None
    except ValidationError as e:
        raise fail(settings_errors(e)) from None
    svc.start()
    try:
        if check_schema:
            refuse_newer_database(svc.database_url)  # a one-shot that only reads refuses it too (ADR 0523)
        yield settings, svc
    except MigrationError as exc:  # an edited migration, or a database a newer release migrated: nothing starts
        raise fail(f"migrations: {exc}", 1) from None
    except EventFromNewerRelease as exc:  # what this release would misread is refused, in one line (ADR 0523)
        raise fail(f"{exc.code}: {exc.message}", 1) from None
    except IntegrityError as exc:
        from paulp.domain.errors import DomainError

        raise fail(f"{exc.code}: {exc.message}" if isinstance(exc, DomainError) else CONFLICT_EXIT, 1) from None
    finally:
        svc.stop()


@contextmanager
def wired() -> Iterator[Container]:
    """The wired container for one command, on the services ``services()`` resolves; closed however it ends."""
    from paulp.api.wiring import build

    with services() as (settings, svc):
        container = build(settings, svc.database_url, svc.nats_url)
        try:
            yield container
        finally:
            container.close()


def run_wired(call: Callable[[Container], Any]) -> Any:
    """``call(container)`` on a container wired for this command; a refusal (a domain error or a failed job)
    exits 1 with its code and message, nothing written."""
    from paulp.api.venue_session import JobFailed
    from paulp.domain.errors import DomainError

    with wired() as container:
        try:
            return call(container)
        except (DomainError, JobFailed) as exc:
            raise fail(f"{exc.code}: {exc.message}", 1) from None


def run_loop(coro: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (a dependency off Windows) for ``up`` and the worker commands: the loop
    ``paulp serve`` gets from uvicorn, so the API under ``paulp up`` is the one bench/trades_query measures.

    The loop's own SIGINT/SIGTERM handlers stop the role; a closed loop leaves its handler (uvloop) or the
    default action (asyncio) behind, so the process's handlers (``shutdown.on_signal``: a signal during the
    clean-up that follows is noted and ignored, ADR 0515) are put back."""
    import asyncio

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            import uvloop
        except ImportError:
            asyncio.run(coro)
            return
        uvloop.run(coro)
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


@app.command()
def up(host: Annotated[str | None, typer.Option(help="HTTP bind address")] = None,
       port: Annotated[int | None, typer.Option(help="HTTP port")] = None) -> None:
    """Start API, relay, projectors and scheduler (embedded PostgreSQL/NATS unless URLs are set)."""
    import asyncio
    import logging

    from paulp.api.runtime import http_url, run_all
    from paulp.api.wiring import build

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services() as (settings, svc):
        prepare_evidence_dir(settings)
        h = host or settings.PAULP_HTTP_HOST
        with http_socket(h, settings.PAULP_HTTP_PORT if port is None else port) as sock:
            container = build(settings, svc.database_url, svc.nats_url)
            for d in svc.describe():
                console.print(f"{d.name}: {d.source} {d.url}")

            def ready() -> None:
                console.print(styled("green", "Paul P up", f" on {http_url(h, sock)}  (Ctrl-C stops everything)"))

            async def main() -> None:
                stop = asyncio.Event()
                shutdown.on_loop(stop)
                await run_all(container, sock, ready, stop)

            try:
                run_loop(main())
            finally:
                container.close()


@app.command()
def serve(host: Annotated[str | None, typer.Option(help="HTTP bind address")] = None,
          port: Annotated[int | None, typer.Option(help="HTTP port")] = None) -> None:
    """Start only the HTTP API (no relay, projectors or scheduler): run it beside `paulp relay` and
    `paulp project`, or several of it behind a proxy; views stay as fresh as the projectors keep them."""
    import logging

    from paulp.api.runtime import http_url, serve_api
    from paulp.api.wiring import build

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services() as (settings, svc):
        prepare_evidence_dir(settings)
        h = host or settings.PAULP_HTTP_HOST
        with http_socket(h, settings.PAULP_HTTP_PORT if port is None else port) as sock:
            container = build(settings, svc.database_url, svc.nats_url)
            try:
                serve_api(container, sock,
                          lambda: console.print(styled("green", "Paul P API",
                                                       f" on {http_url(h, sock)}  (Ctrl-C stops it)")))
            finally:
                container.close()


@contextmanager
def http_socket(host: str, port: int) -> Iterator[socket.socket]:
    """The API's address, bound before the system is wired: a taken port stops start-up at once, naming it,
    with no URL printed (exit 1; ADR 0360). The URL is printed once the server listens on it."""
    from paulp.api.runtime import BindError, bind_http

    try:
        sock = bind_http(host, port)
    except BindError as exc:
        raise fail(str(exc), 1) from None
    with sock:
        yield sock


def prepare_evidence_dir(settings: Settings) -> None:
    """The evidence store's folder exists from start-up (api-and-security §8: evidence-first needs it): a
    fresh state folder is not `degraded` in /health/deep until the first body is kept, and a location that
    cannot be created stops start-up naming the variable."""
    path = settings.evidence_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"PAULP_EVIDENCE_DIR {path} cannot be created: {exc.strerror or exc}") from None


@app.command()
def migrate() -> None:
    """Apply pending SQL migrations."""
    from paulp.adapters.migrate import migrate as run

    with services() as (_, svc):
        applied = run(svc.database_url)
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@app.command()
def relay() -> None:
    """Run only the event relay (log -> JetStream); a second instance waits as standby."""
    _workers(relay=True, projections=[])


@app.command()
def project(
    projection: Annotated[list[str] | None, typer.Option(help="projection name(s); default all")] = None,
) -> None:
    """Run only projectors (JetStream -> views)."""
    _workers(relay=False, projections=projection)


@app.command()
def schedule() -> None:
    """Run only the scheduler (breaker timeout, §7.1 cron jobs, exits, relayed-event inbox, marks): the role
    `paulp up` adds to `serve` + `relay` + `project`. Run two for failover: one leads the cron slots."""
    from paulp.api.runtime import scheduler

    _run_role(scheduler, prepare=prepare_evidence_dir)


def _workers(relay: bool, projections: list[str] | None) -> None:
    from paulp.api.runtime import Workers, run_workers, workers_wiring

    def check(site: Workers) -> None:
        unknown = set(projections or []) - set(site.projections)
        if unknown:
            raise fail(f"unknown projection(s): {', '.join(sorted(unknown))}")

    _run_role(lambda site, stop: run_workers(site, stop, relay=relay, projections=projections), check,
              wire=workers_wiring, llm_clients=False)


def _run_role(role: Callable[[Any, asyncio.Event], Awaitable[None]], check: Callable[[Any], None] | None = None,
              wire: Callable[[Settings, str, str], Any] | None = None,
              prepare: Callable[[Settings], None] | None = None, llm_clients: bool = True) -> None:
    """One long-running role (workers, scheduler) on its own loop until Ctrl-C / SIGTERM; ``wire`` builds
    what the role runs on (default: the full container); ``llm_clients=False`` for a role that never makes a
    governed call (the SDK imports are ~3.7 s of CPU at every start)."""
    import asyncio
    import logging

    from paulp.api.runtime import freeze_startup_heap
    from paulp.api.wiring import build

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with services() as (settings, svc):
        if prepare is not None:
            prepare(settings)
        site = (wire or build)(settings, svc.database_url, svc.nats_url)
        try:
            if check is not None:
                check(site)

            async def main() -> None:
                stop = asyncio.Event()
                shutdown.on_loop(stop)
                await role(site, stop)

            freeze_startup_heap(llm_clients=llm_clients)
            run_loop(main())
        finally:
            site.close()


@app.command()
def replay(
    projection: Annotated[str, typer.Option(help="projection to rebuild")],
    until_seq: Annotated[int | None, typer.Option(help="last notification id to apply")] = None,
    until_time: Annotated[datetime | None, typer.Option(help="apply events stored at or before this UTC time")] = None,
    into: Annotated[str | None, typer.Option(help="scratch schema (default replay_<projection>)")] = None,
    diff: Annotated[bool, typer.Option("--diff", help="compare with the live view; exit 1 on difference")] = False,
) -> None:
    """Rebuild a view from the log into a scratch schema, optionally diffing it against the live view."""
    from paulp.projections.registry import all_projections

    projections = all_projections()
    if projection not in projections:
        raise fail(f"unknown projection {projection!r}; known: {', '.join(sorted(projections))}")
    from paulp.adapters import replay as rp
    from paulp.adapters.migrate import migrate as run_migrations

    proj = projections[projection]
    schema = into or f"replay_{projection}"
    with services() as (_, svc):
        run_migrations(svc.database_url)
        if diff and until_seq is None and until_time is None:
            until_seq = rp.live_position(svc.database_url, proj)
        try:
            result = rp.replay(svc.database_url, proj, schema, until_seq,
                               until_time.replace(tzinfo=until_time.tzinfo) if until_time else None)
        except rp.ReplayError as e:
            raise fail(str(e)) from None
        console.print(f"replayed {result.applied} event(s) through notification {result.until_notification_id}"
                      f" into schema {result.schema} ({result.failed} failed)")
        for failure in result.failures:
            console.print(f"event {failure.notification_id} ({failure.topic}) not applied: {failure.error}",
                          markup=False)
        newer = [f for f in result.failures if f.newer_release]
        if newer:  # the scratch view is not what the log says: this release cannot read all of it (ADR 0523)
            raise fail(f"{len(newer)} event(s) of a newer release not applied; replay with that release", 1)
        if diff:
            differences = rp.diff(svc.database_url, proj, schema)
            for line in differences:
                console.print(line)
            if differences:
                raise fail(f"{len(differences)} difference(s) between live and replay", 1)
            console.print(styled("green", "no difference", " between live view and replay"))


app.command("rebuild")(rebuild_command)
app.command("postmortem")(postmortem_command)


@audit_app.command("verify")
def audit_verify(
    from_: Annotated[int, typer.Option("--from", min=1, help="first chain sequence")] = 1,
    to: Annotated[int | None, typer.Option("--to", min=1, help="last chain sequence (default head)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full result as JSON")] = False,
) -> None:
    """Verify the audit chain (§5.2) and each record against its stored event; exit 1 on any break."""
    from paulp.adapters.audit_store import verify

    if to is not None and to < from_:
        raise fail("--from must not be greater than --to")
    with services() as (_, svc):
        report = verify(svc.database_url, from_, to)
    if as_json:  # the document alone on stdout (`| jq`); a break still exits 1, its details on stderr
        console.print_json(json.dumps(report.to_dict()))
    if report.valid:
        if not as_json:
            console.print(styled("green", "audit chain valid", f": {report.chain.events_checked} record(s)"
                                 f" {report.chain.first_sequence}..{report.chain.last_sequence}"))
        return
    for g in report.chain.gaps:
        err.print(f"gap at sequence {g}")
    for b in report.chain.broken_links:
        err.print(f"broken at sequence {b.sequence} ({b.kind}): "
                  f"expected {b.expected_prev_hash} got {b.actual_prev_hash}")
    for m in report.event_mismatches:
        err.print(f"event mismatch at sequence {m.sequence} (notification {m.notification_id}): {m.kind}")
    raise fail(f"audit chain BROKEN; first bad sequence {report.first_bad_sequence}", 1)


@orders_app.command("list")
def orders_list(
    state: Annotated[str | None, typer.Option(help="only orders in this state")] = None,
    strategy: Annotated[str | None, typer.Option(help="only this strategy")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
) -> None:
    """Newest orders from the orders view."""
    from paulp.domain.order_states import OrderState

    if state is not None and state.upper() not in OrderState.__members__:
        raise fail(f"unknown order state {state!r}; one of: {', '.join(OrderState)}")
    import psycopg

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = conn.execute(
            "SELECT order_id, strategy, ticker, side, requested_size, max_price, state, filled_size, created_at"
            " FROM views.orders WHERE (%(st)s::text IS NULL OR state = %(st)s)"
            " AND (%(sg)s::text IS NULL OR strategy = %(sg)s) ORDER BY created_at DESC LIMIT %(n)s",
            {"st": state.upper() if state else None, "sg": strategy, "n": limit}).fetchall()
    table = Table("order", "strategy", "ticker", "side", "size", "max", "state", "filled", "created")
    for r in rows:
        table.add_row(*(str(x) for x in r))
    console.print(table)


@orders_app.command("cancel-outstanding")
def orders_cancel_outstanding(
    reason: Annotated[str, typer.Option(help="why (recorded on every cancelled order)")],
    yes: Annotated[bool, typer.Option("--yes", help="cancel; without it, only list what would be cancelled")] = False,
) -> None:
    """Cancel every open order: in the log, and at Kalshi for those working there (runbook rollback step 3).
    Exit 1 if any could not be cancelled; run it again to retry those."""
    from paulp.api.cancel_job import cancel_outstanding, outstanding_orders
    from paulp.api.venue_session import JobFailed

    if not reason.strip():
        raise fail("--reason must not be blank")
    with wired() as container:
        if not yes:
            for o in outstanding_orders(container):
                console.print(f"{o.order_id}  {o.strategy}  {o.ticker}  {o.state.value}")
            console.print("dry run: nothing cancelled (add --yes)")
            return
        try:
            report = cancel_outstanding(container, reason.strip())
        except JobFailed as exc:
            raise fail(exc.message, 1) from None
    table = Table("order", "strategy", "ticker", "outcome")
    for r in report["results"]:
        table.add_row(r["orderId"], r["strategy"], r["ticker"], r["outcome"])
    console.print(table)
    if report["failed"]:
        raise fail(f"{report['failed']} order(s) not cancelled; see above", 1)


@jobs_app.command("runs")
def jobs_runs(
    job: Annotated[str | None, typer.Option(help="only runs of this job")] = None,
    state: Annotated[str | None, typer.Option(help="RUNNING, COMPLETED or FAILED")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
) -> None:
    """Newest job runs from the job_runs view: did each schedule slot run, and how did it end."""
    from paulp.api.errors import ApiError
    from paulp.api.job_runs import RUNS, parse_run_filters

    try:
        f = parse_run_filters({"job": job or "", "state": state or "", "limit": str(limit)})
    except ApiError as exc:
        raise fail(exc.error, 2) from None
    import psycopg

    with services() as (_, svc), psycopg.connect(svc.database_url) as conn:
        rows = conn.execute(RUNS, {"job": f.job, "state": f.state, "source": None, "limit": f.limit}).fetchall()
    table = Table("run", "job", "by", "state", "started", "finished", "error")
    for run_id, job_name, by, _source, run_state, started, finished, _result, error in rows:
        table.add_row(run_id, job_name, by, run_state, str(started), str(finished or ""), (error or "")[:80])
    console.print(table)


@orders_app.command("show")
def orders_show(order_id: str) -> None:
    """An order's full history, read from its events (not from a view), then where they leave it: its state and
    last error now (a resolved error is in the history, not the last error; ADR 0335), and every recorded risk
    evaluation in full (ADR 0377)."""
    from paulp.api.risk_report import evaluation_tables, event_detail

    with wired() as container:
        events = container.orders.history(order_id)
        order = container.orders.find(order_id)
    if not events or order is None:
        raise fail(f"no order {order_id!r}", 1)
    table = Table("version", "event", "detail")
    for e in events:
        detail = event_detail(e)
        table.add_row(str(e.originator_version), type(e).__qualname__, json.dumps(detail, default=str)[:160])
    console.print(table)
    for evaluation in evaluation_tables(events):
        console.print(evaluation)
    console.print(f"state {order.state.value}; last error: {order.last_error or 'none'}", markup=False)


@audit_app.command("anchor")
def audit_anchor(
    full: Annotated[bool, typer.Option("--full", help="walk the whole chain, not only the records new since the"
                                       " last valid run")] = False,
) -> None:
    """Anchor the chain head now, verify chain and all anchors, as the hourly job does (the chain walk resumes
    after the last valid run unless a full one is due, ADR 0506); a break trips the breaker (exit 1)."""
    from paulp.api.audit_job import anchor_and_verify

    with wired() as container:
        outcome = anchor_and_verify(container, full)
    a, c = outcome.anchors, outcome.chain.chain
    console.print(f"anchors verified {a.verified}, failed {a.failed}; chain valid: {outcome.chain.valid}"
                  f" ({outcome.plan.mode}: {c.events_checked} record(s) from sequence {outcome.plan.start})")
    if not outcome.valid:
        raise fail(f"audit verification FAILED; first bad sequence {outcome.chain.first_bad_sequence}", 1)


@app.command()
def doctor() -> None:
    """Show which PostgreSQL/NATS this configuration uses and whether they answer."""
    import asyncio

    with services(check_schema=False) as (settings, svc):  # said in its report instead
        table = Table("service", "source", "url", "healthy", "detail")
        ok = True
        for d in svc.describe():
            h = asyncio.run(d.health())
            ok &= h.ok
            table.add_row(d.name, d.source, d.url, "yes" if h.ok else "NO", h.detail)
        console.print(table)
        console.print(f"namespace: {settings.PAULP_NAMESPACE}  environment: {settings.ENVIRONMENT}")
        _print_temp_files(settings)
        if ok:
            ok = _print_schema(svc.database_url) and _print_lags(settings, svc)
    if not ok:
        raise typer.Exit(1)


def _print_temp_files(settings: Settings) -> None:
    """Temp files a crash mid-write left in the evidence store and the audit mirror (counted, not removed: the
    hourly anchor job removes those older than an hour; ADR 0524)."""
    from paulp.api.jobs import sweep_temp_folders

    for name, found in sweep_temp_folders(settings, remove=False).items():
        console.print(f"{name} folder: {found.stale} stale temp file(s) (older than 1 h, removed by the hourly"
                      f" anchor job), {found.recent} recent (a write may be in progress)", highlight=False)


def _print_schema(database_url: str) -> bool:
    """False (said) when a newer release migrated the database: every other command refuses it (ADR 0523)."""
    from paulp.adapters.migrate import MigrationError, refuse_newer_database

    try:
        refuse_newer_database(database_url)
    except MigrationError as exc:
        console.print(styled("bold red", "schema:", f" {exc}"))
        return False
    return True


def _print_lags(settings: Settings, svc: Services) -> bool:
    """Relay lag (log head vs stream head) and each projection's lag, when the schema exists; False when a
    projection stands stopped at an event of a newer release (named, ADR 0523)."""
    import asyncio

    import psycopg

    from paulp.adapters.bus import BusNames, connect
    from paulp.adapters.projection_stops import stopped_projections
    from paulp.adapters.relay import stream_head
    from paulp.projections.registry import all_projections

    names = BusNames(settings.PAULP_NAMESPACE)
    try:
        with psycopg.connect(svc.database_url) as conn:
            row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM paulp_events").fetchone()
            head = int(row[0]) if row else 0
            tracked: dict[str, int] = dict(
                conn.execute("SELECT name, last_notification_id FROM projection_tracking").fetchall())
            stopped = stopped_projections(conn, all_projections())
    except psycopg.Error:
        console.print("event store not migrated yet (run `paulp migrate`)")
        return True

    async def relayed() -> int | None:
        nc = await connect(svc.nats_url, "paulp-doctor")
        try:
            return await stream_head(nc.jetstream(), names)
        except Exception:
            return None
        finally:
            await nc.close()

    streamed = asyncio.run(relayed())
    lags = Table("component", "position", "lag (events)")
    lags.add_row("log head", str(head), "-")
    lags.add_row(f"relay -> stream {names.stream}", str(streamed) if streamed is not None else "no stream",
                 str(head - streamed) if streamed is not None else "?")
    for name in sorted(all_projections()):
        lags.add_row(f"projection {name}", str(tracked.get(name, 0)), str(head - tracked.get(name, 0)))
    console.print(lags)
    for name, refusal in sorted(stopped.items()):
        console.print(styled("bold red", f"projection {name} STOPPED at event {refusal.notification_id}:",
                             f" {refusal.code}: {refusal.message}"))
    _print_schedule(svc.database_url, names)
    return not stopped


def _print_schedule(database_url: str, names: Any) -> None:
    """Whether a scheduler leads the cron slots of this namespace, and each job's last run (ADR 0259)."""
    import psycopg

    from paulp.api.scheduler import LOCK_HELD

    try:
        with psycopg.connect(database_url) as conn:
            led = conn.execute(LOCK_HELD, (names.lock_key("scheduler"),)).fetchone() == (1,)
            last = conn.execute(
                "SELECT DISTINCT ON (job) job, state, started_at, error FROM views.job_runs"
                " ORDER BY job, started_at DESC, run_id DESC").fetchall()
    except psycopg.Error as exc:
        console.print(f"scheduler: not known ({type(exc).__name__}; run `paulp migrate`)")
        return
    console.print("scheduler: " + ("a process leads the cron slots" if led else
                                   "NO process leads the cron slots (run `paulp up` or `paulp schedule`)"))
    runs = Table("job", "last run", "started", "error")
    for job, state, started, error in last:
        runs.add_row(job, state, str(started), (error or "")[:80])
    console.print(runs)


def main() -> None:
    """The ``paulp`` entry point: SIGTERM unwinds like Ctrl-C (embedded services stopped; ADR 0351), a second stop
    signal never cuts that clean-up short, and a command a stop signal ended says so in one line (exit 130 / 143;
    ADR 0515); a database without the schema a command reads is named as such rather than shown as a traceback."""
    shutdown.install()
    for stream in (sys.stdout, sys.stderr):  # text with no UTF-8 form (a lone surrogate decoded from some JSON
        reconfigure = getattr(stream, "reconfigure", None)  # escape) prints escaped instead of failing the
        if reconfigure is not None:  # command, and Rich's buffer with it, for every later line (ADR 0499)
            reconfigure(errors="backslashreplace")
    try:
        app()
    except SystemExit as exc:
        _say_stopped(exc.code)
        raise
    except BaseException as exc:
        if shutdown.received() is not None:  # what the unwinding left: e.g. a library call cut mid-way, which
            code = shutdown.exit_code()     # raised its own error while the stop's exception went through it
            _say_stopped(code, f" (while stopping: {type(exc).__name__})")
            raise SystemExit(code) from None
        psycopg = sys.modules.get("psycopg")  # not loaded: the error cannot be one of its (`--help` loads none)
        if psycopg is None or not isinstance(exc, psycopg.errors.UndefinedTable):
            raise
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err.print(styled("bold red", "error:", f" {detail}: the database is not migrated (run `paulp migrate`)"))
        raise SystemExit(1) from None


def _say_stopped(code: object, detail: str = "") -> None:
    line = shutdown.message(code)
    if line is None:
        return
    try:
        err.print(styled("bold red", "interrupted:" if code == shutdown.INTERRUPTED else "terminated:",
                         f" {line}{detail}"))
    except Exception:  # noqa: S110 - stderr gone (a closed pipe): the exit status still says it
        pass
