"""The chained recorder still keeps the library's recorder contract, on real PostgreSQL (style habit 8)."""

from __future__ import annotations

import pytest
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase, NonInterleavingNotificationIDsBaseCase

from paulp.adapters.eventstore.recorder import ChainedApplicationRecorder
from paulp.adapters.migrate import migrate
from paulp.api.wiring import application_env

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _database(request, fresh_db):
    migrate(fresh_db)
    request.instance.db_url = fresh_db


class _Recorder:
    db_url: str

    def create_recorder(self) -> ChainedApplicationRecorder:
        env = application_env(self.db_url)
        self.datastore = PostgresDatastore(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
        )
        return ChainedApplicationRecorder(self.datastore)

    def tearDown(self) -> None:
        if getattr(self, "datastore", None) is not None:
            self.datastore.close()


class TestChainedRecorderContract(_Recorder, ApplicationRecorderTestCase):  # type: ignore[misc]
    def test_performance(self) -> None:
        """The library's timing printout is a benchmark, not a test: measured in bench/spine.py instead."""

    def test_concurrent_throughput(self) -> None:
        """Same: a throughput printout with no assertion; bench/spine.py reports our figures."""


class TestChainedRecorderNonInterleaving(_Recorder, NonInterleavingNotificationIDsBaseCase):  # type: ignore[misc]
    insert_num = 200
