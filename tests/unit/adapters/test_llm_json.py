"""Provider bodies are read as strict JSON: Python's NaN/Infinity extensions are a parse error."""

from __future__ import annotations

import pytest

from paulp.adapters.llm.base import load_json_object, token_count
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


@pytest.mark.parametrize(("value", "count"), [(12, 12), (12.0, 12), (0.0, 0)])
def test_token_count_when_json_number_has_an_integer_value_then_that_int(value: object, count: int) -> None:
    # JSON has one number type: a body writing 12.0 tokens means 12 (the reference's JSON.parse reads both alike)
    got = token_count(Provider.ANTHROPIC, {"input_tokens": value}, "input_tokens")
    assert got == count and type(got) is int


@pytest.mark.parametrize("value", [12.5, -1, -1.0, "12", True, None, float("inf")])
def test_token_count_when_not_a_non_negative_integer_value_then_parse_error(value: object) -> None:
    with pytest.raises(ProviderParseError):
        token_count(Provider.ANTHROPIC, {"input_tokens": value}, "input_tokens")
