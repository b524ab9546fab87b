"""Benchmark scaffolding: services as the app resolves them, a throwaway database, figures printed and saved."""

from __future__ import annotations

import json
import os
import secrets
import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from paulp.adapters.services import resolve_services

RESULTS = Path(__file__).resolve().parent / "results"


@contextmanager
def bench_services() -> Iterator[tuple[str, str, str]]:
    """Yield (database_url, nats_url, namespace) for a fresh database; drop it afterwards."""
    state = Path(os.environ.get("PAULP_STATE_DIR", ".paulp")) / "bench"
    svc = resolve_services(os.environ.get("PAULP_DATABASE_URL"), os.environ.get("PAULP_NATS_URL"), "bench", state)
    svc.start()
    name = f"paulp_bench_{secrets.token_hex(3)}"
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(svc.database_url)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
    try:
        yield url, svc.nats_url, "b" + secrets.token_hex(4)
    finally:
        with psycopg.connect(svc.database_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        svc.stop()


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {"p50_ms": round(percentile(ms, 50), 3), "p99_ms": round(percentile(ms, 99), 3),
            "mean_ms": round(statistics.fmean(ms), 3)}


def save(name: str, figures: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=str))
    return path


def report(name: str, figures: dict[str, object]) -> None:
    """Print each figure on its own line, then save them all as ``bench/results/<name>.json``."""
    for key, value in figures.items():
        print(f"{key}: {value}")
    print(f"saved {save(name, figures)}")
