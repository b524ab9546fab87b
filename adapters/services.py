"""PostgreSQL and NATS for this process: a configured URL always wins, else embedded ones.

Production requires both URLs (design decision 8); elsewhere a missing URL starts the
embedded server from the project's wheels under the state folder, or reuses the one
another process already started there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg

from paulp.adapters.redact import mask_nats_url, mask_url
from paulp.adapters.services_embedded import EmbeddedNats, EmbeddedPostgres, state_lock

DATABASE_URL_VAR = "PAULP_DATABASE_URL"
NATS_URL_VAR = "PAULP_NATS_URL"
PRODUCTION = "production"

Source = Literal["env", "embedded"]
HealthCheck = Callable[[], Coroutine[Any, Any, "Health"]]


class ServiceConfigError(ValueError):
    """Raised when production lacks a service URL: production never starts embedded servers."""

    code = "SERVICE_CONFIG_MISSING"

    def __init__(self, variables: tuple[str, ...]) -> None:
        super().__init__(f"ENVIRONMENT=production requires {', '.join(variables)} to be set (non-empty)")
        self.variables = variables


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str
    elapsed_ms: float


@dataclass(frozen=True)
class ServiceDescription:
    """What `paulp doctor` shows for one service; the url is already masked."""

    name: str
    source: Source
    url: str
    started_here: bool
    startup_seconds: float | None
    health: HealthCheck = field(repr=False, compare=False)


def _scrub(text: str, url: str) -> str:
    secret = urlsplit(url).password if "://" in url else None
    return text.replace(secret, "***") if secret else text


async def postgres_health(url: str, timeout: float = 5.0) -> Health:
    """Run `SELECT 1`, and say how many of the server's connections are in use (a server that refuses them stops
    every role with "too many clients"; ADR 0507); report, never raise."""
    began = time.perf_counter()

    async def probe() -> tuple[bool, str]:
        conn = await psycopg.AsyncConnection.connect(url, connect_timeout=max(1, int(timeout)))
        async with conn:
            cur = await conn.execute("SELECT 1")
            row = await cur.fetchone()
            cur = await conn.execute("SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type ="
                                     " 'client backend'), current_setting('max_connections')::int")
            used = await cur.fetchone()
        detail = f"SELECT 1 returned {row!r}"
        return row == (1,), detail + (f"; connections {used[0]} of {used[1]} in use" if used else "")

    return await _report(probe, url, timeout, began)


async def nats_health(url: str, timeout: float = 5.0) -> Health:
    """Connect and read the JetStream account info; report, never raise."""
    began = time.perf_counter()

    errors: list[Exception] = []

    async def remember(exc: Exception) -> None:
        errors.append(exc)

    async def probe() -> tuple[bool, str]:
        import nats  # only a health check talks to NATS here: `paulp orders list` and the like never load it

        from paulp.adapters.bus import connect

        try:  # one attempt per server: nats-py otherwise retries a dead server until our timeout
            nc = await connect([u.strip() for u in url.split(",")], connect_timeout=timeout, allow_reconnect=False,
                               max_reconnect_attempts=1, reconnect_time_wait=0, error_cb=remember)
        except nats.errors.NoServersError as exc:
            cause = f"{type(errors[-1]).__name__}: {errors[-1]}" if errors else "no server answered"
            raise ConnectionError(cause) from exc
        try:
            info = await nc.jetstream().account_info()
        finally:
            await nc.close()
        return True, f"JetStream: {info.streams} streams, {info.storage} bytes stored"

    return await _report(probe, url, timeout, began)


async def _report(probe: Callable[[], Awaitable[tuple[bool, str]]], url: str, timeout: float,
                  began: float) -> Health:
    try:
        ok, detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        ok, detail = False, f"no answer within {timeout:g}s"
    except Exception as exc:  # a health check reports every failure instead of raising
        ok, detail = False, _scrub(f"{type(exc).__name__}: {exc}", url)
    return Health(ok, detail, (time.perf_counter() - began) * 1000)


class Services:
    """PostgreSQL and NATS URLs for this process; stops only the servers it started itself."""

    def __init__(self, database_url: str | None, nats_url: str | None, state_dir: Path,
                 start_timeout: float = 30.0, *, durable: bool = True) -> None:
        self.durable = durable  # False only for a throwaway cluster (the test suite's, ADR 0474)
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.start_timeout = start_timeout
        self._env = {"postgres": database_url, "nats": nats_url}
        self._embedded: dict[str, EmbeddedPostgres | EmbeddedNats] = {}
        self._started = False

    def start(self) -> Services:
        if self._started:
            return self
        missing = [name for name, url in self._env.items() if url is None]
        if missing:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            with state_lock(self.state_dir, self.start_timeout):
                try:
                    for name in missing:
                        server: EmbeddedPostgres | EmbeddedNats = (
                            EmbeddedPostgres(self.state_dir, self.start_timeout, durable=self.durable)
                            if name == "postgres" else EmbeddedNats(self.state_dir, self.start_timeout))
                        self._embedded[name] = server
                        server.start()
                except BaseException:
                    self._stop_embedded()
                    raise
        self._started = True
        return self

    def stop(self) -> None:
        if self._embedded:
            with state_lock(self.state_dir, self.start_timeout):
                self._stop_embedded()
        self._started = False

    def _stop_embedded(self) -> None:
        errors: list[Exception] = []
        for name in ("nats", "postgres"):  # one failing stop must not leave the other running
            server = self._embedded.pop(name, None)
            try:
                if server is not None:
                    server.stop()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Services:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def database_url(self) -> str:
        return self._url("postgres")

    @property
    def nats_url(self) -> str:
        return self._url("nats")

    def embedded(self, name: str) -> EmbeddedPostgres | EmbeddedNats | None:
        return self._embedded.get(name)

    def _url(self, name: str) -> str:
        if not self._started:
            raise RuntimeError("Services.start() has not been called")
        env_url = self._env[name]
        return env_url if env_url is not None else self._embedded[name].url

    def describe(self) -> tuple[ServiceDescription, ...]:
        checks = {"postgres": postgres_health, "nats": nats_health}
        masks = {"postgres": mask_url, "nats": mask_nats_url}
        out = []
        for name, check in checks.items():
            url, server = self._url(name), self._embedded.get(name)

            def health(check: Callable[[str], Coroutine[Any, Any, Health]] = check,
                       url: str = url) -> Coroutine[Any, Any, Health]:
                return check(url)

            out.append(ServiceDescription(
                name=name, source="embedded" if server else "env", url=masks[name](url),
                started_here=bool(server and server.started_here),
                startup_seconds=server.timings.get("start") if server else None, health=health))
        return tuple(out)


def _present(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


def resolve_services(database_url: str | None, nats_url: str | None, environment: str, state_dir: Path,
                     start_timeout: float = 30.0, *, durable: bool = True) -> Services:
    """Decide env vs embedded per service; fail before starting anything if production lacks a URL."""
    database_url, nats_url = _present(database_url), _present(nats_url)
    if environment.strip().lower() == PRODUCTION:
        if not durable:
            raise ValueError("a production server is never started without crash safety")
        missing = tuple(var for var, url in ((DATABASE_URL_VAR, database_url), (NATS_URL_VAR, nats_url))
                        if url is None)
        if missing:
            raise ServiceConfigError(missing)
    return Services(database_url, nats_url, state_dir, start_timeout, durable=durable)
