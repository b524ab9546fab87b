"""Spine throughput beside raw ceilings measured in the same run (run: python -m bench.spine).

* append: 1-event and 100-event saves through the library + chained recorder, vs raw psycopg doing the same
  work on the same row shape (lock + notify + event row + chain row per transaction), rounds interleaved;
  a bare one-row INSERT in autocommit (no chain, no lock) is printed beside them as the floor, and the
  event row alone inserted the usual psycopg way (execute + commit on a default connection);
* relay: events/s from log to JetStream, vs raw nats-py publish_async of the same payloads and headers;
* projector: events/s from JetStream into the view, vs raw durable pull fetch(500) + ack.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import nats
import psycopg
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from bench.common import bench_services, save
from paulp.adapters.bus import BusNames
from paulp.adapters.config import Settings
from paulp.adapters.projector import Projector
from paulp.adapters.relay import Relay, stream_head
from paulp.api.wiring import build

RAW_DDL = """
CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
    notification_id bigserial, PRIMARY KEY (originator_id, originator_version));
CREATE UNIQUE INDEX raw_events_nid ON raw_events (notification_id);
CREATE TABLE raw_chain (LIKE audit_chain INCLUDING ALL);
"""


class LibraryAppend:
    """Saves through the breaker application: library event objects, mapper, chained recorder."""

    def __init__(self, container: Any) -> None:
        self.svc, self.now = container.breaker, container.clock.now
        self.breaker = self.svc.get()
        self.svc.save(self.breaker)  # create the aggregate first
        self.n = 0

    def txn(self, count: int) -> None:
        for _ in range(count):
            self.n += 1
            self.breaker.raise_alert("BENCH", "warning", self.now(), f"event {self.n}")
        self.svc.save(self.breaker)


STATE = b'{"code":"BENCH","severity":"warning","message":"raw","at":{"_type_":"datetime_iso","_data_":"x"}}'
TOPIC = "paulp.domain.breaker:CircuitBreaker.AlertRaised"
INSERT_ROWS = ("INSERT INTO raw_events (originator_id, originator_version, topic, state)"
               " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])")


class RawSide:
    """One raw side of the append benchmark: its own originator in ``raw_events``, versions counted up."""

    def __init__(self, conn: psycopg.Connection[Any], originator: int) -> None:
        self.conn, self.oid, self.version = conn, f"00000000-0000-0000-0000-{originator:012d}", 0

    def next_rows(self, count: int) -> list[tuple[str, int, str, bytes]]:
        rows = [(self.oid, self.version + i + 1, TOPIC, STATE) for i in range(count)]
        self.version += count
        return rows

    @staticmethod
    def columns(rows: list[tuple[str, int, str, bytes]]) -> tuple[list[Any], ...]:
        return tuple([r[k] for r in rows] for k in range(4))


class RawAppend(RawSide):
    """Same work without the library: the statements ADR 0002's recorder issued, pipelined by hand
    (lock + notify + event rows + head read + chain rows per transaction). The ceiling for this row shape."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn, 1)
        conn.execute(RAW_DDL)
        self.seq, self.prev = 0, "genesis"

    def txn(self, count: int) -> None:
        conn = self.conn
        with conn.pipeline(), conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '10s'")
            conn.execute("LOCK TABLE raw_events IN EXCLUSIVE MODE")
            conn.execute("NOTIFY raw_events")
            cur = conn.cursor()
            cur.execute(INSERT_ROWS + " RETURNING notification_id", self.columns(self.next_rows(count)))
            head = conn.execute("SELECT chain_seq, hash FROM raw_chain ORDER BY chain_seq DESC LIMIT 1")
            ids = [r[0] for r in cur.fetchall()]
            head.fetchone()
            chain = []
            for nid in ids:
                self.seq += 1
                h = hashlib.sha256(f"{nid}|{self.prev}".encode()).hexdigest()
                chain.append((self.seq, nid, f"e{nid}", "ts", "agent", "type", "{}", h, None, self.prev, h))
                self.prev = h
            conn.cursor().executemany(
                "INSERT INTO raw_chain VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", chain
            )


class BareInsert(RawSide):
    """The floor: one INSERT of the event row alone, autocommit (one round trip and one commit, no chain,
    no lock). Not the target's baseline; printed so the cost of the chain and the library is visible."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn, 2)

    def txn(self, count: int) -> None:
        self.conn.execute(INSERT_ROWS, self.columns(self.next_rows(count)), prepare=True)


class IdiomaticInsert(RawSide):
    """The event row inserted the way psycopg is usually written: a default (non-autocommit) connection,
    ``execute`` then ``commit`` (psycopg opens the transaction implicitly). No chain, no lock."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__(conn, 3)

    def txn(self, count: int) -> None:
        self.conn.cursor().executemany(
            "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
            self.next_rows(count),
        )
        self.conn.commit()


def bench_appends(container: Any, db_url: str, n_single: int, n_batches: int, rounds: int = 10) -> dict[str, float]:
    """Interleaved rounds (library, raw, floor, library, ...) so a checkpoint or a noisy neighbour hits
    all three alike; each figure is total work over total time across its rounds."""
    with psycopg.connect(db_url, autocommit=True) as raw_conn, psycopg.connect(db_url, autocommit=True) as bare, \
            psycopg.connect(db_url) as idiomatic:
        sides = {"library": LibraryAppend(container), "raw": RawAppend(raw_conn), "bare": BareInsert(bare),
                 "idiomatic": IdiomaticInsert(idiomatic)}
        figures: dict[str, float] = {}
        for label, count, total in (("1", 1, n_single), ("100", 100, n_batches)):
            per_round = max(1, total // rounds)
            elapsed = dict.fromkeys(sides, 0.0)
            for _ in range(rounds):
                for name, side in sides.items():
                    t0 = time.perf_counter()
                    for _ in range(per_round):
                        side.txn(count)
                    elapsed[name] += time.perf_counter() - t0
            done = per_round * rounds * count
            for name in sides:
                figures[f"{name}_{label}_event_saves_events_per_s"] = round(done / elapsed[name], 1)
    return figures


async def bench_relay(container: Any, expected: int) -> float:
    relay = Relay(container.database_url, container.nats_url, container.names)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    nc = await nats.connect(container.nats_url)
    js = nc.jetstream()
    await relay.active.wait()
    t0 = time.perf_counter()
    while relay.stats.last_notification_id < expected:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - t0
    assert await stream_head(js, container.names) == expected
    stop.set()
    await task
    await nc.close()
    return relay.stats.published / elapsed


async def bench_raw_publish(nats_url: str, payloads: list[bytes], names: BusNames) -> float:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stream = names.stream + "_RAW"
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{names.namespace}raw.>"], storage=StorageType.FILE,
                                     duplicate_window=3600.0))
    t0 = time.perf_counter()
    for start in range(0, len(payloads), 500):
        futs = []
        for i, p in enumerate(payloads[start:start + 500], start=start + 1):
            headers = {"Nats-Msg-Id": f"raw/{i}", "Paulp-Notification-Id": str(i)}
            if i > 1:
                headers["Nats-Expected-Last-Msg-Id"] = f"raw/{i - 1}"
            futs.append(await js.publish_async(f"{names.namespace}raw.x", p, headers=headers))
        await asyncio.gather(*futs)
    rate = len(payloads) / (time.perf_counter() - t0)
    await js.delete_stream(stream)
    await nc.close()
    return rate


async def bench_projector(container: Any, expected: int) -> float:
    proj = Projector(container.database_url, container.nats_url, container.names,
                     container.projections["breaker_state"])
    stop = asyncio.Event()
    task = asyncio.create_task(proj.run(stop))
    t0 = time.perf_counter()
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT last_notification_id FROM projection_tracking WHERE name='breaker_state'").fetchone()
            if row and row[0] >= expected:
                break
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    stop.set()
    await task
    return (proj.totals.applied + proj.totals.skipped) / elapsed


async def bench_raw_fetch(container: Any, expected: int) -> float:
    nc = await nats.connect(container.nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(container.names.all_subjects, durable="rawbench", stream=container.names.stream,
                                  config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=500))
    got = 0
    t0 = time.perf_counter()
    deadline = time.monotonic() + 120
    while got < expected and time.monotonic() < deadline:
        try:
            msgs = await sub.fetch(500, timeout=2)
        except TimeoutError:
            print(f"raw fetch: timeout at {got}/{expected}")
            continue
        for m in msgs:
            await m.ack()
        got += len(msgs)
    rate = got / (time.perf_counter() - t0)
    await nc.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--single", type=int, default=2000)
    ap.add_argument("--batches", type=int, default=200)
    args = ap.parse_args()
    with bench_services() as (db_url, nats_url, ns):
        settings = Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns)
        container = build(settings, db_url, nats_url)
        fig: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "single": args.single, "batches": args.batches}
        fig.update(bench_appends(container, db_url, args.single, args.batches))
        with psycopg.connect(db_url) as conn:
            total = conn.execute("SELECT max(notification_id) FROM paulp_events").fetchone()[0]
            assert total == conn.execute("SELECT count(*) FROM paulp_events").fetchone()[0]
            payloads = [bytes(r[0]) for r in conn.execute("SELECT state FROM paulp_events ORDER BY notification_id")]
        fig["events_in_log"] = total
        fig["raw_publish_async_msgs_per_s"] = round(asyncio.run(bench_raw_publish(nats_url, payloads,
                                                                                  container.names)), 1)
        fig["relay_msgs_per_s"] = round(asyncio.run(bench_relay(container, total)), 1)
        fig["raw_fetch_ack_msgs_per_s"] = round(asyncio.run(bench_raw_fetch(container, total)), 1)
        fig["projector_events_per_s"] = round(asyncio.run(bench_projector(container, total)), 1)
        for n in ("1", "100"):
            lib = fig[f"library_{n}_event_saves_events_per_s"]
            fig[f"ratio_append_{n}"] = round(lib / fig[f"raw_{n}_event_saves_events_per_s"], 3)
            fig[f"ratio_append_{n}_vs_bare_insert"] = round(lib / fig[f"bare_{n}_event_saves_events_per_s"], 3)
            fig[f"ratio_append_{n}_vs_idiomatic_insert"] = round(
                lib / fig[f"idiomatic_{n}_event_saves_events_per_s"], 3)
        fig["ratio_relay"] = round(fig["relay_msgs_per_s"] / fig["raw_publish_async_msgs_per_s"], 3)
        fig["ratio_projector"] = round(fig["projector_events_per_s"] / fig["raw_fetch_ack_msgs_per_s"], 3)
        container.close()
        asyncio.run(_cleanup(nats_url, container.names))
    for k, v in fig.items():
        print(f"{k:42s} {v}")
    print(f"saved {save('spine', fig)}")


async def _cleanup(url: str, names: BusNames) -> None:
    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(names.stream)
    finally:
        await nc.close()


if __name__ == "__main__":
    main()
