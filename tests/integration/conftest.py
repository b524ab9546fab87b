"""Fixtures shared by the integration modules: the loopback Kalshi exchange with its signing key, and the
loopback LLM providers and NOAA CDO (started once per module, reset before each test)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.routing import Provider
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.fakes.llm_servers import FakeLlmServer
from tests.fakes.noaa_cdo import FakeNoaaCdo
from tests.integration.helpers import NOAA_TOKEN, NOW, make_container
from tests.integration.kalshi_system import KEY_ID, System, _system
from tests.integration.routing_support import provider_fakes


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def exchange(key: rsa.RSAPrivateKey) -> Iterator[FakeKalshiExchange]:
    with FakeKalshiExchange(key.public_key(), KEY_ID) as fake:
        yield fake


@pytest.fixture
def system(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange, key: rsa.RSAPrivateKey,
           tmp_path: Any) -> Iterator[System]:
    """The app wired to the loopback Kalshi exchange with credentials (a module may define its own)."""
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path)


@pytest.fixture
def uncredentialed(fresh_db: str, nats_url: str, namespace: str, exchange: FakeKalshiExchange,
                   key: rsa.RSAPrivateKey, tmp_path: Any) -> Iterator[System]:
    """The same system with no Kalshi credentials configured."""
    yield from _system(fresh_db, nats_url, namespace, exchange, key, tmp_path, credentials=False)


@pytest.fixture
def clocked(fresh_db: str, nats_url: str, namespace: str) -> Iterator[tuple[Container, FixedClock]]:
    """A container on a clock the test moves (starting at ``NOW``), without the Kalshi fake."""
    clock = FixedClock(NOW)
    container = make_container(fresh_db, nats_url, namespace, clock=clock)
    yield container, clock
    container.close()


@pytest.fixture(scope="module")
def fakes_module() -> Iterator[dict[Provider, FakeLlmServer]]:
    with provider_fakes() as servers:
        yield servers


@pytest.fixture
def fakes(fakes_module: dict[Provider, FakeLlmServer]) -> dict[Provider, FakeLlmServer]:
    for server in fakes_module.values():
        server.reset()
    return fakes_module



@pytest.fixture(scope="module")
def noaa_module() -> Iterator[FakeNoaaCdo]:
    with FakeNoaaCdo(NOAA_TOKEN) as fake:
        yield fake


@pytest.fixture
def noaa(noaa_module: FakeNoaaCdo) -> FakeNoaaCdo:
    noaa_module.reset()
    return noaa_module
