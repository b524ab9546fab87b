"""Start-up refusals of ``paulp`` as an operator meets them (api-and-security §8, ADR 0353): a process that does
not know its ``ENVIRONMENT``, or a production one without its audit mirror, stops before starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from paulp.api.cli import app

pytestmark = pytest.mark.integration
CHOICES = "production, staging, development, test"
TOKEN = "startup-config-token-0123456789abcdef"


def _laptop_env(state_dir: Path, **values: str | None) -> dict[str, str]:
    """This machine's environment without any Paul P variable, then ``values`` (None: left unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAULP_") and k != "ENVIRONMENT"}
    env.update(PAULP_STATE_DIR=str(state_dir), COLUMNS="250")
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def _paulp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paulp.api", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _paulp_in_process(args: list[str], state_dir: Path, **values: str | None) -> Result:
    """The same command in this process (CliRunner): the refusal happens before anything is started, so a real
    process per case would only add its start-up second; ``test_up_when_environment_unset_…`` keeps one."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PAULP_") or k == "ENVIRONMENT"}
    env.update(PAULP_STATE_DIR=str(state_dir), COLUMNS="250", **values)
    return CliRunner().invoke(app, args, env=env)


def test_up_when_environment_unset_then_exit_2_naming_it_and_nothing_started(tmp_path: Path) -> None:
    # Arrange: no service URLs, so a start would create the state folder for its embedded servers
    state = tmp_path / "state"
    # Act: a real process, as an operator starts it
    r = _paulp(["up", "--port", "9"], _laptop_env(state))
    # Assert
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"ENVIRONMENT is required (unset or blank): set it to one of {CHOICES}" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not state.exists(), "an embedded server was started (the state folder exists)"


@pytest.mark.parametrize("args", [["serve", "--port", "9"], ["relay"], ["project"], ["schedule"], ["migrate"],
                                  ["doctor"]], ids=lambda a: a[0])
def test_command_when_environment_unset_then_exit_2_naming_it_and_nothing_started(tmp_path: Path,
                                                                                  args: list[str]) -> None:
    state = tmp_path / "state"
    r = _paulp_in_process(args, state)
    assert r.exit_code == 2, r.output
    assert f"ENVIRONMENT is required (unset or blank): set it to one of {CHOICES}" in " ".join(r.output.split())
    assert not state.exists(), "an embedded server was started (the state folder exists)"


@pytest.mark.parametrize(("value", "message"), [
    ("", "ENVIRONMENT is required (unset or blank)"),
    ("   ", "ENVIRONMENT is required (unset or blank)"),
    ("prod", "ENVIRONMENT must be one of"),
    ("production ", "ENVIRONMENT must be one of"),
], ids=["empty", "blank", "unknown", "trailing-space"])
def test_up_when_environment_blank_or_invalid_then_exit_2_and_nothing_started(tmp_path: Path, value: str,
                                                                              message: str) -> None:
    state = tmp_path / "state"
    r = _paulp_in_process(["up", "--port", "9"], state, ENVIRONMENT=value, ADMIN_TOKEN=TOKEN)
    assert r.exit_code == 2, r.output
    assert message in r.output and CHOICES in " ".join(r.output.split())
    assert not state.exists()


@pytest.mark.parametrize("value", ["Bad-NS", "a\udcff", "9lives", ""], ids=["upper-dash", "not-utf8", "digit", "empty"])
def test_command_when_namespace_unusable_then_exit_2_naming_the_rule_and_nothing_started(tmp_path: Path,
                                                                                         value: str) -> None:
    """It names the NATS stream and subjects; it was checked only inside the bus, so a bad one (or bytes that
    are not UTF-8, as argv and the environment deliver them) ended in a ValueError traceback (ADR 0499)."""
    state = tmp_path / "state"
    r = _paulp_in_process(["breaker", "status"], state, ENVIRONMENT="test", PAULP_NAMESPACE=value)
    out = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert ("PAULP_NAMESPACE must be a lowercase letter then up to 40" in out
            or "PAULP_NAMESPACE is not valid UTF-8" in out) and "Traceback" not in out, out
    assert not state.exists()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ADMIN_TOKEN", "secret-\udcff-0123456789abcdef", "ADMIN_TOKEN is not valid UTF-8"),
    ("PAULP_EVIDENCE_DIR", "/tmp/\udcc3", "PAULP_EVIDENCE_DIR is not valid UTF-8"),
    ("PAULP_DATABASE_URL", "postgresql://ops:hunter2@\udcff/db", "PAULP_DATABASE_URL is not valid UTF-8"),
    ("PAULP_DATABASE_URL", "hunter2 -1", "PAULP_DATABASE_URL is not a PostgreSQL connection URL or string"),
    ("PAULP_ANCHOR_DATABASE_URL", "{hunter2", "PAULP_ANCHOR_DATABASE_URL is not a PostgreSQL connection URL"),
], ids=["token-not-utf8", "path-not-utf8", "url-not-utf8", "url-malformed", "anchor-url-malformed"])
def test_command_when_a_variable_is_unusable_then_exit_2_naming_it_without_its_value(tmp_path: Path, name: str,
                                                                                     value: str, message: str) -> None:
    """Each failed later: a UnicodeEncodeError where the value was first written or printed, psycopg's
    ProgrammingError at the first connection, each with a traceback (ADR 0499). Values are never echoed: they may
    be secrets."""
    state = tmp_path / "state"
    r = _paulp_in_process(["breaker", "status"], state, ENVIRONMENT="test", **{name: value})
    out = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert message in out and "Traceback" not in out and "hunter2" not in out and "secret-" not in out, out
    assert not state.exists()


@pytest.mark.parametrize("mirror", [None, "  "], ids=["unset", "blank"])  # empty: tests/security/test_config.py
def test_production_when_audit_mirror_missing_then_exit_2_naming_it_and_nothing_written(
        tmp_path: Path, empty_db: str, nats_url: str, mirror: str | None) -> None:
    # Arrange: every other production requirement met, on a database no command has touched yet
    evidence = tmp_path / "evidence"
    production = {"ENVIRONMENT": "production", "PAULP_DATABASE_URL": empty_db, "PAULP_NATS_URL": nats_url,
                  "PAULP_ANCHOR_DATABASE_URL": empty_db, "PAULP_EVIDENCE_DIR": str(evidence), "ADMIN_TOKEN": TOKEN}
    # Act
    refused = _paulp(["serve", "--port", "9"], _laptop_env(tmp_path / "state", **production,
                                                           PAULP_AUDIT_MIRROR_DIR=mirror))
    # Assert: refused before migrating, creating the evidence folder or binding
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "PAULP_AUDIT_MIRROR_DIR is required when ENVIRONMENT=production" in refused.stderr
    assert not evidence.exists()
    with psycopg.connect(empty_db) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog',"
                              " 'information_schema')").fetchone()
    assert tables == (0,)
    # and the same configuration with the mirror named starts (here: migrates)
    mirror_dir = tmp_path / "mirror"
    mirror_dir.mkdir()
    migrated = _paulp(["migrate"], _laptop_env(tmp_path / "state", **production,
                                               PAULP_AUDIT_MIRROR_DIR=str(mirror_dir)))
    assert migrated.returncode == 0, (migrated.stdout, migrated.stderr)
    assert "applied" in migrated.stdout


def test_up_when_a_variable_is_malformed_then_exit_2_naming_it_without_its_value(tmp_path: Path) -> None:
    """A malformed value is named with the reason, never echoed: the same path reads the secrets."""
    state = tmp_path / "state"
    r = _paulp(["up"], _laptop_env(state, ENVIRONMENT="test", PAULP_HTTP_PORT="not-a-port-4f1c"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "invalid configuration: PAULP_HTTP_PORT" in r.stderr
    assert "not-a-port-4f1c" not in r.stderr + r.stdout and "Traceback" not in r.stderr
    assert not state.exists()
