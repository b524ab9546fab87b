"""The JavaScript rules the reference applies (String(number), /\\s/, the i flag, float sums) against known results."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from paulp.domain import governance, llm_regression
from paulp.domain.governance import ScoringOutput, SweepSample, nightly_stability_sweep
from paulp.domain.js_text import js_json_stringify, js_number_text, js_regex, js_sum
from paulp.domain.llm_regression import TestCategory, TestResult, compare, summarize


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


def compensated_sum(values: Iterable[float], start: float = 0) -> float:
    """The builtin ``sum`` of floats from Python 3.12 on: Neumaier's compensated summation."""
    total, compensation = float(start), 0.0
    for value in values:
        t = total + value
        compensation += (total - t) + value if abs(total) >= abs(value) else (value - t) + total
        total = t
    return total + compensation


SWEEP_AT = datetime(2026, 3, 15, 3, 0, tzinfo=UTC)
CONFIDENCES = [0.37, 0.7, 0.61, 0.72]  # decimal mean 0.6; added left to right the doubles fall short of it


def test_js_sum_when_floats_then_added_left_to_right_without_compensation() -> None:
    assert js_sum(CONFIDENCES) == 2.3999999999999995 and compensated_sum(CONFIDENCES) == 2.4
    assert js_sum([0.1] * 10) == 0.9999999999999999
    assert js_sum([]) == 0.0 and js_sum([1e16, 1.0, -1e16]) == 0.0


def test_sweep_mean_when_builtin_sum_compensates_then_still_the_sources_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    # ADR 0472: §7.1's mean with Python 3.12's sum was 0.6 here, so the sweep passed where the source fails it.
    monkeypatch.setattr(governance, "sum", compensated_sum, raising=False)
    report = nightly_stability_sweep([SweepSample(c, []) for c in CONFIDENCES], "1.0.0", SWEEP_AT)
    assert report.avg_confidence == 0.5999999999999999 and report.drift_warning
    assert list(report.sweep.failure_reasons) == ["Average confidence 0.600 below 0.600"]


def test_regression_mean_delta_when_builtin_sum_compensates_then_still_the_sources_sum(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # ADR 0472: §8.6 avgScoreDelta is a mean over the shared tests, added in the candidate's order.
    def result(i: int, score: float) -> TestResult:
        return TestResult(f"t{i}", TestCategory.STANDARD_RESOLUTION, (), ScoringOutput(score, "r", ["p"], 0.8, []))

    baseline = summarize([result(i, 0.0) for i in range(4)])
    candidate = summarize([result(i, c) for i, c in enumerate(CONFIDENCES)])
    monkeypatch.setattr(llm_regression, "sum", compensated_sum, raising=False)
    assert compare(candidate, baseline).avg_score_delta == 0.5999999999999999
