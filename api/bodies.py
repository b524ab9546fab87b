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
    0359), or nested deeper than the decoder's recursion limit (RecursionError, ADR 0490: ``[[[[...`` was a 500)."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidJson from None


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
