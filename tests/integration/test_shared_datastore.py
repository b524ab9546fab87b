"""The context applications of one Container share one datastore (ADR 0352), on real PostgreSQL: one pool,
released by the last application to close, and separate containers never share."""

from __future__ import annotations

import psycopg
import pytest

from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.eventstore.shared import SHARED_KEY, shared_users
from paulp.domain.services.breaker import BreakerService
from tests.integration.helpers import make_container

pytestmark = pytest.mark.integration
CONTEXTS = ("breaker", "execution", "orders", "golive", "routing", "markets", "orchestrator", "strategies",
            "reviews", "gates", "verification", "fair_values", "correlations")


def _backends(admin_url: str, db_url: str) -> int:
    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


def test_container_when_wired_then_contexts_share_one_datastore_and_the_last_close_closes_it(
        fresh_db, nats_url, namespace, services):
    # Arrange
    container = make_container(fresh_db, nats_url, namespace)
    other = make_container(fresh_db, nats_url, namespace + "x")
    stores = {id(getattr(container, c).factory.datastore) for c in CONTEXTS}
    key = container.breaker.factory.env.get(SHARED_KEY)
    # Act: every context writes or reads once
    container.breaker.raise_alert("PROBE", "warning", "one write through the shared pool")
    for c in CONTEXTS:
        getattr(container, c).recorder.max_notification_id()
    users_before = shared_users(key)
    in_use = _backends(services.database_url, fresh_db)
    container.breaker.close()
    container.breaker.close()  # a second close (as Application.__del__ does) releases nothing more
    users_after_one = shared_users(key)
    container.close()
    other.close()
    # Assert
    assert len(stores) == 1 and key
    assert other.breaker.factory.datastore is not container.breaker.factory.datastore
    assert users_before >= len(CONTEXTS) and users_after_one == users_before - 1
    assert shared_users(key) == 0 and container.orders.factory.datastore.pool.closed
    # two containers: each its view pool's one connection and the few its shared pool used (a pool per
    # context held one connection per context after reading the composite types: 26 and more)
    assert in_use <= 6, in_use


def test_application_when_built_without_a_key_then_it_keeps_its_own_datastore(fresh_db):
    env = application_env(fresh_db)
    first, second = BreakerService(env, None), BreakerService(env, None)  # type: ignore[arg-type]
    try:
        assert first.factory.datastore is not second.factory.datastore
        first.close()
        assert first.factory.datastore.pool.closed and not second.factory.datastore.pool.closed
        second.recorder.max_notification_id()  # its own pool still serves it
    finally:
        second.close()
