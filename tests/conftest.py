"""Real PostgreSQL and NATS for every integration test: a fresh database and namespace per test run.

Service URLs come from PAULP_DATABASE_URL / PAULP_NATS_URL when set; otherwise the project starts its
embedded servers under .paulp/test (the same path a fresh laptop takes). The tests run in parallel
workers (pytest-xdist, ADR 0011): the first process, before any worker exists, resolves and starts the
services and exports their URLs, so every worker shares one server pair and none stops it under another.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
import pytest

from paulp.adapters.services import Services
from tests.support import hypothesis_scale  # noqa: F401  (loads the campaign profile, ADR 0492)
from tests.support.settings import with_db
from tests.support.suite_services import suite_services

URL_VARS = ("PAULP_DATABASE_URL", "PAULP_NATS_URL")
TEMPLATE_VAR = "PAULP_TEST_TEMPLATE_DB"  # set by the first process, read by every worker


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: the controller exported the URLs before it spawned us
        for var in ("COLUMNS", "LINES"):  # execnet sets 80x24; a console built at import would keep that width
            os.environ.pop(var, None)
        return
    # Hosts that set PYTHONDONTWRITEBYTECODE make every worker and every `paulp` subprocess of the tests compile
    # our modules again (~0.5 s CPU each; dependencies are compiled at install). The workers spawn after this.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    svc = _resolve()
    svc.start()
    config.stash[_STARTED] = svc
    for var, url in zip(URL_VARS, (svc.database_url, svc.nats_url), strict=True):
        os.environ[var] = url  # workers and the CLI subprocesses of the tests inherit the same servers
    os.environ[TEMPLATE_VAR] = _migrated_template(svc.database_url)


def pytest_unconfigure(config: pytest.Config) -> None:
    svc = config.stash.get(_STARTED, None)
    if svc is None:
        return
    from tests.support import runtime  # checkers' own databases on this server: dropped while it runs

    runtime.drop_created()
    template = os.environ.pop(TEMPLATE_VAR, None)
    if template:
        drop_database(svc.database_url, template)
    svc.stop()


def _migrated_template(admin_url: str) -> str:
    """One database with every migration applied, which each test database is cloned from: a clone takes
    ~0.09 s where an empty database plus the migrations took ~0.33 s, for every container a test builds."""
    from paulp.adapters.migrate import migrate

    name = f"paulp_tpl_{secrets.token_hex(4)}"
    migrate(create_database(admin_url, name, migrated=False))
    return name


def _resolve() -> Services:
    return suite_services()


_STARTED = pytest.StashKey[Services]()


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """The servers pytest_configure started or found (their URLs are in the environment by now)."""
    yield _resolve().start()  # what its tests cloned is dropped by pytest_sessionfinish, in every process


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Every process drops what it cloned, whether or not one of its tests asked for ``services``: the conformance
    cases clone through ``take_clone`` without the fixture, so a run of only those left its spare clones and its
    pending drops behind (2 databases a process with ``-n 0``, 35 with ``-n 2`` on the http_cases; ADR 0497)."""
    admin = os.environ.get(URL_VARS[0])
    if admin:
        _drop_leftovers(admin)


def _drop_leftovers(admin_url: str) -> None:
    from tests.support import runtime  # this process's checker databases, dropped before the server goes

    try:
        wait_for_drops(admin_url)
    finally:
        runtime.drop_created()


@pytest.fixture(scope="session")
def run_id() -> str:
    return "t" + secrets.token_hex(4)


def create_database(admin_url: str, name: str, *, migrated: bool = True) -> str:
    """A new database, migrated (cloned from the session's template) unless ``migrated`` is False."""
    template = os.environ.get(TEMPLATE_VAR) if migrated else None
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return with_db(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_DROPPER = ThreadPoolExecutor(max_workers=3, thread_name_prefix="drop-test-db")
_DROPPING: list[Future[None]] = []


def drop_database_later(admin_url: str, name: str) -> None:
    """Drop a test's database behind the next tests. DROP DATABASE waits for a forced checkpoint (PostgreSQL 15),
    0.1-2 s, which every test's teardown waited for; a few drops at once share one checkpoint (ADR 0407). The
    session waits for all of them (``wait_for_drops``)."""
    _DROPPING.append(_DROPPER.submit(drop_database, admin_url, name))


_CLONER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clone-test-db")
_SPARES: list[Future[tuple[str, str]]] = []
SPARE_CLONES = 2


def _clone(admin_url: str, run_id: str) -> tuple[str, str]:
    name = f"paulp_{run_id}_{secrets.token_hex(3)}"
    return name, create_database(admin_url, name)


def take_clone(admin_url: str, run_id: str) -> tuple[str, str]:
    """(name, url) of a new database cloned from the migrated template. Clones are made ahead, behind the running
    test (0.1-0.7 s each), so a test's setup rarely waits for one; every clone is identical (ADR 0407)."""
    while len(_SPARES) < SPARE_CLONES + 1:
        _SPARES.append(_CLONER.submit(_clone, admin_url, run_id))
    return _SPARES.pop(0).result()


def wait_for_drops(admin_url: str) -> None:
    """Every database handed to drop_database_later is dropped, and the spare clones too; a drop that failed
    fails the session here."""
    spares, _SPARES[:] = list(_SPARES), []
    for spare in spares:
        try:
            drop_database_later(admin_url, spare.result()[0])
        except psycopg.Error:
            pass  # a clone that was never made leaves nothing to drop
    done, _DROPPING[:] = list(_DROPPING), []
    failed = [str(exc) for exc in (f.exception() for f in done) if exc is not None]
    assert not failed, f"test databases not dropped: {failed}"


@pytest.fixture
def fresh_db(services: Services, run_id: str) -> Iterator[str]:
    """A new database for one test with every migration applied (dropped afterwards, in the background)."""
    name, url = take_clone(services.database_url, run_id)
    yield url
    drop_database_later(services.database_url, name)


@pytest.fixture
def empty_db(services: Services, run_id: str) -> Iterator[str]:
    """A new database without any migration (for tests of the migrations themselves)."""
    name = f"paulp_{run_id}_{secrets.token_hex(3)}"
    url = create_database(services.database_url, name, migrated=False)
    yield url
    drop_database_later(services.database_url, name)


@pytest.fixture(scope="module")
def module_db(services: Services, run_id: str) -> Iterator[str]:
    """One migrated database for a whole module, for tests that only read what a module fixture stored
    (a module whose tests write uses ``fresh_db`` for those tests; ADR 0439)."""
    name, url = take_clone(services.database_url, run_id)
    yield url
    drop_database_later(services.database_url, name)


@pytest.fixture(scope="module")
def module_ns(run_id: str) -> str:
    return f"{run_id}_{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def module_nats(services: Services, module_ns: str) -> Iterator[str]:
    """The NATS URL for ``module_ns``; its stream is deleted after the module, as ``nats_url`` does per test."""
    yield services.nats_url
    asyncio.run(_delete_stream(services.nats_url, module_ns.upper()))


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
