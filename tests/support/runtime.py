"""Real services for checkers that are not pytest fixtures: one resolution per process, a database per use."""

from __future__ import annotations

import atexit
import os
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from paulp.adapters.services import Services
from paulp.api.wiring import Container, build
from tests.support.settings import IsolatedSettings
from tests.support.suite_services import suite_services

_services: Services | None = None
_created: list[str] = []


def services() -> Services:
    global _services
    if _services is None:
        _services = suite_services()
        _services.start()
        atexit.register(_cleanup)
    return _services


def drop_created() -> None:
    """Drop the checkers' databases while the server is still up (``pytest_sessionfinish`` calls this, before
    ``pytest_unconfigure`` stops an embedded server that this module only reused)."""
    if _services is None or not _created:
        return
    with psycopg.connect(_services.database_url, autocommit=True) as conn:
        while _created:
            conn.execute(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)')


def _cleanup() -> None:
    if _services is None:
        return
    try:
        drop_created()
    except psycopg.OperationalError:
        pass  # the server went with the session that started it; its data folder goes with the test run
    _services.stop()


def new_database() -> str:
    svc = services()
    name = f"paulp_chk_{secrets.token_hex(5)}"
    template = os.environ.get("PAULP_TEST_TEMPLATE_DB")  # under pytest: a clone of the migrated template (ADR 0407)
    with psycopg.connect(svc.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    _created.append(name)
    parts = urlsplit(svc.database_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def fresh_container(config: dict[str, Any] | None = None) -> Container:
    """A container on a brand-new database with exactly ``config`` (everything else unset; ``ENVIRONMENT`` is
    ``test`` unless given). ``IsolatedSettings``: an ``ADMIN_ALLOWED_IPS`` or ``CF_ACCESS_*`` exported in the shell
    that runs the harness changed the verdicts of admin cases that never named it (ADR 0487)."""
    db = new_database()
    svc = services()
    settings = IsolatedSettings(PAULP_DATABASE_URL=db, PAULP_NATS_URL=svc.nats_url,
                                PAULP_NAMESPACE="c" + secrets.token_hex(4), **{"ENVIRONMENT": "test", **(config or {})})
    return build(settings, db, svc.nats_url)
