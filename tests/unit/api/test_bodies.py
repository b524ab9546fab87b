"""Request bodies parse to what PostgreSQL can keep, or to a 400 (ADR 0498)."""

from __future__ import annotations

import pytest

from paulp.api.bodies import InvalidJson, parse_json


@pytest.mark.parametrize("raw", [
    b'{"reason": "\\udc00"}',            # a lone low surrogate
    b'{"reason": "ok \\ud83d"}',         # a high surrogate with nothing after it
    b'{"\\udfff": 1}',                   # in a key
    b'[1, {"a": ["\\uDC00"]}]',          # nested, upper-case hex
])
def test_parse_json_when_a_surrogate_is_unpaired_then_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        parse_json(raw)


@pytest.mark.parametrize(("raw", "value"), [
    (b'{"reason": "\\ud83d\\ude00"}', {"reason": "\U0001f600"}),  # a pair is one character
    (b'{"reason": "caf\\u00e9 \\\\udc00"}', {"reason": "caf\u00e9 \\udc00"}),  # an escaped backslash, no escape
    ('{"reason": "\U0001f600"}'.encode(), {"reason": "\U0001f600"}),
])
def test_parse_json_when_text_is_whole_then_parsed(raw: bytes, value: object) -> None:
    assert parse_json(raw) == value
