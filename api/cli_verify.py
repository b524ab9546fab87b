"""``paulp verify``: run the built-in verification suites (recorded as events) and read their latest results."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from paulp.api.console import cli_console, styled

verify_app = typer.Typer(help="Verification suites (CLV, risk invariants) feeding phase gates 1 and 2.",
                         no_args_is_help=True)
console = cli_console()
SUITE_HELP = "clv, risk_invariants or all"  # SUITES' names, kept equal by a test: the case tables load on use


def _suites(selector: str) -> tuple[str, ...]:
    from paulp.api.cli import fail
    from paulp.domain.verification import UnknownSuite, suite_names

    try:
        return suite_names(selector)
    except UnknownSuite as exc:
        raise fail(str(exc)) from None


@verify_app.command("run")
def run(
    suite: Annotated[str, typer.Option("--suite", help=SUITE_HELP)] = "all",
    by: Annotated[str, typer.Option("--by", help="who runs it (recorded with the run)")] = "cli",
) -> None:
    """Run the suites against this code, record the run, print what failed; exit 1 on any failure."""
    from paulp.api.cli import fail, operator_text, services
    from paulp.api.contexts import open_context
    from paulp.api.verify_job import run_verification
    from paulp.domain.services.verification import VerificationService
    from paulp.domain.verification import Status

    suites = _suites(suite)
    by = operator_text(by, "--by")  # refused before the suites run, not when their run cannot be stored
    with services() as (_, svc):
        try:  # only the verification context: the composition root would import every provider SDK
            service = open_context(VerificationService, svc.database_url)
        except Exception as exc:  # database unreachable or not migratable: nothing can be recorded
            raise fail(f"verification not run: the event store is unavailable ({type(exc).__name__}: {exc})",
                       1) from None
        try:
            outcome = run_verification(service, suites, uuid.uuid4().hex, by)
        finally:
            service.close()
    for r in outcome.runs:
        style = "green" if not r.failures else "bold red"
        console.print(styled(style, r.suite, f": {r.count(Status.PASSED)} passed, {r.count(Status.FAILED)} failed,"
                             f" {r.count(Status.SKIPPED)} skipped"))
        for f in r.failures:
            console.print(Text.assemble("  ", ("FAILED", "red"), f" {f.name}: {f.error or ''}"), highlight=False,
                          soft_wrap=True)  # one line per failure, whatever the terminal width
    if outcome.store_error is not None:
        raise fail(f"run {outcome.run_id} could not be stored: {outcome.store_error}", 1)
    console.print(f"recorded run {outcome.run_id} (notification {outcome.notification_id})")
    if outcome.failed:
        raise typer.Exit(1)


@verify_app.command("results")
def results(suite: Annotated[str, typer.Option("--suite", help=SUITE_HELP)] = "all") -> None:
    """The latest recorded run of each suite, from the test_results view (what the phase gates count)."""
    import psycopg

    from paulp.adapters.verification_results import latest_run
    from paulp.api.cli import fail, services

    suites = _suites(suite)
    with services() as (_, svc):
        try:
            with psycopg.connect(svc.database_url) as conn:
                latest = {s: latest_run(conn, s) for s in suites}
        except psycopg.errors.UndefinedTable:
            raise fail("no test_results view in this database (run `paulp migrate`)", 1) from None
    for name, run_ in latest.items():
        if run_ is None:
            console.print(f"{name}: never run (paulp verify run --suite {name})")
            continue
        console.print(f"{name}: run {run_.run_id} at {run_.run_at.isoformat()} by {run_.triggered_by}"
                      f" (code {run_.code_version or 'unknown'}): {run_.count('passed')} passed,"
                      f" {run_.count('failed')} failed, {run_.count('skipped')} skipped")
        table = Table("case", "status", "ms", "error")
        for c in run_.cases:
            table.add_row(c.name, c.status if c.status != "failed" else Text("failed", "red"),
                          f"{c.duration_ms:.3f}", c.error or "")
        console.print(table)
