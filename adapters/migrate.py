"""Numbered SQL migrations, each applied once in its own transaction under an advisory lock.

A 60-line runner instead of a migration library: plain SQL files, a checksum per file so an edited
migration is refused, and nothing to configure (ADR 0003).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

LOCK_KEY = 0x7061756C70  # "paulp"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql\Z")


class MigrationError(RuntimeError):
    """Raised when an applied migration file was changed, the database holds migrations this release does not
    know, or a file name is malformed: nothing is applied and the process must not start."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    found = []
    for entry in resources.files("paulp.migrations").iterdir():
        if entry.name.endswith(".sql"):
            m = _NAME.match(entry.name)
            if not m:
                raise MigrationError(f"malformed migration file name: {entry.name}")
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    if len({m.version for m in found}) != len(found):
        raise MigrationError("two migrations share a version number")
    return found


def refuse_newer_schema(done: dict[int, tuple[str, str]], known: list[Migration]) -> None:
    """A database a newer release migrated is refused, not run: this release's code would read and write a schema
    (and log event types) it was not written for, e.g. after a code rollback with the database left as it was."""
    versions = {m.version for m in known}
    newer = sorted((v, name) for v, (name, _) in done.items() if v not in versions)
    if newer:
        names = ", ".join(name for _, name in newer)
        latest = max(versions, default=0)
        raise MigrationError(
            f"the database holds {len(newer)} migration(s) this release does not have ({names}; this release"
            f" ends at {latest:04d}): a newer release migrated it. Run that release, or restore a backup taken"
            " before it; nothing was applied")


def refuse_newer_database(database_url: str) -> None:
    """``refuse_newer_schema`` for a process that does not migrate (a one-shot command), read-only: a database not
    migrated yet passes (the command then says so, or migrates), and so does one that does not answer (the command
    reports that in its own words, as it did before this check)."""
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() == (None,):
                return
            done = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT version, name, checksum FROM schema_migrations")}
    except psycopg.OperationalError:
        return
    refuse_newer_schema(done, available())


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the names applied."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
                " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT version, name, checksum FROM schema_migrations")}
            known = available()
            refuse_newer_schema(done, known)
            for mig in known:
                if mig.version in done:
                    if done[mig.version][1] != mig.checksum:
                        raise MigrationError(f"applied migration {mig.name} was modified after it ran")
                    continue
                with conn.transaction():
                    conn.execute(mig.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                applied_now.append(mig.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now
