"""Canonical JSON edge cases of api-and-security §4.7, written from the spec's wording (ADR 0446 audit)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from paulp.domain.canonical import NonCanonicalValue, canonical_json, canonical_json_of_parsed, loads_strict


def test_nested_keys_are_sorted_at_every_level_without_whitespace() -> None:
    value = {"b": 1, "a": {"d": None, "c": [3, {"z": 0, "y": []}]}}
    assert canonical_json(value) == '{"a":{"c":[3,{"y":[],"z":0}],"d":null},"b":1}'


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    text = canonical_json({"city": "Zürich", "note": "東京 😀"})
    assert text == '{"city":"Zürich","note":"東京 😀"}'
    assert (
        hashlib.sha256(text.encode("utf-8")).hexdigest()
        == hashlib.sha256('{"city":"Zürich","note":"東京 😀"}'.encode()).hexdigest()
    )


def test_null_and_a_missing_key_are_different_documents() -> None:
    assert canonical_json({"a": None}) == '{"a":null}'
    assert canonical_json({}) == "{}"
    assert canonical_json([]) == "[]"
    assert canonical_json("") == '""'


@pytest.mark.parametrize(
    "value,text",
    [(10**20, "100000000000000000000"), (-7, "-7"), (0.1, "0.1"), (1e-07, "1e-07"), (2.5, "2.5"), (True, "true")],
)
def test_integers_stay_integers_and_floats_take_their_shortest_round_trip_form(value: object, text: str) -> None:
    assert canonical_json(value) == text
    assert loads_strict(canonical_json(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        {"a": [float("nan")]},
        {1: "x"},
        {"at": datetime(2026, 11, 27, tzinfo=UTC)},
        [{1, 2}],
        {"usd": Decimal("1.5")},
    ],
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(NonCanonicalValue):
        canonical_json(value)


@pytest.mark.parametrize("text", ["NaN", '{"a":Infinity}', "[-Infinity]"])
def test_strict_reading_refuses_the_non_json_literals(text: str) -> None:
    with pytest.raises(ValueError):
        loads_strict(text)


@pytest.mark.parametrize("value", ["\ud800", {"k": "a\udfffb"}, {"\ud83d": 1}, ["ok", ["\udc00"]]])
def test_lone_surrogates_have_no_utf8_form_and_are_refused(value: object) -> None:
    """§4.7's canonical JSON is UTF-8 text; a lone surrogate (json.loads makes one from "\\ud800") has no UTF-8
    bytes, so it is refused as non-canonical instead of failing later when the text is hashed (ADR 0477)."""
    with pytest.raises(NonCanonicalValue):
        canonical_json(value)
    with pytest.raises(NonCanonicalValue):
        canonical_json_of_parsed(value)


def test_a_surrogate_pair_is_one_character_and_stays_canonical() -> None:
    value = json.loads('{"e":"\\ud83d\\ude00"}')
    assert canonical_json(value) == canonical_json_of_parsed(value) == '{"e":"😀"}'
