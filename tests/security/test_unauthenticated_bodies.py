"""Credentials are checked before a request body is read (an unauthenticated caller cannot make us buffer it).

Driven through the real app as plain ASGI so the test sees whether ``receive`` was ever called for the body.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from paulp.api.app import create_app
from paulp.api.wiring import build
from tests.support.settings import IsolatedSettings

pytestmark = pytest.mark.integration

SECRET = "relay-secret-for-body-tests-0123456789abcdef"
TRIGGER = "trigger-token-for-body-tests-0123456789abcd"


@pytest.fixture
def app(module_db: str, nats_url: str, module_ns: str, tmp_path: Any) -> Iterator[Any]:
    settings = IsolatedSettings(ENVIRONMENT="test", PAULP_DATABASE_URL=module_db, PAULP_NATS_URL=nats_url,
                                PAULP_NAMESPACE=module_ns, KALSHI_WEBHOOK_SECRET=SECRET, WEBHOOK_TRIGGER_TOKEN=TRIGGER,
                                PAULP_EVIDENCE_DIR=tmp_path)
    container = build(settings, module_db, nats_url)
    yield create_app(container)
    container.close()


def _call(app: Any, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], int]:
    """(status, body, how many times the app asked for the request body)."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b'{"event_type":"x"}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8787)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), reads


@pytest.mark.parametrize("path,headers", [
    ("/webhooks/kalshi/events", {}),
    ("/webhooks/kalshi/events", {"x-kalshi-webhook-secret": "wrong"}),
    ("/webhooks/alert", {"authorization": "Bearer wrong"}),
    ("/webhooks/trigger/ingest", {}),
    ("/admin/circuit-breaker/transition", {}),
])
def test_unauthenticated_post_when_refused_then_body_never_read(app: Any, path: str,
                                                                headers: dict[str, str]) -> None:
    status, body, reads = _call(app, path, {"content-type": "application/json", **headers})
    assert status == 401, body
    assert reads == 0


def test_relay_when_secret_matches_then_body_read_and_handled(app: Any) -> None:
    status, body, reads = _call(app, "/webhooks/kalshi/events", {"x-kalshi-webhook-secret": SECRET})
    assert (status, body) == (200, {"received": True, "ignored": True})
    assert reads >= 1
