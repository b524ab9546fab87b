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
    """Raised when an applied migration file was changed or a file name is malformed."""


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
            for mig in available():
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
