"""The JavaScript text rules the reference applies (String(number), /\\s/ and the i flag), against known outputs."""

from __future__ import annotations

import pytest

from paulp.domain.js_text import js_json_stringify, js_number_text, js_regex


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0"), (-0.0, "0"), (1.0, "1"), (-2.5, "-2.5"), (0.1 + 0.2, "0.30000000000000004"),
    (0.000001, "0.000001"), (0.0000015, "0.0000015"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (1e-5, "0.00001"),
    (123456789.125, "123456789.125"), (1e16, "10000000000000000"), (1.2345e20, "123450000000000000000"),
    (1e21, "1e+21"), (1.5e300, "1.5e+300"), (5e-324, "5e-324"),
])
def test_js_number_text_when_formatted_then_as_number_to_string(value: float, text: str) -> None:
    assert js_number_text(value) == text


def test_js_regex_when_whitespace_and_case_differ_from_python_then_javascript_wins() -> None:
    rx = js_regex(r"system\s+prompt")
    assert rx.search("SYSTEM\ufeff\u2028prompt")
    assert not rx.search("system\x85prompt") and not rx.search("system\x1cprompt")
    assert not rx.search("\u017fystem prompt")  # Python's IGNORECASE folds long s onto s; JavaScript without u does not


@pytest.mark.parametrize(("value", "text"), [
    ({"b": 1.0, "a": 1e-05}, '{"b":1,"a":0.00001}'),  # insertion order, JavaScript number text
    ({"z": 1, "10": 2, "2": 3, "01": 4}, '{"2":3,"10":2,"z":1,"01":4}'),  # array-index keys first, ascending
    ([1e21, 1e-7, 2**60, float("nan"), float("-inf")], "[1e+21,1e-7,1152921504606847000,null,null]"),
    ({"t": True, "f": False, "n": None, "l": [], "o": {}}, '{"t":true,"f":false,"n":null,"l":[],"o":{}}'),
    ("q\"\\\b\f\n\r\t\x01\x7f", '"q\\"\\\\\\b\\f\\n\\r\\t\\u0001\x7f"'),
    ("\ud800x\u2028é", '"\\ud800x\u2028é"'),  # lone surrogates escaped (well-formed stringify), U+2028 kept raw
])
def test_js_json_stringify_when_written_then_as_javascript_writes_it(value: object, text: str) -> None:
    assert js_json_stringify(value) == text
