"""Request inputs parsed once, the same way everywhere: malformed JSON is a 400, never a 500; a repeated
query parameter is read at its first value."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from paulp.api.errors import ApiError


def query_values(request: Request) -> dict[str, str]:
    """Each query parameter's first value, as the reference reads it (``URLSearchParams.get``, Hono's
    ``c.req.query``); Starlette's mapping would answer the last. ``?venue=kalshi&venue=bad`` reads kalshi
    (ADR 0346)."""
    values: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, value)
    return values


def parse_json(raw: bytes) -> Any:
    """``raw`` as JSON, or ``InvalidJson``: not UTF-8, not JSON, a number of over 4300 digits (ValueError, ADR
    0359), nested deeper than the decoder's recursion limit (RecursionError, ADR 0490: ``[[[[...`` was a 500), or
    holding an unpaired surrogate escape (ADR 0498)."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson from None
    if b"\\u" in raw and _lone_surrogate(value):
        raise InvalidJson  # I-JSON (RFC 7493 §2.1): no unpaired surrogate; no column could keep one (ADR 0498)
    return value


def _lone_surrogate(value: Any) -> bool:
    """Whether a decoded document holds a string (key or value) with an unpaired surrogate, which only a
    ``\\udXXX`` escape can produce: such text has no UTF-8 form, so a query given it failed as a 500."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):  # too deep to re-walk: refused too, never a 500
        return True
    return False


class InvalidJson(ValueError):
    pass


async def json_object(request: Request, empty_is_object: bool = False) -> dict[str, Any]:
    """The body as a JSON object; ``empty_is_object`` lets optional bodies be empty (spec §1.1)."""
    raw = await request.body()
    if not raw.strip():
        if empty_is_object:
            return {}
        raise ApiError(400, "Invalid JSON body", "invalid_json")
    try:
        body = parse_json(raw)
    except InvalidJson:
        raise ApiError(400, "Invalid JSON body", "invalid_json") from None
    if not isinstance(body, dict):  # well-formed JSON of the wrong shape is a schema violation (§1.1)
        raise ApiError(400, "Validation failed", "validation_error", fields=["body"])
    return body
