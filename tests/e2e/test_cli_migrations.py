"""The migration runner's refusals through the real entry point: a database a newer release migrated (a code
rollback with the database left as it was) and an applied migration edited afterwards. Either stops every
command that wires the system with exit 1 and a message naming the migrations, no traceback, nothing applied."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from paulp.adapters.migrate import available

pytestmark = pytest.mark.integration
FUTURE = "9999_from_a_newer_release.sql"


def _paulp_on(args: list[str], db: str, nats: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENVIRONMENT": "test", "PAULP_DATABASE_URL": db, "PAULP_NATS_URL": nats, "COLUMNS": "250",
           "ADMIN_TOKEN": "t" * 40}
    return subprocess.run([sys.executable, "-m", "paulp.api", *args], env=env, capture_output=True, text=True,
                          timeout=60)


def _tables(db: str) -> set[str]:
    with psycopg.connect(db) as conn:
        return {r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")}


@pytest.mark.parametrize("args", [["migrate"], ["up", "--port", "0"], ["relay"]])
def test_command_when_a_newer_release_migrated_the_database_then_exit_1_naming_it_and_nothing_applied(
        empty_db, nats_url, args):
    # Arrange: the database as a newer release left it, as far as the runner can tell: one migration it lacks
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                     " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, %s, 'x')", (FUTURE,))
    before = _tables(empty_db)
    # Act
    r = _paulp_on(args, empty_db, nats_url)
    # Assert
    assert r.returncode == 1, (r.stdout, r.stderr)
    latest = max(m.version for m in available())
    assert f"does not have ({FUTURE}; this release ends at {latest:04d}): a newer release migrated it" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    assert _tables(empty_db) == before == {"public.schema_migrations"}


def test_migrate_when_an_applied_migration_was_edited_then_exit_1_naming_it_without_a_traceback(fresh_db, nats_url):
    # Arrange
    first = available()[0]
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = %s", (first.version,))
    # Act
    r = _paulp_on(["migrate"], fresh_db, nats_url)
    # Assert
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"error: migrations: applied migration {first.name} was modified after it ran" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def _newer_release_migrated(db: str) -> None:
    """Every migration of this release applied, and one more a newer release added."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, %s, 'x')", (FUTURE,))


# Every process entry point and a one-shot command of each kind of wiring (a full container, one context
# application, a plain connection to the views or the log, NATS), on a database a newer release migrated (ADR 0523).
ENTRY_POINTS = [
    ["serve", "--port", "0"], ["project"], ["project", "--projection", "orders"], ["schedule"],
    ["orders", "list"], ["orders", "show", "o-1"], ["jobs", "runs"], ["audit", "verify"], ["dead-letters", "list"],
    ["replay", "--projection", "orders"], ["rebuild", "--projection", "orders"],
    ["postmortem", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z"], ["breaker", "status"],
    ["verify", "results"], ["backtest", "list"], ["fair", "list"], ["risk", "limits", "show"], ["positions", "list"],
    ["reconcile", "runs"], ["execution", "policy", "show"], ["compliance", "list"], ["sources", "list"],
    ["clv", "show"], ["llm", "budget"], ["evidence", "verify", "--all"], ["audit", "verify-mirror"],
]


@pytest.mark.parametrize("args", ENTRY_POINTS, ids=lambda a: " ".join(a[:2]))
def test_entry_point_when_a_newer_release_migrated_the_database_then_refuses_to_start(fresh_db, nats_url, args):
    # Arrange
    _newer_release_migrated(fresh_db)
    # Act
    r = _paulp_on(args, fresh_db, nats_url)
    # Assert
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "a newer release migrated it" in r.stderr, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr


def test_doctor_when_a_newer_release_migrated_the_database_then_says_so_and_exit_1(fresh_db, nats_url):
    _newer_release_migrated(fresh_db)
    r = _paulp_on(["doctor"], fresh_db, nats_url)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "a newer release migrated it" in " ".join((r.stdout + r.stderr).split()), (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
