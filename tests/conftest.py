"""Real PostgreSQL and NATS for every integration test: a fresh database and namespace per test run.

Service URLs come from PAULP_DATABASE_URL / PAULP_NATS_URL when set; otherwise the project starts its
embedded servers under .paulp/test (the same path a fresh laptop takes).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from paulp.adapters.services import Services, resolve_services
from tests.support.settings import with_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    svc = resolve_services(
        os.environ.get("PAULP_DATABASE_URL"),
        os.environ.get("PAULP_NATS_URL"),
        "test",
        Path(os.environ.get("PAULP_STATE_DIR", str(ROOT / ".paulp" / "test"))),
    )
    svc.start()
    yield svc
    from tests.support import runtime  # checkers' own databases on this server: dropped while it runs

    runtime.drop_created()
    svc.stop()


@pytest.fixture(scope="session")
def run_id() -> str:
    return "t" + secrets.token_hex(4)


def create_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_db(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_db(services: Services, run_id: str) -> Iterator[str]:
    """A new empty database for one test (dropped afterwards)."""
    name = f"paulp_{run_id}_{secrets.token_hex(3)}"
    url = create_database(services.database_url, name)
    yield url
    drop_database(services.database_url, name)


@pytest.fixture
def namespace(run_id: str) -> Iterator[str]:
    ns = f"{run_id}_{secrets.token_hex(3)}"
    yield ns


@pytest.fixture
def nats_url(services: Services, namespace: str) -> Iterator[str]:
    yield services.nats_url
    asyncio.run(_delete_stream(services.nats_url, namespace.upper()))


async def _delete_stream(url: str, stream: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        await nc.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await nc.close()


@pytest.fixture(autouse=True, scope="module")
def _connection_budget(request: pytest.FixtureRequest) -> Iterator[None]:
    """Report modules that leave database connections open (leaks exhaust the server in long runs)."""
    yield
    url = os.environ.get("PAULP_DATABASE_URL")
    if not url or os.environ.get("PAULP_TRACE_CONNECTIONS") != "1":
        return
    with psycopg.connect(url, autocommit=True) as conn:
        n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'paulp_%'").fetchone()
    print(f"\n[connections after {request.module.__name__}: {n[0] if n else '?'}]")
