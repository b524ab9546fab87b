"""The JSON bodies declared in OpenAPI for hand-read routes match what their handlers read (ADR 0495): the
property names are exactly the keys the handler asks for, the required ones are exactly those whose absence it
refuses, and an optional body (``empty_is_object``) is declared ``required: false``. Each handler runs on its
declared example through a recording mapping, stopped where it would start work, so the test holds no second
list to drift."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import sys
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
import starlette.concurrency
from fastapi import FastAPI
from fastapi.routing import APIRoute

from paulp.api import routers
from paulp.api.errors import ApiError
from paulp.api.query_docs import HAND_READ
from paulp.domain.errors import DomainError
from paulp.domain.orchestration import JOBS

PATH_VALUES = {"phase": "1", "trigger": next(iter(JOBS))}  # path values the handlers accept before the body
TOKEN = "trigger-token"
# Routes that hand their fields to a service unchecked, which refuses them (ScoringRun.override: score, reason):
# the names are still compared, but a missing field is refused past the point where the test stops the handler.
CHECKED_IN_SERVICE = {"/admin/routing/scoring-runs/{run_id}/override"}


class Recorder(dict[str, Any]):
    """A body that remembers every key asked for."""

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


class Stopped(BaseException):  # not an Exception: handlers that catch Exception around their work let it through
    pass


async def _stop(*_args: Any, **_kwargs: Any) -> Any:
    raise Stopped


def _routes() -> list[APIRoute]:
    modules = [importlib.import_module(f"{routers.__name__}.{m.name}") for m in pkgutil.iter_modules(routers.__path__)]
    return [r for m in modules for r in m.router.routes if isinstance(r, APIRoute)]


def _reads_body(route: APIRoute) -> bool:
    return "json_object(" in inspect.getsource(route.endpoint)


def _declared(route: APIRoute) -> dict[str, Any]:
    request_body: dict[str, Any] = (route.openapi_extra or {}).get("requestBody", {})
    return request_body


def _run(route: APIRoute, body: dict[str, Any],
         monkeypatch: pytest.MonkeyPatch) -> tuple[Recorder, bool, dict[str, Any]]:
    """(the recording body, whether the handler refused it, json_object's keyword arguments)."""
    rec, kwargs = Recorder(body), {}

    async def json_object(_request: Any, **kw: Any) -> Recorder:
        kwargs.update(kw)
        return rec

    module = sys.modules[route.endpoint.__module__]
    monkeypatch.setattr(module, "json_object", json_object)
    monkeypatch.setattr(starlette.concurrency, "run_in_threadpool", _stop)  # a handler importing it locally
    if hasattr(module, "run_in_threadpool"):
        monkeypatch.setattr(module, "run_in_threadpool", _stop)
    container = MagicMock()
    container.settings.webhook_trigger_token.return_value = TOKEN
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(container=container)),
                              state=SimpleNamespace(actor=SimpleNamespace(name="op-carol")),
                              headers={"authorization": f"Bearer {TOKEN}"}, client=None, url=MagicMock())
    path = {p.name: PATH_VALUES.get(p.name, "x1") for p in route.dependant.path_params}
    try:
        asyncio.run(route.endpoint(**path, request=request))  # an info alert has no work to stop and returns
    except Stopped:
        pass
    except (ApiError, DomainError):
        return rec, True, kwargs
    return rec, False, kwargs


def test_every_route_reading_a_body_by_hand_declares_it() -> None:
    reading = {(r.path, m) for r in _routes() if _reads_body(r) for m in r.methods}
    declared = {(r.path, m) for r in _routes() if _declared(r).get(HAND_READ) for m in r.methods}
    assert len(reading) >= 20
    assert reading == declared


def test_declared_bodies_when_served_then_in_the_openapi_document() -> None:
    app = FastAPI()
    for route in _routes():
        app.router.routes.append(route)
    paths = app.openapi()["paths"]
    for route in _routes():
        if _declared(route):
            for method in route.methods:
                assert paths[route.path_format][method.lower()]["requestBody"] == _declared(route)


@pytest.mark.parametrize("route", [r for r in _routes() if _reads_body(r)], ids=lambda r: f"{r.methods} {r.path}")
def test_declared_body_when_handler_reads_it_then_same_names_and_required(route: APIRoute,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    declared = _declared(route)
    media = declared["content"]["application/json"]
    schema, example = media["schema"], media.get("example", {})
    properties, required = set(schema["properties"]), set(schema.get("required", ()))
    one_of = {name for branch in schema.get("oneOf", ()) for name in branch["required"]}

    rec, refused, kwargs = _run(route, example, monkeypatch)
    assert not refused, f"the declared example is refused: {example}"
    assert declared["required"] is not kwargs.get("empty_is_object", False)
    # one of a oneOf pair is read only when the other is absent: the example gives one
    assert rec.read | (one_of - set(example)) == properties
    assert required <= set(example)  # so every required field is dropped once below
    if route.path in CHECKED_IN_SERVICE:
        return
    for name in example:
        _, refused, _ = _run(route, {k: v for k, v in example.items() if k != name}, monkeypatch)
        assert refused is (name in required or name in one_of), name
