"""Hourly audit job over a long chain: write an anchor and check a month of hourly anchors, streamed.

Run: python -m bench.audit_anchors [--rows 1000000] [--anchors 720]

Chain rows are built with the domain's own ``append_record`` and loaded with COPY straight into
``audit_chain`` (a load shortcut for the benchmark; the app appends through ``paulp_append_events``).
Anchors are written at evenly spaced lengths, as an hourly job would have left them. The figures are the
wall time of ``write_anchor`` (stream + one pass) and of ``verify_stored_anchors`` (every anchor in one
pass), rows/s, and the process's peak RSS growth while they ran.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import time

import psycopg

from bench.common import bench_services, save
from paulp.adapters.anchors import ensure_anchor_store, verify_stored_anchors, write_anchor
from paulp.adapters.config import Settings
from paulp.api.wiring import build
from paulp.domain.audit import ChainRecord, append_record
from paulp.domain.audit_anchors import Anchor


def load_chain(db_url: str, rows: int, anchors: int) -> tuple[float, list[Anchor]]:
    """COPY a valid chain of ``rows`` records; return the load rate and the anchors an hourly job would have
    written along the way (head, length and §5.5 snapshot at evenly spaced lengths)."""
    every = max(1, rows // anchors)
    pinned: list[Anchor] = []
    head: ChainRecord | None = None
    digest, t0 = hashlib.sha256(), time.perf_counter()
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        with cur.copy("COPY audit_chain (chain_seq, notification_id, event_id, timestamp, agent, event_type,"
                      " payload, payload_hash, evidence_hash, prev_hash, hash) FROM STDIN") as copy:
            for i in range(1, rows + 1):
                head = append_record(head, id=f"evt-{i}", timestamp="2026-01-01T00:00:00.000Z", agent="bench",
                                     event_type="BENCH", payload=f'{{"n":{i}}}')
                copy.write_row((i, i, head.id, head.timestamp, head.agent, head.event_type, head.payload,
                                head.payload_hash, None, head.prev_hash, head.hash))
                digest.update(head.hash.encode("utf-8"))
                if i % every == 0 and len(pinned) < anchors:
                    n = len(pinned) + 1
                    pinned.append(Anchor(f"bench-{n}", head.hash, i, head.id, n, "evt-1", digest.hexdigest()))
        conn.commit()
    rate = rows / (time.perf_counter() - t0)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) audit_chain")
    return rate, pinned


def store_anchors(db_url: str, anchors: list[Anchor]) -> None:
    ensure_anchor_store(db_url)
    with psycopg.connect(db_url) as conn:
        for a in anchors:
            conn.execute(
                "INSERT INTO audit_anchor.anchors (id, anchor_sequence, chain_head_hash, chain_length, first_event_id,"
                " last_event_id, snapshot_hash, anchored_to, anchor_timestamp) VALUES"
                " (%s,%s,%s,%s,%s,%s,%s,'same_database_schema', now())",
                (a.id, a.anchor_sequence, a.chain_head_hash, a.chain_length, a.first_event_id, a.last_event_id,
                 a.snapshot_hash))
        conn.commit()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--anchors", type=int, default=720, help="a month of hourly anchors")
    args = ap.parse_args()
    with bench_services() as (db_url, nats_url, ns):
        build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns), db_url, nats_url).close()  # migrate
        rate, anchors = load_chain(db_url, args.rows, args.anchors)
        store_anchors(db_url, anchors)
        del anchors
        base = rss_mb()
        t0 = time.perf_counter()
        anchor = write_anchor(db_url, db_url)
        t_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        result = verify_stored_anchors(db_url, db_url)
        t_verify = time.perf_counter() - t0
        growth = rss_mb() - base
    assert anchor.chain_length == args.rows and result.failed == 0, (anchor, result.failed)
    figures = {"rows": args.rows, "anchors_checked": result.verified, "copy_rows_per_s": round(rate),
               "write_anchor_s": round(t_write, 3), "write_anchor_rows_per_s": round(args.rows / t_write),
               "verify_anchors_s": round(t_verify, 3), "verify_anchors_rows_per_s": round(args.rows / t_verify),
               "peak_rss_growth_mb": round(growth, 1)}
    for k, v in figures.items():
        print(f"{k}: {v}")
    print(f"saved {save('audit_anchors', figures)}")


if __name__ == "__main__":
    main()
