"""trading.json::price_semantics — normalisation, mechanics detection and cents/probability conversion."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from paulp.domain.prices import RawPrice, cents_to_prob, detect_mechanics, normalize_price, prob_to_cents
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker

TOL = 1e-6

_RAW_FIELDS = {
    "mechanics": "mechanics", "yesPrice": "yes_price", "noPrice": "no_price", "yesBid": "yes_bid",
    "yesAsk": "yes_ask", "noBid": "no_bid", "noAsk": "no_ask", "outcomePrices": "outcome_prices",
    "takerFeeBps": "taker_fee_bps", "voidProbability": "void_probability",
}
_RESULT_FIELDS = {
    "pYes": "p_yes", "pNo": "p_no", "pMid": "p_mid", "spread": "spread", "vig": "vig",
    "clvBasis": "clv_basis", "isValid": "is_valid", "warnings": "warnings",
}


def split(data: Any) -> Iterator[tuple[str, Any]]:
    """One case per list item, also inside nested sections (``conversions/prob_to_cents/003``)."""

    def walk(prefix: str, node: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield f"{prefix}/{i:03d}", {"section": prefix, "case": item}
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from walk(f"{prefix}/{key}" if prefix else key, value)
        else:
            yield prefix, {"section": prefix, "case": node}

    yield from walk("", data)


def _close(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool) or isinstance(expected, str) or expected is None:
        assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"
    elif isinstance(expected, int | float):
        assert math.isclose(actual, expected, abs_tol=TOL), f"{what}: expected {expected}, got {actual}"
    elif isinstance(expected, list):
        assert list(actual) == expected, f"{what}: expected {expected!r}, got {list(actual)!r}"
    else:
        raise AssertionError(f"{what}: cannot interpret expected value {expected!r}")


_NORMALIZE_KEYS = frozenset({"input", "expected", "name", "note", "source_behaviour"})


def _normalize(case: dict[str, Any]) -> None:
    stray = set(case) - _NORMALIZE_KEYS
    assert not stray, f"normalize case fields this checker cannot interpret: {sorted(stray)}"
    assert case["expected"], "normalize case with nothing expected"
    raw_in = case["input"]
    unknown = set(raw_in) - set(_RAW_FIELDS)
    assert not unknown, f"unknown input fields {unknown}"
    kwargs = {_RAW_FIELDS[k]: (tuple(v) if k == "outcomePrices" else v) for k, v in raw_in.items()}
    result = normalize_price(RawPrice(**kwargs))
    for key, expected in trading_expected(case["expected"]).items():
        assert key in _RESULT_FIELDS, f"unknown expected field {key!r}"
        actual = getattr(result, _RESULT_FIELDS[key])
        _close(str(actual) if key == "clvBasis" else actual, expected, key)


_DETECT_KEYS = frozenset({"venue", "hasOrderbook", "outcomeCount", "voidHistory", "expected", "name", "note"})


def _detect(case: dict[str, Any]) -> None:
    """§4.7 detection order. A fact the case leaves out is absent: no void history, no order book, a two-outcome
    market (only "> 2 outcomes" matters), no venue; a field the checker does not know fails the case."""
    unknown = set(case) - _DETECT_KEYS
    assert not unknown, f"detect_mechanics fields this checker cannot interpret: {sorted(unknown)}"
    got = detect_mechanics(case.get("venue") or "", bool(case.get("hasOrderbook", False)),
                           int(case.get("outcomeCount", 2)), bool(case.get("voidHistory", False)))
    assert got == case["expected"], f"expected {case['expected']}, got {got}"


def _cents_to_prob(case: dict[str, Any]) -> None:
    _close(cents_to_prob(case["cents"]), case["expected"], f"cents_to_prob({case['cents']})")


def _prob_to_cents(case: dict[str, Any]) -> None:
    got = prob_to_cents(case["prob"])
    assert got == case["expected"], f"prob_to_cents({case['prob']}): expected {case['expected']}, got {got}"


_SECTIONS = {
    "normalize": _normalize,
    "detect_mechanics": _detect,
    "conversions/cents_to_prob": _cents_to_prob,
    "conversions/prob_to_cents": _prob_to_cents,
}


@checker("trading.json", "price_semantics", split=split)
def check(case: Any, ctx: Context) -> None:
    section = case["section"]
    assert section in _SECTIONS, f"no interpreter for price_semantics section {section!r}"
    _SECTIONS[section](case["case"])
