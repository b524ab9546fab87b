"""Shared by the llm-routing.json admin checkers: one request against the real app on a fresh database."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.testclient import TestClient

from paulp.api.app import create_app
from tests.conformance.checkers._sides import resolve_sides
from tests.support.runtime import fresh_container

TOKEN = "conformance-routing-token-0123456789abcdef"
DEFAULT_REQUEST = "GET /admin/routing/budget"
PEER = ("127.0.0.1", 50000)  # a loopback peer is a trusted proxy, so cf-connecting-ip carries the client IP


def parse_request(line: str) -> tuple[str, str]:
    method, _, path = line.strip().partition(" ")
    assert method.upper() in ("GET", "POST", "PUT", "PATCH", "DELETE") and path.startswith("/"), \
        f"uninterpretable request line {line!r}"
    return method.upper(), path.strip()


def send(config: dict[str, Any], request_line: str, headers: dict[str, str],
         body: Any = None) -> tuple[int, Any]:
    """Build a container with exactly ``config``, send one request, return (status, parsed JSON body)."""
    method, path = parse_request(request_line)
    container = fresh_container(config)
    try:
        client = TestClient(create_app(container), client=PEER, raise_server_exceptions=False)
        content = None if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        response = client.request(method, path, headers=headers, content=content)
        try:
            parsed = response.json()
        except ValueError:
            parsed = response.text
        return response.status_code, parsed
    finally:
        container.close()


def subset(expected: Any, actual: Any, where: str, tol: tuple[float, float] = (0.0, 0.0)) -> None:
    """Every expected key is present and matches; lists item by item; numbers within ``tol`` (rel, abs)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r:.300}"
        for key, value in resolve_sides(expected, "llm-routing.json", actual).items():
            assert key in actual, f"{where}.{key} missing from {actual!r:.300}"
            subset(value, actual[key], f"{where}.{key}", tol)
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), \
            f"{where}: expected {len(expected)} items, got {actual!r:.300}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            subset(e, a, f"{where}[{i}]", tol)
        return
    assert isinstance(expected, bool) == isinstance(actual, bool), f"{where}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, int | float) and not isinstance(expected, bool) and isinstance(actual, int | float):
        assert math.isclose(actual, expected, rel_tol=tol[0], abs_tol=tol[1]), \
            f"{where}: expected {expected!r}, got {actual!r} (tolerance {tol})"
        return
    assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"
