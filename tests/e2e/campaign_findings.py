"""What the by-hand campaigns (HTTP: fuzz_campaign, ADR 0490; command line: cli_fuzz_campaign, ADR 0499) collect:
counters, failures by signature (first example of each kept) and the event count that shows partial state."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg


class Findings:
    def __init__(self, db_url: str) -> None:
        self.db = psycopg.connect(db_url, autocommit=True)
        self.seen: Counter[str] = Counter()
        self.failures: dict[str, dict[str, Any]] = {}
        self.failure_counts: Counter[str] = Counter()

    def events(self) -> int:
        """Events in the log: a refused request or command must leave it unchanged."""
        row = self.db.execute("SELECT count(*) FROM paulp_events").fetchone()
        return int(row[0]) if row else 0

    def fail(self, kind: str, key: str, detail: dict[str, Any]) -> None:
        signature = f"{kind} | {key}"
        self.failure_counts[signature] += 1
        self.failures.setdefault(signature, detail)
