"""trading.json::kelly: raw Kelly, coefficient of variation, single sizing and batch sizing (§4.1)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from paulp.domain.sizing import (
    DEFAULT_CV,
    Opportunity,
    kelly_batch,
    kelly_size,
    raw_kelly,
    sizing_cv,
)
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.registry import Context, checker, split_sections

TOL = 1e-6
SIZING_FIELDS = {
    "kellyFraction": "kelly_fraction",
    "adjustedFraction": "adjusted_fraction",
    "positionSize": "position_size",
    "expectedEdge": "expected_edge",
    "hasEdge": "has_edge",
    "confidenceAdjustment": "confidence_adjustment",
}
# "20 identical opportunities opp0..opp19 with fairProbability 0.7, marketPrice 0.5, side YES", and the same
# facts worded otherwise (any order, "=", ":", "fair probability", "opp0...opp19", "opp0 to opp19", 70%).
_NUM = r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*%?)"
_HEAD = re.compile(
    r"^\s*(\d+|[A-Za-z]+)\s+(?:identical\s+|equal\s+|same\s+)?(?:opportunities|opportunity|opps?)\b", re.IGNORECASE
)
_IDS = re.compile(
    r"(?:ids?\s*[:=]?\s*)?([A-Za-z_-]*?)(\d+)\s*(?:\.{2,3}|\u2026|-|\u2013|\bto\b|through)\s*\1?(\d+)", re.IGNORECASE
)
_FACTS = {
    "fair": re.compile(rf"fair[\s_-]*prob(?:ability)?\s*(?:[:=]|of|is)?\s*{_NUM}", re.IGNORECASE),
    "price": re.compile(rf"market[\s_-]*price\s*(?:[:=]|of|is)?\s*{_NUM}", re.IGNORECASE),
    "side": re.compile(r"\bside\s*(?:[:=]|is)?\s*(yes|no)\b|\b(YES|NO)\b(?:\s+side)?", re.IGNORECASE),
}
_FILLER = re.compile(r"(?:\b(?:with|each|all|and|ids?|named|at|on|the|of|every|one)\b|[\s,;:()\[\].])*", re.IGNORECASE)
_COUNT_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10, "twenty": 20, "fifty": 50}


def _probability(text: str) -> float:
    text = text.strip()
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


def identical_opportunities(spec: str, expected_ids: list[str] | None = None) -> list[Opportunity]:
    """N identical opportunities from a description; without an id range the ids are the expected ones."""
    head = _HEAD.match(spec)
    assert head, f"cannot read an opportunity count from {spec!r}"
    word = head.group(1).lower()
    assert word.isdigit() or word in _COUNT_WORDS, f"cannot read an opportunity count from {spec!r}"
    count = int(word) if word.isdigit() else _COUNT_WORDS[word]
    rest = spec[head.end() :]
    found: dict[str, str] = {}
    for name, pattern in _FACTS.items():
        m = pattern.search(rest)
        assert m, f"cannot read {name} from opportunities description {spec!r}"
        found[name] = next(g for g in m.groups() if g)
        rest = rest[: m.start()] + " " + rest[m.end() :]
    ids_match = _IDS.search(rest)
    if ids_match:
        prefix, first, last = ids_match.groups()
        ids = [f"{prefix}{i}" for i in range(int(first), int(last) + 1)]
        rest = rest[: ids_match.start()] + " " + rest[ids_match.end() :]
    else:
        assert expected_ids is not None and len(expected_ids) <= count, f"no id range in {spec!r}"
        ids = list(expected_ids) + [f"unnamed-{i}" for i in range(len(expected_ids), count)]
    assert _FILLER.fullmatch(rest), f"cannot interpret {rest.strip()!r} in opportunities description {spec!r}"
    assert len(ids) == count, f"{spec!r}: id range does not match the count"
    return [
        Opportunity(i, _probability(found["fair"]), _probability(found["price"]), found["side"].upper()) for i in ids
    ]


def split(data: Any) -> Iterator[tuple[str, Any]]:
    return split_sections(data)


def _close(got: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool):
        assert got is expected, f"{what}: got {got!r}, expected {expected!r}"
    else:
        assert math.isclose(got, expected, rel_tol=TOL, abs_tol=TOL), f"{what}: got {got!r}, expected {expected!r}"


_LABELS = frozenset({"name", "note", "description"})
_RAW_KEYS = _LABELS | {"fairProbability", "marketPrice", "side", "expected_raw_kelly"}
_CV_KEYS = _LABELS | {"returns", "historicalReturns", "assumedCV", "expected_cv"}


def _known(case: Mapping[str, Any], keys: frozenset[str], what: str) -> None:
    unknown = set(case) - keys
    assert not unknown, f"{what} fields this checker cannot interpret: {sorted(unknown)}"


def _raw(case: Mapping[str, Any]) -> None:
    _known(case, _RAW_KEYS, "raw kelly case")
    got = raw_kelly(case["fairProbability"], case["marketPrice"], case["side"])
    _close(got, case["expected_raw_kelly"], "raw kelly")


def _cv(case: Mapping[str, Any]) -> None:
    """A history (``returns``) gives its own CV; none at all (missing or null) gives ``assumedCV`` (0.3 unless
    configured, §4.1), as a sizing without history would use."""
    _known(case, _CV_KEYS, "coefficient of variation case")
    assert not ("returns" in case and "historicalReturns" in case), "returns given twice"
    returns = case.get("returns", case.get("historicalReturns"))
    _close(sizing_cv(returns, case.get("assumedCV", DEFAULT_CV)), case["expected_cv"], f"cv of {returns}")


def _sizing(case: Mapping[str, Any]) -> None:
    inp, mc = case["input"], case.get("monte_carlo", {})
    unknown_mc = set(mc) - {"simulations", "assumedCV", "returns", "historicalReturns"}
    assert not unknown_mc, f"monte_carlo keys this checker cannot interpret: {unknown_mc}"
    unknown_in = set(inp) - {
        "fairProbability",
        "marketPrice",
        "side",
        "bankroll",
        "maxPositionPct",
        "historicalReturns",
        "returns",
        "assumedCV",
    }
    assert not unknown_in, f"input keys this checker cannot interpret: {unknown_in}"
    returns = mc.get("returns", mc.get("historicalReturns", inp.get("historicalReturns", inp.get("returns"))))
    result = kelly_size(
        inp["fairProbability"],
        inp["marketPrice"],
        inp["side"],
        inp["bankroll"],
        inp.get("maxPositionPct", 5),
        returns=returns,
        assumed_cv=mc.get("assumedCV", inp.get("assumedCV", DEFAULT_CV)),
    )
    expected = trading_expected(case["expected"])
    unknown = set(expected) - set(SIZING_FIELDS)
    assert not unknown, f"expected fields this checker cannot interpret: {unknown}"
    for key, value in expected.items():
        _close(getattr(result, SIZING_FIELDS[key]), value, key)


_BATCH_KEYS = _LABELS | {"opportunities", "bankroll", "config", "expected"}
_OPPORTUNITY_KEYS = frozenset({"id", "fairProbability", "marketPrice", "side"})


def _opportunities(spec: Any, expected: Any) -> list[Opportunity]:
    if isinstance(spec, list):
        for o in spec:
            _known(o, _OPPORTUNITY_KEYS, "batch opportunity")
        return [Opportunity(o["id"], o["fairProbability"], o["marketPrice"], o["side"]) for o in spec]
    ids = [e["id"] for e in expected] if isinstance(expected, list) else None
    return identical_opportunities(str(spec), ids)


def _batch(case: Mapping[str, Any]) -> None:
    """§4.1's batch: each opportunity sized (no history, so ``assumedCV``), no-edge ones dropped, all scaled when
    the total is over budget. A field it does not read (a per-opportunity history, a bankroll per opportunity, a
    ``maxPositionPct`` beside ``config``) fails rather than being dropped."""
    _known(case, _BATCH_KEYS, "batch case")
    config = case.get("config") or {}
    unknown = set(config) - {"maxTotalAllocation", "maxSinglePosition", "assumedCV"}
    assert not unknown, f"config keys this checker cannot interpret: {unknown}"
    result = kelly_batch(
        _opportunities(case["opportunities"], case["expected"]),
        case["bankroll"],
        max_single_position_pct=config.get("maxSinglePosition", 5),
        max_total_allocation_pct=config.get("maxTotalAllocation", 50),
        assumed_cv=config.get("assumedCV", DEFAULT_CV),
    )
    expected = case["expected"]
    assert [r.opportunity_id for r in result] == [e["id"] for e in expected], "sized opportunities differ"
    for got, exp in zip(result, expected, strict=True):
        _known(exp, frozenset({"id", *SIZING_FIELDS}), "batch expected entry")
        for key, value in exp.items():
            if key != "id":
                _close(getattr(got.sizing, SIZING_FIELDS[key]), value, f"{exp['id']}.{key}")


SECTIONS = {"raw_kelly": _raw, "coefficient_of_variation": _cv, "sizing": _sizing, "batch": _batch}


@checker("trading.json", "kelly", split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case
    fn = SECTIONS.get(section)
    assert fn is not None, f"kelly sub-section {section!r} has no interpretation in this checker"
    fn(data)
