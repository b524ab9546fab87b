"""Audit mirror verification (ADR 0385): every chain record's file against the bytes it must hold, and every
file under ``audit/events`` against the chain, so a changed, missing or added file is named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from paulp.adapters.audit_mirror import CHAIN_ROWS, check_root, lock_key, mirror_state, read_file
from paulp.adapters.audit_store import chain_head, chain_snapshot
from paulp.adapters.eventstore.chain import record_from_row
from paulp.domain.audit_mirror import PREFIX, mirror_body, mirror_key, parse_key

LISTED = 100  # findings of each kind a verification report lists (all are counted)


@dataclass
class Findings:
    """Findings of one kind: all counted, the first ``LISTED`` kept."""

    count: int = 0
    items: list[Any] = field(default_factory=list)

    def add(self, item: Any) -> None:
        self.count += 1
        if len(self.items) < LISTED:
            self.items.append(item)


@dataclass
class MirrorReport:
    """The mirror against the chain: ``missing`` (at or below the writer's position, no file), ``different``
    (a file whose bytes are not the record's), ``extra`` (a file no chain record has); ``pending`` = past
    the position and not yet written, which is lag, not a fault."""

    head: int = 0
    position: int = 0
    checked: int = 0
    pending: int = 0
    missing: Findings = field(default_factory=Findings)
    different: Findings = field(default_factory=Findings)
    extra: Findings = field(default_factory=Findings)

    @property
    def valid(self) -> bool:
        return not (self.missing.count or self.different.count or self.extra.count)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "chainHead": self.head, "mirroredThroughSequence": self.position,
                "recordsChecked": self.checked, "pending": self.pending,
                **{k: {"count": f.count, "items": f.items}
                   for k, f in (("missing", self.missing), ("different", self.different), ("extra", self.extra))}}


def verify_mirror(database_url: str, root: Path | None, batch: int = 5_000) -> MirrorReport:
    """Every chain record's file against the bytes it must hold, then every file against the chain, from one
    snapshot of the chain, while the writer is held off (its lock), so no file appears mid-check."""
    root = check_root(root)
    report = MirrorReport()
    with psycopg.connect(database_url, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock_key(root),))
        with chain_snapshot(database_url) as conn:
            report.head = chain_head(conn)[0]
            state = mirror_state(conn, root)
            report.position = state.position if state else 0
            _check_records(conn, root, report, batch)
            _check_files(conn, root, report, batch)
        lock.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock_key(root),))
    return report


def _check_records(conn: psycopg.Connection[Any], root: Path, report: MirrorReport, batch: int) -> None:
    with conn.cursor(name="paulp_mirror_verify", row_factory=dict_row) as cur:
        cur.itersize = batch
        cur.execute(CHAIN_ROWS + " WHERE chain_seq <= %s ORDER BY chain_seq", (report.head,))
        for row in cur:
            record = record_from_row(row)
            key = mirror_key(record)
            found = read_file(root / key)
            report.checked += 1
            if found is None:
                if record.sequence <= report.position:
                    report.missing.add({"sequence": record.sequence, "key": key})
                else:
                    report.pending += 1
            elif found != mirror_body(record):
                report.different.add({"sequence": record.sequence, "key": key})


def _listing(root: Path) -> Iterator[tuple[str, str | None]]:
    """(folder or file under audit/events, file name or None for a stray file) in name order; temp files
    (dot-names, a writer's unfinished work) are left out."""
    events = root / PREFIX
    if not events.is_dir():
        return
    for entry in sorted(os.scandir(events), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir(follow_symlinks=False):
            yield entry.name, None
            continue
        for name in sorted(n for n in os.listdir(entry.path) if not n.startswith(".")):
            yield entry.name, name


def _check_files(conn: psycopg.Connection[Any], root: Path, report: MirrorReport, batch: int) -> None:
    """A file is a record's only if its folder, sequence and id are those the chain gives that sequence."""
    pending: list[tuple[str, int]] = []

    def judge() -> None:
        seqs = [seq for _, seq in pending]
        keys: dict[int, str] = {}
        with conn.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(CHAIN_ROWS + " WHERE chain_seq = ANY(%s) AND chain_seq <= %s",
                                   (seqs, report.head)):
                keys[int(row["chain_seq"])] = mirror_key(record_from_row(row))
        for key, seq in pending:
            if keys.get(seq) != key:
                report.extra.add(key)
        pending.clear()

    for day, name in _listing(root):
        key = f"{PREFIX}/{day}" if name is None else f"{PREFIX}/{day}/{name}"
        parsed = None if name is None else parse_key(day, name)
        if parsed is None:
            report.extra.add(key)
            continue
        pending.append((key, parsed.sequence))
        if len(pending) >= batch:
            judge()
    if pending:
        judge()
