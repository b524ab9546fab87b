"""llm-routing.json :: admin_auth — §10.1 operator authentication in front of the /admin/routing endpoints.

Each case: Settings from the case's ``env`` only (plus service URLs), one request (default
``GET /admin/routing/budget``) from a loopback peer with the case's headers; the status and the error body
are checked, each when stated. A field this checker cannot interpret fails the case.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.checkers._routing_http import DEFAULT_REQUEST, send
from tests.conformance.checkers._sides import resolve_sides
from tests.conformance.registry import Context, checker

INPUT_KEYS = {"env", "headers", "request", "body"}
# relTolerance/absTolerance: the meta's conventions allow them on any case; an auth answer has no float to apply them to
EXPECTED_KEYS = {"status", "error", "message", "messageContains", "relTolerance", "absTolerance"}
ASSERTED = {"status", "error", "message", "messageContains"}


@checker("llm-routing.json", "admin_auth")
def check(case: dict[str, Any], ctx: Context) -> None:
    inp, exp = case.get("input", {}), resolve_sides(case.get("expected", {}), "llm-routing.json")
    assert not set(inp) - INPUT_KEYS, f"input fields this checker cannot interpret: {sorted(set(inp) - INPUT_KEYS)}"
    assert not set(exp) - EXPECTED_KEYS, f"expected fields it cannot interpret: {sorted(set(exp) - EXPECTED_KEYS)}"
    # Each stated fact is checked on its own (ADR 0488): a case may state the error body without the status.
    assert set(exp) & ASSERTED, f"case states nothing this checker can check (not interpretable): {sorted(exp)}"
    headers = {k.lower(): v for k, v in inp.get("headers", {}).items()}
    status, body = send(dict(inp.get("env", {})), inp.get("request", DEFAULT_REQUEST), headers, inp.get("body"))
    if "status" in exp:
        assert status == exp["status"], f"status {status} != {exp['status']}; body {body!r:.500}"
    if "error" in exp:
        assert isinstance(body, dict) and body.get("error") == exp["error"], f"error body {body!r:.300}"
    if "message" in exp:
        assert isinstance(body, dict) and body.get("message") == exp["message"], f"message in {body!r:.300}"
    if "messageContains" in exp:
        assert isinstance(body, dict) and exp["messageContains"] in str(body.get("message")), f"{body!r:.300}"
