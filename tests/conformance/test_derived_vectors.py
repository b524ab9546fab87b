"""Derived cases of every pure group (kalshi signing, hash chain, evidence, llm-routing) through the harness.

``derived/trading.json`` is not run here: ``test_derived_trading_vectors.py`` runs each of its cases through the
same checker with the same context (ADR 0444); both modules ran all 2,515 of them until ADR 0491.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.derived_cases import collect

TRADING = "trading.json"  # test_derived_trading_vectors.py's file
CASES = collect(lambda file, group, case: group != "http_cases" and file != TRADING)


@pytest.mark.parametrize("chk,case,ctx", CASES)
def test_derived_case(chk: Any, case: Any, ctx: Any) -> None:
    chk.run(case, ctx)


def test_every_derived_case_outside_http_runs_in_this_module_or_the_trading_one() -> None:
    """Leaving trading.json out here drops no case: each one is a case of the trading module, same checker."""
    from tests.conformance import test_derived_trading_vectors as trading

    everything = collect(lambda file, group, case: group != "http_cases")
    here = {p.id for p in CASES}
    there = {p.id.replace("derived::", f"derived/{TRADING}::", 1): p.values for p in trading.CASES}
    rest = [p for p in everything if p.id not in here]
    assert rest and len(rest) == len(there) == len(trading.CASES)
    for p in rest:
        chk, case, ctx = there[p.id]
        assert (chk, case, ctx.file, ctx.group) == (p.values[0], p.values[1], TRADING, p.values[2].group), p.id
    assert trading.CASES[0].values[2].document == rest[0].values[2].document  # the same file, loaded twice
