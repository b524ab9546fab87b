"""Provider bodies are read as strict JSON: Python's NaN/Infinity extensions are a parse error."""

from __future__ import annotations

import pytest

from paulp.adapters.llm.base import load_json_object
from paulp.domain.canonical import loads_strict
from paulp.domain.executor import ProviderParseError
from paulp.domain.routing import Provider


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_loads_strict_when_non_json_literal_then_value_error(literal: str) -> None:
    with pytest.raises(ValueError, match="not JSON"):
        loads_strict(f'{{"a":[1,{literal}]}}')


def test_loads_strict_when_plain_json_then_same_as_json() -> None:
    assert loads_strict(b'{"a":[1,2.5e3,"NaN"]}') == {"a": [1, 2500.0, "NaN"]}


def test_provider_body_when_nan_then_parse_error() -> None:
    with pytest.raises(ProviderParseError, match="not JSON"):
        load_json_object(Provider.MINIMAX, b'{"usage":{"prompt_tokens":NaN}}')
    assert load_json_object(Provider.MINIMAX, b'{"usage":{}}') == {"usage": {}}
