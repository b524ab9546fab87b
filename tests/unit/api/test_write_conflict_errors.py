"""The safety nets of ADR 0512: a lost optimistic-concurrency race that reaches the HTTP layer is a 409 ``conflict``
(retry-able), never a 500; one that reaches a ``paulp`` command is exit 1 with a ``conflict`` message, never a
traceback. Routers with their own status tables answer ``conflict`` with 409 too."""

from __future__ import annotations

import pytest
import typer
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from paulp.api.cli import services
from paulp.api.errors import install, status_for
from paulp.api.routers.compliance import STATUS_BY_CODE as COMPLIANCE_CODES
from paulp.api.routers.governance import STATUS_BY_CODE as GOVERNANCE_CODES
from paulp.api.routers.strategies import STATUS_BY_CODE as STRATEGY_CODES
from paulp.domain.services.base import WriteConflict

DUPLICATE = 'duplicate key value violates unique constraint "paulp_events_pkey"'


def _client() -> TestClient:
    app = FastAPI()
    install(app)

    @app.post("/raw")
    def raw() -> None:
        raise IntegrityError(DUPLICATE)

    @app.post("/retried")
    def retried() -> None:
        raise WriteConflict()

    return TestClient(app, raise_server_exceptions=False)


def test_http_when_a_store_conflict_escapes_a_command_then_409_conflict_without_internals():
    r = _client().post("/raw")
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["error"]) == ("conflict", "Conflicting write")
    assert "retry" in body["message"] and "paulp_events" not in r.text  # nothing of the store's message leaks


def test_http_when_retries_gave_up_then_409_conflict_with_its_message():
    r = _client().post("/retried")
    assert (r.status_code, r.json()["code"]) == (409, "conflict")
    assert "try again" in r.json()["error"]


@pytest.mark.parametrize("codes", [COMPLIANCE_CODES, GOVERNANCE_CODES, STRATEGY_CODES])
def test_routers_with_their_own_codes_when_conflict_then_409(codes: dict[str, int]):
    assert status_for("conflict", codes) == 409
    assert all(status_for(code, codes) == status for code, status in codes.items())  # their own codes unchanged
    assert status_for("something_else", codes) == 400


def test_cli_when_a_store_conflict_escapes_a_command_then_exit_1_conflict_message(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    # URLs given: nothing is started or connected to by the context itself
    for name, value in (("ENVIRONMENT", "test"), ("PAULP_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"),
                        ("PAULP_NATS_URL", "nats://127.0.0.1:1")):
        monkeypatch.setenv(name, value)
    for raised, shown in ((IntegrityError(DUPLICATE), "conflict: another writer changed the same record"),
                          (WriteConflict(), "conflict: another writer kept changing the same record")):
        with pytest.raises(typer.Exit) as exited, services():
            raise raised
        assert exited.value.exit_code == 1
        err = capsys.readouterr().err
        assert shown in err and "paulp_events" not in err, err
