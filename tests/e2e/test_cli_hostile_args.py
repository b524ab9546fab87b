"""Hostile command-line arguments (ADR 0499): what the by-hand campaign ``tests.e2e.cli_fuzz_campaign`` found,
kept as tests over every command rather than the ones it happened to hit."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from paulp.api.cli import app
from tests.e2e.cli_fuzz_campaign import LONG_RUNNING, argv_for, leaves
from tests.integration.helpers import make_container
from tests.support.seeding import catch_up

pytestmark = pytest.mark.integration

COMMANDS = [(path, command) for path, command in leaves(typer.main.get_command(app), [])]


def _events(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM paulp_events").fetchone()
    return int(row[0]) if row else 0


def _invoke(argv: list[str], db: str, nats: str) -> Any:
    env = {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250"}
    return CliRunner().invoke(app, argv, env=env)


def test_every_command_when_an_argument_is_not_utf8_then_usage_error_naming_it_and_nothing_stored(fresh_db,
                                                                                                   nats_url):
    """Bytes that are not UTF-8 reach Python's argv as lone surrogates (``surrogateescape``); ``fair set
    --source $'\\xff'`` failed with a UnicodeEncodeError traceback at its first write. Every command, long-running
    ones included, now refuses such an argument before it runs, wherever the argument stands."""
    before = _events(fresh_db)
    checked = 0
    for path, command in COMMANDS:
        params = [p for p in command.params if p.name != "help" and not getattr(p, "is_flag", False)]
        targets = [params[0], params[-1]] if len(params) > 1 else params or [None]  # first and last value
        for param in targets:
            argv = argv_for(path, command, (param.name, "ok\udcff") if param is not None else None)
            if param is None:
                argv.append("\udcc3")  # a command without values: the stray argument is refused the same way
            result = _invoke(argv, fresh_db, nats_url)
            where = argv.index("ok\udcff" if param is not None else "\udcc3") + 1
            out = result.stdout + result.stderr
            assert result.exit_code == 2, (path, argv, out, result.exception)
            assert f"argument {where} (" in out and "is not valid UTF-8" in out, (path, out)
            assert "Traceback" not in out, (path, out)
            checked += 1
    assert checked > 120 and {p[0] for p, _ in COMMANDS} >= LONG_RUNNING
    assert _events(fresh_db) == before


def test_stored_text_with_markup_or_emoji_codes_then_every_output_prints_it_verbatim(fresh_db, nats_url, namespace):
    """The CLI printed through Rich markup: a stored reason holding ``[/]`` made ``fair list`` (and any message
    naming such a value, e.g. ``orders show '[/]'``) fail with a MarkupError traceback, and ``[red]`` or
    ``:warning:`` changed what the operator read. Output is now plain text; styling is explicit."""
    source, reason, actor = "[/]desk", "[bold]checked :warning: by hand", "[red]ops"
    set_ = _invoke(["fair", "set", "KXMARKUP-26", "0.4", "--source", source, "--reason", reason, "--actor", actor],
                   fresh_db, nats_url)
    assert set_.exit_code == 0, set_.stdout + set_.stderr
    container = make_container(fresh_db, nats_url, namespace)
    try:
        catch_up(container)
    finally:
        container.close()

    listed = _invoke(["fair", "list"], fresh_db, nats_url)
    missing = _invoke(["orders", "show", "[/]"], fresh_db, nats_url)

    assert listed.exit_code == 0, (listed.stdout, listed.exception)
    assert all(text in listed.stdout for text in (source, reason, actor)), listed.stdout
    assert missing.exit_code == 1 and "no order '[/]'" in missing.stderr, (missing.stderr, missing.exception)


def test_verify_run_when_by_is_blank_then_refused_before_any_suite_runs(fresh_db, nats_url):
    """``verify run --by ''`` ran every suite, then failed to store the run and logged the domain's refusal
    with its traceback; the operator's name is now checked first, as every other command checks its actor."""
    before = _events(fresh_db)

    result = _invoke(["verify", "run", "--suite", "clv", "--by", " "], fresh_db, nats_url)

    out = result.stdout + result.stderr
    assert result.exit_code == 2 and "--by must not be blank" in out, (out, result.exception)
    assert "Traceback" not in out and "recorded run" not in out
    assert _events(fresh_db) == before


PRINTS_A_LONE_SURROGATE = """
import sys
from paulp.api import cli

@cli.app.command("probe-print")
def probe_print() -> None:
    cli.console.print("before \\udcff after")
    cli.console.print("the next line")

sys.argv = ["paulp", "probe-print"]
cli.main()
"""


def test_entry_point_when_output_has_no_utf8_form_then_printed_escaped_and_later_lines_still_print():
    """Text decoded from a JSON escape can hold a lone surrogate; printed, it failed the command, and Rich kept the
    unwritten buffer, so every later print of that process (a long-running ``paulp up``) failed too. The entry
    point makes stdout and stderr escape what they cannot encode (ADR 0499)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-c", PRINTS_A_LONE_SURROGATE], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["before \\udcff after", "the next line"]


@pytest.mark.parametrize("argv", [
    ["postmortem", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"],
    ["compliance", "export", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json"],
], ids=["postmortem", "compliance-export"])
def test_report_commands_when_output_is_a_folder_then_refused_before_any_work(fresh_db, nats_url, tmp_path,
                                                                             argv: list[str]):
    """``--output ''`` (which is ``.``) or a folder was found only at the final rename: postmortem failed with an
    OSError traceback after building the whole report. Both report commands now refuse it first (exit 2), as
    ``compliance export`` already did (typer's ``dir_okay=False``)."""
    for target in ("", str(tmp_path)):
        result = _invoke([*argv, "--output", target], fresh_db, nats_url)
        out = result.stdout + result.stderr
        assert result.exit_code == 2, (target, out, result.exception)
        assert "is a directory" in out and "Traceback" not in out, out
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temp file left behind


@pytest.mark.parametrize("argv", [
    ["postmortem", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"],
    ["compliance", "export", "--from", "2026-01-01", "--to", "2026-01-31", "--format", "json"],
], ids=["postmortem", "compliance-export"])
def test_report_commands_when_output_is_a_dash_then_report_on_stdout_and_no_file(fresh_db, nats_url, tmp_path,
                                                                                 monkeypatch, argv: list[str]):
    """``--output -`` wrote a file named ``-`` in the working folder; it means stdout, as in most Unix tools, and
    prints exactly what no ``--output`` prints."""
    monkeypatch.chdir(tmp_path)
    plain = _invoke(argv, fresh_db, nats_url)
    dashed = _invoke([*argv, "--output", "-"], fresh_db, nats_url)
    assert plain.exit_code == dashed.exit_code == 0, (plain.stderr, dashed.stderr)
    assert dashed.stdout == plain.stdout and dashed.stdout.strip(), dashed.stdout
    assert list(tmp_path.iterdir()) == []
