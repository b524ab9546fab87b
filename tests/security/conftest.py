"""One database per security test module (auth tests read state; tests that write use ``fresh_db``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from paulp.adapters.services import Services
from tests.conftest import create_database, drop_database_later


@pytest.fixture(scope="module")
def module_db(services: Services, run_id: str) -> Iterator[str]:
    name = f"paulp_{run_id}_{secrets.token_hex(3)}"
    url = create_database(services.database_url, name)
    yield url
    drop_database_later(services.database_url, name)


@pytest.fixture(scope="module")
def module_ns(run_id: str) -> str:
    return f"{run_id}_{secrets.token_hex(3)}"
