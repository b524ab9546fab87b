"""Long-running roles (relay, projectors, scheduler, HTTP) as asyncio tasks sharing one stop event."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
import math
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn

from paulp.adapters.bus import BusNames
from paulp.adapters.config import Settings, parse_backoff
from paulp.adapters.migrate import migrate
from paulp.adapters.projector import Projector, RetryPolicy
from paulp.adapters.projector_connections import ProjectorConnections
from paulp.adapters.relay import Relay
from paulp.api import shutdown
from paulp.api.app import create_app
from paulp.api.wiring import Container
from paulp.projections.base import Projection
from paulp.projections.registry import all_projections

log = logging.getLogger("paulp.runtime")
TICK_S = 30.0  # breaker HALT timeout is checked at least every minute (§2.3)
MARKS_S = 60.0  # open positions re-marked every minute (public market data, evidence kept)
HEALTHY_RUN_S = 60.0  # a role that ran this long before it crashed restarts at the shortest backoff again
ROLE_STOP_GRACE_S = 5.0  # a supervised role still running this long after the stop is cancelled (relay: < 0.5 s)
# uvicorn's proxy handling (on by default, trusting loopback) rewrites the ASGI peer from X-Forwarded-For
# before the app runs, which would bypass PAULP_TRUSTED_PROXIES and cf-connecting-ip's precedence: the client
# address is derived only by api.security.client_ip from the real peer (api-and-security §2.5; ADR 0311).
HTTP_OPTIONS: dict[str, Any] = {"lifespan": "on", "proxy_headers": False}


async def supervise(name: str, factory: Callable[[], Awaitable[None]], stop: asyncio.Event,
                    healthy_s: float = HEALTHY_RUN_S) -> None:
    """Restart a crashed role with capped exponential backoff until asked to stop. A run that lasted
    ``healthy_s`` was healthy: its crash restarts after 0.5 s again. (A relay or projector only returns when
    stopped, so the delay used to grow with every crash of the process's life: after six database failovers or
    NATS restarts, each took 30 s to be picked up; ADR 0511.)"""
    delay = 0.5
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        try:
            await _until_stopped(name, factory, stop)
            delay = 0.5
        except asyncio.CancelledError:
            raise
        except Exception:
            if loop.time() - started >= healthy_s:
                delay = 0.5
            log.exception("%s crashed; restarting in %.1fs", name, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 30.0)


async def _until_stopped(name: str, factory: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run one life of a role; once ``stop`` is set it gets ``ROLE_STOP_GRACE_S`` to return by itself, then it is
    cancelled. A role watches ``stop`` only between its own steps: one waiting for NATS or PostgreSQL that will
    not answer (a connect retried for ever to a server that is down) held SIGTERM for good (ADR 0515 addendum)."""
    life = asyncio.ensure_future(factory())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((life, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not life.done():
            done, _ = await asyncio.wait((life,), timeout=ROLE_STOP_GRACE_S)
            if not done:
                log.warning("%s did not stop within %gs of the stop (waiting on a service that does not answer);"
                            " cancelled", name, ROLE_STOP_GRACE_S)
                life.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await life
                return
        await life
    finally:
        stopping.cancel()
        if not life.done():  # supervise itself cancelled: the role goes with it
            life.cancel()


async def scheduler(container: Container, stop: asyncio.Event) -> None:
    """Breaker HALT timeout every 30 s; audit anchor + verification at start; the §7.1 cron jobs (ingest,
    reconcile, scan, execute, exits, hourly anchor, daily report) when this process leads; relayed venue
    events applied; marks for open positions every minute, with closing-line observations near a close and the
    CLV sweep after them (``PAULP_MARKS=false`` turns them off); the audit
    mirror written as the chain grows, beside it (ADR 0385)."""
    from paulp.api.audit_job import anchor_and_verify
    from paulp.api.audit_mirror_job import mirror_loop
    from paulp.api.clv_job import clv_sweep
    from paulp.api.market_jobs import refresh_open_marks
    from paulp.api.routing_jobs import routing_tick
    from paulp.api.scheduler import CronScheduler
    from paulp.api.webhook_jobs import process_inbox

    cron = CronScheduler(container, trading=container.settings.PAULP_SCHEDULE_TRADING)
    mirror = asyncio.create_task(supervise("audit-mirror", lambda: mirror_loop(container, stop), stop))
    try:  # a full walk of a long chain takes minutes (ADR 0506): a stop meanwhile does not wait for it (ADR 0515)
        if not await unless_stopped(stop, anchor_and_verify, container):
            log.info("start-up audit verification still running at the stop: left unfinished, nothing recorded"
                     " (the hourly anchor job verifies the chain)")
    except Exception:
        log.exception("audit anchor/verification failed")
    if not stop.is_set():
        try:
            await asyncio.to_thread(container.compliance.seed)  # §6.3 seed, insert-if-absent (ADR 0368)
        except Exception:  # the gate seeds (or blocks) at its first check anyway
            log.exception("compliance matrix seeding failed")
    next_marks = 0.0
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            try:
                await asyncio.to_thread(container.breaker.tick)
            except Exception:
                log.exception("breaker tick failed")
            try:
                await asyncio.to_thread(routing_tick, container)  # stale budget holds; nightly drift sweep
            except Exception:
                log.exception("routing tick failed")
            try:
                await asyncio.to_thread(cron.tick)
            except Exception:
                log.exception("cron tick failed")
            try:
                await asyncio.to_thread(process_inbox, container)  # relayed venue events (ADR 0261)
            except Exception:
                log.exception("webhook inbox processing failed")
            if container.settings.PAULP_MARKS and loop.time() >= next_marks:
                try:
                    await refresh_open_marks(container)
                except Exception:
                    log.exception("market marks refresh failed")
                try:  # closing lines and CLV of markets that closed, then the degradation check (ADRs 0419, 0420)
                    await asyncio.to_thread(clv_sweep, container)
                except Exception:
                    log.exception("closing-line sweep failed")
                next_marks = loop.time() + MARKS_S
            try:
                await asyncio.wait_for(stop.wait(), timeout=TICK_S)
            except TimeoutError:
                pass
    finally:
        cron.close()
        await asyncio.gather(mirror, return_exceptions=True)


async def unless_stopped(stop: asyncio.Event, fn: Callable[..., Any], *args: Any) -> bool:
    """``fn(*args)`` on a daemon thread of its own, awaited until it returns (True; its exception raised) or
    ``stop`` is set first (False): then it is left to end with the process. ``asyncio.to_thread`` would hold the
    stop: the loop is only awaited, and its executor's threads are joined when the loop closes."""
    done: Future[Any] = Future()
    done.set_running_or_notify_cancel()

    def run() -> None:
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # raised to the waiter; ignored once nobody waits
            done.set_exception(exc)

    threading.Thread(target=run, name=f"until-stop-{getattr(fn, '__name__', 'work')}", daemon=True).start()
    waited = asyncio.wrap_future(done)
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait((waited, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not waited.done():
        waited.cancel()  # its result, if it ever comes, is dropped (the loop may be closed by then)
        return False
    waited.result()
    return True


class WorkerSite(Protocol):
    """What the relay and the projectors read from their wiring (a Container has it all)."""

    settings: Settings
    database_url: str
    nats_url: str
    names: BusNames
    projections: dict[str, Projection]


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.PAULP_PROJECTOR_MAX_DELIVER, parse_backoff(settings.PAULP_PROJECTOR_BACKOFF_S))


@dataclass
class Workers:
    """Wiring of a process that only relays and projects (``paulp relay`` / ``paulp project``): no context
    application and no pool. A full Container opens an idle connection per context application (~24), which
    a worker never uses; three worker processes and a container used to take most of a default
    ``max_connections = 100`` while they restarted."""

    settings: Settings
    database_url: str
    nats_url: str
    names: BusNames
    projections: dict[str, Projection]

    def close(self) -> None:
        """Nothing to release: the relay and ``run_workers`` own (and close) their connections."""


def workers_wiring(settings: Settings, database_url: str, nats_url: str) -> Workers:
    migrate(database_url)
    return Workers(settings, database_url, nats_url, BusNames(settings.PAULP_NAMESPACE), all_projections())


async def run_workers(container: WorkerSite, stop: asyncio.Event, relay: bool = True,
                      projections: list[str] | None = None) -> None:
    """The relay and the projectors until ``stop``; the projectors share one lock connection and a pool of
    ``PAULP_PROJECTOR_CONNECTIONS`` (ADR 0507), closed after the last of them has stopped."""
    names = projections if projections is not None else list(container.projections)
    async with ProjectorConnections(container.database_url, container.settings.PAULP_PROJECTOR_CONNECTIONS) as db:
        tasks = []
        if relay:
            r = Relay(container.database_url, container.nats_url, container.names)
            tasks.append(asyncio.create_task(supervise("relay", lambda: r.run(stop), stop)))
        for name in names:
            p = Projector(container.database_url, container.nats_url, container.names, container.projections[name],
                          retry=retry_policy(container.settings), connections=db)
            tasks.append(asyncio.create_task(supervise(f"projector:{name}", lambda p=p: p.run(stop), stop)))  # type: ignore[misc]
        await stop.wait()
        db.stopping()
        await asyncio.gather(*tasks, return_exceptions=True)


def freeze_startup_heap(*, llm_clients: bool = True) -> int:
    """Keep what start-up built (modules, classes, the container's wiring, warm caches) out of every
    cyclic collection from now on; returns how many objects were frozen.

    It all lives as long as the process, yet each full collection walked it with every thread stopped:
    one such pause in bench.routing took 128-131 ms (≈ 240,000 objects) and set the p99 of 50 callers.
    Every long-running process calls this once wired, before it serves (ADR 0275, session 4). With
    ``llm_clients`` it also imports the LLM provider clients first: short CLI commands skip their ~5 s of SDK
    imports (built on the first attempt), but a server should pay it here, not inside its first governed
    call. The relay and projector workers never make one, so they start without them (ADR 0439)."""
    if llm_clients:
        importlib.import_module("paulp.adapters.llm.registry")
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class BindError(Exception):
    """Raised when the API's address cannot be bound: in use, not an address of this host, or privileged."""


def bind_http(host: str, port: int) -> socket.socket:
    """Bind the API's address before anything says where it is, so a taken port ends start-up with a message
    naming it instead of uvicorn's exit after the URL was printed. The socket is bound, not listening: a
    connect before the server serves is refused, never accepted and left waiting (ADR 0360)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a restart is not refused
        sock.bind((host, port))                                      # over the old process's TIME_WAIT sockets
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        sock.close()
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).removeprefix("bind(): ")
        raise BindError(f"cannot listen on {_host_port(host, port)}: {reason}") from None
    return sock


def http_url(host: str, sock: socket.socket) -> str:
    """The URL a client uses, with the port actually bound (``--port 0`` picks a free one)."""
    return f"http://{_host_port(host, sock.getsockname()[1])}"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Announcing(uvicorn.Server):
    """Uvicorn that calls ``announce`` once it serves: the lifespan has started and the socket listens, so a
    script that waits for the line and then connects is answered (ADR 0360)."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._announce()


STOPPING_BODY = json.dumps({
    "error": "Service stopping", "code": "shutting_down",
    "message": "The server was told to stop and this request was still running at its shutdown deadline"
               " (PAULP_SHUTDOWN_GRACE_S); what it recorded until then stands, and a job run it started is in"
               " /admin/orchestrator/runs"}, separators=(",", ":")).encode()


class StopCut:
    """The API as the HTTP server runs it: a request still running at the shutdown deadline, which uvicorn then
    cancels (``timeout_graceful_shutdown``), is answered ``503 shutting_down`` instead of ending in a
    CancelledError traceback in the log and a bare 500 (ADR 0515). Before the deadline existed, one slow client
    (a body sent a byte at a time) held ``paulp serve`` and ``paulp up`` from exiting for as long as it liked."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            if shutdown.received() is None:
                raise
            log.warning("%s %s still running at the shutdown deadline: %s", scope.get("method"), scope.get("path"),
                        "cut off mid-answer" if started else "answered 503 shutting_down")
            if not started:
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                        (b"content-length", str(len(STOPPING_BODY)).encode())]})
                await send({"type": "http.response.body", "body": STOPPING_BODY})


def http_server(container: Container, sock: socket.socket, announce: Callable[[], None],
                log_level: str = "info") -> uvicorn.Server:
    """Uvicorn for the container's API on ``sock``, stopped by the process's stop event (never by its own signal
    handlers): requests in flight get ``PAULP_SHUTDOWN_GRACE_S`` after the stop, then are answered 503."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(StopCut(create_app(container)), host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=math.ceil(container.settings.PAULP_SHUTDOWN_GRACE_S),
                            **HTTP_OPTIONS)
    return _OwnSignals(config, announce)


async def serve_http(container: Container, sock: socket.socket, announce: Callable[[], None], stop: asyncio.Event,
                     log_level: str = "info") -> None:
    """The API until ``stop`` (or until the server ends by itself, e.g. a failed start)."""
    server = http_server(container, sock, announce, log_level)
    freeze_startup_heap()
    web = asyncio.create_task(server.serve(sockets=[sock]))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait((web, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    server.should_exit = True
    await web


def serve_api(container: Container, sock: socket.socket, announce: Callable[[], None],
              log_level: str = "info") -> None:
    """Only the HTTP API on its own loop (uvloop and httptools when installed): the process shape
    bench/trades_query measures. Ctrl-C / SIGTERM stop it, as they stop ``paulp up`` (exit 0; it used to exit 143
    on SIGTERM, which uvicorn re-raised after its own stop); the caller closes the container."""
    from paulp.api.cli import run_loop

    async def main() -> None:
        stop = asyncio.Event()
        shutdown.on_loop(stop)
        await serve_http(container, sock, announce, stop, log_level)

    run_loop(main())


class _OwnSignals(_Announcing):
    """Uvicorn under a ``paulp`` role: the process's stop event owns SIGINT/SIGTERM (the role tells uvicorn to
    exit), so uvicorn must not swap in its own handlers and re-raise the signal after it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_all(container: Container, sock: socket.socket, announce: Callable[[], None],
                  stop: asyncio.Event) -> None:
    web = asyncio.create_task(serve_http(container, sock, announce, stop))
    workers = asyncio.create_task(run_workers(container, stop))
    ticks = asyncio.create_task(scheduler(container, stop))
    await stop.wait()
    await asyncio.gather(web, workers, ticks, return_exceptions=True)
