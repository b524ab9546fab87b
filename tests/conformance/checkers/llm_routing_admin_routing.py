"""llm-routing.json :: admin_routing — the /admin/routing endpoints through the real app (§10.2).

The reference has no routing handlers (404); the spec recommends implementing them, which Paul P does,
so a case's ``recommended*`` expectation is what is asserted and its ``reference*`` fields are read as
documentation of the source (ADR 0272). A field this checker cannot interpret fails the case.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.checkers._routing_http import DEFAULT_REQUEST, TOKEN, send, subset
from tests.conformance.registry import Context, checker

INPUT_KEYS = {"request", "authenticated", "headers", "body", "env"}
EXPECTED_KEYS = {"referenceStatus", "referenceBody", "recommendedStatus", "recommendedTopLevelKeys",
                 "recommendedBody", "status", "topLevelKeys", "body", "relTolerance", "absTolerance"}


def _tolerances(exp: dict[str, Any]) -> tuple[float, float]:
    """The case's relTolerance/absTolerance (the meta note: they apply to all floats); exact when none is given."""
    rel, ab = exp.get("relTolerance"), exp.get("absTolerance")
    return float(rel or 0.0), float(ab or 0.0)


@checker("llm-routing.json", "admin_routing")
def check(case: dict[str, Any], ctx: Context) -> None:
    inp, exp = case.get("input", {}), case.get("expected", {})
    assert not set(inp) - INPUT_KEYS, f"input fields this checker cannot interpret: {sorted(set(inp) - INPUT_KEYS)}"
    assert not set(exp) - EXPECTED_KEYS, f"expected fields it cannot interpret: {sorted(set(exp) - EXPECTED_KEYS)}"
    status = exp.get("recommendedStatus", exp.get("status"))
    keys = exp.get("recommendedTopLevelKeys", exp.get("topLevelKeys"))
    body_exp = exp.get("recommendedBody", exp.get("body"))
    # Each stated fact is checked on its own (ADR 0488); reference* facts alone describe the source, not Paul P.
    assert (status, keys, body_exp) != (None, None, None), \
        f"case states nothing this implementation should answer (not interpretable): {sorted(exp)}"
    config = dict(inp.get("env", {}))
    headers = {k.lower(): v for k, v in inp.get("headers", {}).items()}
    if inp.get("authenticated"):
        config.setdefault("ADMIN_TOKEN", TOKEN)
        headers.setdefault("authorization", f"Bearer {config['ADMIN_TOKEN']}")
    got_status, body = send(config, inp.get("request", DEFAULT_REQUEST), headers, inp.get("body"))
    if status is not None:
        assert got_status == status, f"status {got_status} != {status}; body {body!r:.500}"
    if keys is not None:
        assert isinstance(body, dict), f"body is not an object: {body!r:.300}"
        missing = [k for k in keys if k not in body]
        assert not missing, f"top-level keys missing: {missing}; body keys {sorted(body)}"
        if got_status < 300:
            assert set(body) == set(keys), f"top-level keys {sorted(body)} != {sorted(keys)}"
    if body_exp is not None:
        subset(body_exp, body, "body", _tolerances(exp))
