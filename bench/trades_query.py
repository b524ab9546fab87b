"""GET /admin/trades over 1,000,000 venue orders: HTTP p50/p99 beside the same SQL run raw.

Run: python -m bench.trades_query

Rows are loaded with COPY straight into the views (a load shortcut for the benchmark only; the app writes
them through events). The API runs as under ``paulp serve``: uvicorn in its own process on loopback
(uvloop and httptools when installed). The client is one keep-alive HTTP/1.1 connection on a plain socket
(``KeepAliveClient``: request bytes out, response read by Content-Length), sequential; each API request is
followed by the same SQL run raw through psycopg in this process. The standard library's ``http.client``
parses headers through ``email.parser`` and measured 0.04-0.09 ms slower per request at p50 and p99, time
that belongs to the measuring tool, not to the API.
Then the same app is called in this process as ASGI (no socket, no HTTP), again beside the raw SQL: the
difference between the two tables is the HTTP hop, which the floor row (GET /health/live) measures alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from bench.common import bench_services, save, summary_ms
from paulp.adapters.config import Settings
from paulp.api.app import create_app
from paulp.api.cli import run_loop
from paulp.api.runtime import bind_http, serve_api
from paulp.api.trades import parse_filters, trades_query
from paulp.api.wiring import build

TOKEN = "bench-admin-token-0123456789abcdefgh"
STRATEGIES = ["bonding", "weather", "xv_signal", "smart_money", "resolution"]
STATUSES = ["filled", "open", "rejected", "submitted", "cancelled", "paper_filled"]
QUERIES = [
    {},
    {"venue": "kalshi", "limit": "100"},
    {"strategy": "bonding", "status": "filled", "mode": "PAPER", "limit": "100"},
    {"venue": "kalshi", "strategy": "weather", "limit": "50"},
    {"status": "rejected", "limit": "500"},
    {"ticker": "KX-BENCH-00042", "limit": "100"},
    {"mode": "LIVE", "limit": "10"},
]


def load(db_url: str, rows: int) -> float:
    rnd = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        for venue, share in (("kalshi", 0.8), ("ibkr", 0.2)):
            n = int(rows * share)
            with cur.copy(f"COPY views.{venue}_orders (order_id, record, strategy, ticker, status, execution_mode,"
                          " created_at, seq) FROM STDIN") as copy:
                for i in range(n):
                    created = base + timedelta(seconds=i * 7 + rnd.randrange(7))
                    strategy, status = rnd.choice(STRATEGIES), rnd.choice(STATUSES)
                    mode = "PAPER" if rnd.random() < 0.7 else "LIVE"
                    ticker = f"KX-BENCH-{rnd.randrange(5000):05d}"
                    oid = f"{venue[0]}-{i}"
                    record = {"order_id": oid, "ticker": ticker, "status": status, "execution_mode": mode,
                              "created_at": created.isoformat().replace("+00:00", "Z"), "requested_size": 10,
                              "limit_price": 42, "fill_count": 10, "fill_price": 43,
                              ("source_strategy" if venue == "kalshi" else "hedge_strategy"): strategy}
                    copy.write_row((oid, json.dumps(record), strategy, ticker, status, mode, created, i))
        conn.commit()
    rate = rows / (time.perf_counter() - t0)
    # Settle the load before measuring: without this, autovacuum wakes on a million fresh rows in the middle
    # of the measurement, and a checkpoint follows the bulk load.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) views.kalshi_orders")
        conn.execute("VACUUM (ANALYZE) views.ibkr_orders")
        conn.execute("CHECKPOINT")
    return rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(db_url: str, nats_url: str, ns: str, port: int) -> None:
    """The API process as ``paulp serve`` runs it (no relay, projectors or scheduler)."""
    settings = Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns, ADMIN_TOKEN=TOKEN)  # type: ignore[arg-type]
    container = build(settings, db_url, nats_url)
    try:
        serve_api(container, bind_http("127.0.0.1", port), lambda: None, log_level="warning")
    finally:
        container.close()


def wait_listening(port: int, proc: multiprocessing.process.BaseProcess, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"API process exited with {proc.exitcode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError("API did not start listening")


class KeepAliveClient:
    """The leanest HTTP/1.1 client that is still correct for these responses (status line, headers,
    Content-Length body; uvicorn answers these routes with Content-Length, never chunked)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
        buf = self.pending
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        head, _, rest = buf.partition(b"\r\n\r\n")
        status_line, *fields = head.split(b"\r\n")
        length = next((int(v) for k, _, v in (f.partition(b":") for f in fields)
                       if k.strip().lower() == b"content-length"), None)
        if length is None:
            raise RuntimeError(f"response without Content-Length: {head!r}")
        while len(rest) < length:
            rest += self._recv()
        self.pending = rest[length:]
        return int(status_line.split()[1]), rest[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def get(conn: KeepAliveClient, query: dict[str, str]) -> tuple[int, bytes]:
    path = "/admin/trades" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return conn.get(path, {"Authorization": f"Bearer {TOKEN}"})


def measure(db_url: str, nats_url: str, ns: str, repeats: int) -> dict[str, Any]:
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=serve, args=(db_url, nats_url, ns, port), daemon=True)
    proc.start()
    out: dict[str, Any] = {}
    try:
        wait_listening(port, proc)
        http_conn = KeepAliveClient(port)
        out["http_floor"] = http_floor(http_conn, repeats)
        with psycopg.connect(db_url) as conn:
            for q in QUERIES:
                label = "&".join(f"{k}={v}" for k, v in q.items()) or "(defaults)"
                f = parse_filters(q)
                for _ in range(50):  # warm-up
                    assert get(http_conn, q)[0] == 200
                api, raw = [], []
                for _ in range(repeats):
                    t = time.perf_counter()
                    status, body = get(http_conn, q)
                    api.append(time.perf_counter() - t)
                    assert status == 200
                    t = time.perf_counter()
                    run_raw(conn, f)
                    raw.append(time.perf_counter() - t)
                a, b = summary_ms(api), summary_ms(raw)
                out[label] = {"api": a, "raw_sql": b, "p99_ratio": round(a["p99_ms"] / b["p99_ms"], 2),
                              "rows": json.loads(body)["count"]}
        http_conn.close()
    finally:
        proc.terminate()
        proc.join(10)
    return out


def http_floor(conn: KeepAliveClient, repeats: int) -> dict[str, float]:
    """The HTTP hop alone, same server and client: GET /health/live touches neither auth nor the database."""
    samples = []
    for i in range(repeats + 50):
        t = time.perf_counter()
        status, _ = conn.get("/health/live", {})
        if i >= 50:  # the first 50 warm up
            samples.append(time.perf_counter() - t)
        assert status == 200
    return summary_ms(samples)


def in_process(db_url: str, nats_url: str, ns: str, repeats: int) -> dict[str, Any]:
    """The same app called as ASGI in this process (no socket, no HTTP parsing), each request followed by the
    raw SQL: what the handler itself adds, separated from the HTTP hop that the floor row measures."""
    settings = Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns, ADMIN_TOKEN=TOKEN)  # type: ignore[arg-type]
    container = build(settings, db_url, nats_url)
    app = create_app(container)
    out: dict[str, Any] = {}

    async def call(query: dict[str, str]) -> int:
        qs = "&".join(f"{k}={v}" for k, v in query.items()).encode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/admin/trades", "raw_path": b"/admin/trades", "query_string": qs,
                 "root_path": "", "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {TOKEN}".encode())],
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def main() -> None:
        async with app.router.lifespan_context(app):
            with psycopg.connect(db_url) as conn:
                for q in QUERIES:
                    label = "&".join(f"{k}={v}" for k, v in q.items()) or "(defaults)"
                    f = parse_filters(q)
                    for _ in range(50):
                        assert await call(q) == 200
                    asgi, raw = [], []
                    for _ in range(repeats):
                        t = time.perf_counter()
                        assert await call(q) == 200
                        asgi.append(time.perf_counter() - t)
                        t = time.perf_counter()
                        run_raw(conn, f)
                        raw.append(time.perf_counter() - t)
                    a, b = summary_ms(asgi), summary_ms(raw)
                    out[label] = {"asgi": a, "raw_sql": b, "p99_ratio": round(a["p99_ms"] / b["p99_ms"], 2)}

    try:
        run_loop(main())
    finally:
        container.close()
    return out


def run_raw(conn: psycopg.Connection[Any], f: Any) -> None:
    """The API's SQL for these filters, run directly: the same statement, the rows fetched."""
    query, args, _ = trades_query(f)
    conn.execute(query, args).fetchall()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1000)
    args = ap.parse_args()
    with bench_services() as (db_url, nats_url, ns):
        build(Settings(ENVIRONMENT="test", PAULP_NAMESPACE=ns), db_url, nats_url).close()  # migrate
        rate = load(db_url, args.rows)
        results = measure(db_url, nats_url, ns, args.repeats)
        local = in_process(db_url, nats_url, ns, args.repeats)
    print(f"loaded {args.rows} rows by COPY at {rate:,.0f} rows/s")
    print(f"{'query':55s} {'api p50':>8s} {'api p99':>8s} {'raw p50':>8s} {'raw p99':>8s} {'p99 x':>6s} rows")
    floor = results.pop("http_floor")
    print(f"{'HTTP floor: GET /health/live (no auth, no database)':55s} {floor['p50_ms']:8.2f} {floor['p99_ms']:8.2f}")
    for label, r in results.items():
        print(f"{label:55s} {r['api']['p50_ms']:8.2f} {r['api']['p99_ms']:8.2f} {r['raw_sql']['p50_ms']:8.2f}"
              f" {r['raw_sql']['p99_ms']:8.2f} {r['p99_ratio']:6.2f} {r['rows']}")
    print("in process, the app called as ASGI (no socket, no HTTP): what the handler adds to the same SQL")
    print(f"{'query':55s} {'asgi p50':>8s} {'asgi p99':>8s} {'raw p50':>8s} {'raw p99':>8s} {'p99 x':>6s}")
    for label, r in local.items():
        print(f"{label:55s} {r['asgi']['p50_ms']:8.2f} {r['asgi']['p99_ms']:8.2f} {r['raw_sql']['p50_ms']:8.2f}"
              f" {r['raw_sql']['p99_ms']:8.2f} {r['p99_ratio']:6.2f}")
    figures = {"rows": args.rows, "copy_rows_per_s": rate, "http_floor": floor, "queries": results,
               "in_process": local}
    print(f"saved {save('trades_query', figures)}")


if __name__ == "__main__":
    main()
