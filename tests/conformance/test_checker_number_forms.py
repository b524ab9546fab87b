"""A vector generator may write an integer-valued number as ``10.0``, or ``10.0`` as ``10``: JSON has one number
type, and the reference (JavaScript) reads both as the same value. Every case of the pure groups, sample and derived,
is run with the whole file rewritten each way and must keep its verdict (ADR 0486). The cases listed in ``LEGIT``
are the ones where the spec makes the written form the point (canonical JSON's "integers as integers"; a signed
message that concatenates a JSON number's text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"
# Served over HTTP or from a database (minutes per pass): probed by tests/conformance/probes/served_forms.py
# (ADR 0488); test_served_number_forms.py runs a few of their rewritten cases on every run.
SLOW_GROUPS = {"http_cases", "admin_trades", "admin_routing", "admin_auth"}
# api §4.7: canonical JSON writes "integers as integers, floats in shortest round-trip form", so 1 and 1.0 hash
# differently; kalshi composition/032 signs the text of a JSON-number timestamp.
LEGIT = ("derived/api.json::evidence::canonical_json/", "derived/api.json::kalshi_signing::composition/032-")


def _floats(value: Any) -> Any:
    """Every integer (not bool) as a float: 10 -> 10.0."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _ints(value: Any) -> Any:
    """Every float with an exact integer value below 2**53 as an int: 10.0 -> 10. Above it a Python int is no
    longer the double the reference reads (1e21 would print as 21 digits, not "1e+21")."""
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 else value


def _groups() -> list[Any]:
    """One item per (form, file, group): the group's cases run in one test, so twelve thousand mutated cases do
    not each pay pytest's per-item cost; a failure names every case that changed its verdict."""
    params = []
    for folder, tag in ((vectors_dir(), "sample"), (DERIVED, "derived")):
        for path in sorted(folder.glob("*.json")):
            plain = load_groups(path)
            for form, rewrite in (("floats", _floats), ("ints", _ints)):
                groups = {g: rewrite(d) for g, d in plain.items()}
                for group, data in groups.items():
                    chk = CHECKERS.get((path.name, group))
                    if chk is None or group in SLOW_GROUPS:
                        continue
                    ctx = Context(path.name, group, groups)
                    cases = [(f"{tag}/{path.name}::{group}::{case_id}", case) for case_id, case in chk.split(data)]
                    cases = [(ident, case) for ident, case in cases if not ident.startswith(LEGIT)]
                    if cases:
                        params.append(pytest.param(chk, cases, ctx, id=f"{form}:{tag}/{path.name}::{group}"))
    return params


@pytest.mark.parametrize("chk,cases,ctx", _groups())
def test_checker_when_numbers_are_written_in_the_other_form_then_the_same_verdict(chk: Any, cases: list[Any],
                                                                                  ctx: Context) -> None:
    failed = []
    for ident, case in cases:
        try:
            chk.run(case, ctx)
        except AssertionError as e:
            failed.append(f"{ident}: {str(e)[:300]}")
    assert not failed, f"{len(failed)} of {len(cases)} cases changed verdict:\n" + "\n".join(failed[:20])


@pytest.mark.parametrize("value", [100.5, "100", True])
def test_llm_token_count_when_not_an_integer_value_then_still_refused(value: Any) -> None:
    chk = CHECKERS[("llm-routing.json", "route_resolution")]
    document = load_groups(vectors_dir() / "llm-routing.json")
    case = next(c for _, c in chk.split(document["route_resolution"]) if "estimatedInputTokens" in c["input"])
    ctx = Context("llm-routing.json", "route_resolution", document)
    with pytest.raises(AssertionError, match="must be int"):
        chk.run({**case, "input": {**case["input"], "estimatedInputTokens": value}}, ctx)


def test_clv_points_when_fractional_then_still_refused() -> None:
    chk = CHECKERS[("trading.json", "clv")]
    document = load_groups(vectors_dir() / "trading.json")
    case = next(c for _, c in chk.split(document["clv"]) if "expected_points" in str(c))
    ctx = Context("trading.json", "clv", document)
    target = case["case"] if isinstance(case, dict) and "case" in case else case[1]
    bad = {**target, "expected_points": target["expected_points"] + 0.5}
    wrapped = {**case, "case": bad} if isinstance(case, dict) else (case[0], bad, *case[2:])
    with pytest.raises(AssertionError, match="integer"):
        chk.run(wrapped, ctx)
