"""trading.json::bonding_barbell against paulp.domain.strategies.bonding(_signals) (trading §6.1).

``allocations`` name their candidates by market id; the full rows come from the group's own
``allocation_inputs`` fixture lists (the list whose rows match every candidate; ambiguity fails).
``signal_emission`` describes its situation in prose: it is rebuilt from keywords, unknown wording fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from paulp.domain.strategies.bonding import (
    BarbellConfig,
    Bond,
    BondQuote,
    Tail,
    TailType,
    allocate,
    allocation_return,
    bond_yield,
    expected_return,
    filter_bonds,
    herfindahl,
    payoff_multiple,
    tail_type,
    validate,
)
from paulp.domain.strategies.bonding_signals import bonding_signals
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.checkers._sides import trading_expected
from tests.conformance.checkers.trading_reconciliation import close, sectioned
from tests.conformance.registry import Context, checker

_CONFIG_KEYS = {
    "bondPct": "bond_pct",
    "tailPct": "tail_pct",
    "minBondProbability": "min_bond_probability",
    "minEventHedgePct": "min_event_hedge_pct",
    "maxHerfindahl": "max_herfindahl",
    "maxSingleBondPct": "max_single_bond_pct",
    "maxSingleTailPct": "max_single_tail_pct",
}


def _config(raw: dict[str, Any] | None) -> BarbellConfig:
    raw = raw or {}
    unknown = set(raw) - set(_CONFIG_KEYS)
    assert not unknown, f"no interpreter for config keys {sorted(unknown)}"
    return BarbellConfig(**{_CONFIG_KEYS[k]: float(v) for k, v in raw.items()})


def _quote(row: dict[str, Any]) -> BondQuote:
    return BondQuote(
        row["marketId"],
        row.get("venue", "kalshi"),
        float(row["probability"]),
        float(row["volume24h"]),
        float(row["spread"]),
    )


_LABELS = frozenset({"name", "note", "description"})
_QUOTE_KEYS = frozenset({"marketId", "venue", "probability", "volume24h", "spread"})


def _known(fields: Any, allowed: frozenset[str], what: str) -> None:
    """A field this checker does not read (an ``active: false`` row, a ``config`` beside a return example) would be
    dropped and the case judged without it: it fails instead."""
    assert isinstance(fields, dict), f"{what} must be an object: {fields!r:.200}"
    unknown = set(fields) - allowed
    assert not unknown, f"{what} fields this checker cannot interpret: {sorted(unknown)}"


def _bond_filter(case: Any, _: Context) -> None:
    _known(case, _LABELS | {"input", "config", "expected_in_order"}, "bond_filter case")
    for r in case["input"]:
        _known(r, _QUOTE_KEYS, "bond_filter row")
    for w in case["expected_in_order"]:
        _known(w, frozenset({"marketId", "expectedYield"}), "bond_filter expected row")
    got = filter_bonds([_quote(r) for r in case["input"]], _config(case.get("config")))
    want = case["expected_in_order"]
    assert [b.market_id for b in got] == [w["marketId"] for w in want], f"order {[b.market_id for b in got]}"
    for b, w in zip(got, want, strict=True):
        close(b.expected_yield, w["expectedYield"], f"yield of {b.market_id}")


def _fixture_rows(ctx: Context, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the one fixture list that holds every wanted id with matching fields."""
    fixtures = ctx.document[ctx.group].get("allocation_inputs", {})
    found = []
    for name, rows in fixtures.items():
        by_id = {r["marketId"]: r for r in rows}
        if all(w["marketId"] in by_id and all(by_id[w["marketId"]].get(k) == v for k, v in w.items()) for w in wanted):
            found.append((name, [by_id[w["marketId"]] for w in wanted]))
    distinct = {repr(rows) for _, rows in found}
    assert len(distinct) == 1, f"candidates {wanted} match fixture lists {[n for n, _ in found]}"
    return found[0][1]


def _candidate_rows(ctx: Context, candidates: list[Any]) -> list[dict[str, Any]]:
    """Candidates written out in full (with a probability) are their own rows; ids come from the fixtures."""
    wanted = [c if isinstance(c, dict) else {"marketId": c} for c in candidates]
    if wanted and all("probability" in w for w in wanted):
        return wanted
    return _fixture_rows(ctx, wanted) if wanted else []


def _tags(row: dict[str, Any]) -> tuple[str, ...]:
    """Tags as a list, or one tag written as a plain string (never its characters)."""
    raw = row.get("tags") or ()
    return (raw,) if isinstance(raw, str) else tuple(str(t) for t in raw)


def _tail_row(r: dict[str, Any]) -> Tail:
    kind = r.get("tailType") or tail_type(r.get("description") or "", _tags(r), r.get("category") or "")
    return Tail(
        r["marketId"],
        float(r["probability"]),
        TailType(kind),
        float(r.get("payoffMultiple", payoff_multiple(r["probability"]))),
    )


# §6.1 names the rules an allocation or a validation can fail, not their wording: an expected error is matched to
# its rule by the words it uses (our own messages say "Herfindahl", "Event hedge", "No bond", "Bond allocation",
# "probability"; derived cases use the labels on the right). Errors none of these name are compared by count only.
_RULE_WORDS = (("hhi", ("herfindahl", "hhi")), ("hedge", ("hedge",)), ("no bonds", ("no bond",)),
               ("bond%", ("bond%", "bond allocation", "bond pct", "differs from target")),
               ("p", ("probability",)))


def _rule(text: Any) -> str | None:
    assert isinstance(text, str), f"a validation error must be a string, not {text!r}"
    low = text.strip().lower()
    if low == "p":
        return "p"
    named = [rule for rule, words in _RULE_WORDS if any(w in low for w in words)]
    return named[0] if len(named) == 1 else None


def _same_rules(got: list[str], want: Any, label: str) -> None:
    assert isinstance(want, list), f"{label} must be a list, not {want!r}"
    assert len(got) == len(want), f"{label}: {got} != {want}"
    wanted = [_rule(w) for w in want]
    if all(r is not None for r in wanted):
        found = [_rule(g) for g in got]
        assert sorted(map(str, found)) == sorted(map(str, wanted)), f"{label}: rules {found} != {wanted} ({got})"


def _allocations(case: Any, ctx: Context) -> None:
    bonds = [
        Bond(r["marketId"], float(r["probability"]), float(r.get("expectedYield", bond_yield(r["probability"]))))
        for r in _candidate_rows(ctx, case.get("bond_candidates", []))
    ]
    tails = [_tail_row(r) for r in _candidate_rows(ctx, case.get("tail_candidates", []))]
    config = _config(case.get("config"))
    alloc = allocate(float(case["capital"]), bonds, tails, config)
    exp = case["expected"]
    handled = {
        "bondAllocation",
        "tailAllocation",
        "bondPositions",
        "tailPositions",
        "herfindahlIndex",
        "eventHedgePct",
        "isValid",
        "validationErrors",
        "validate",
        "expectedReturn",
    }
    assert exp and set(exp) <= handled, f"no interpreter for expected keys {sorted(set(exp) - handled) or 'none'}"
    if "bondAllocation" in exp:
        close(alloc.bond_allocation, exp["bondAllocation"], "bondAllocation")
    if "tailAllocation" in exp:
        close(alloc.tail_allocation, exp["tailAllocation"], "tailAllocation")
    if "bondPositions" in exp:
        got_bonds = [(p.bond.market_id, p.allocation) for p in alloc.bond_positions]
        assert [b[0] for b in got_bonds] == [b[0] for b in exp["bondPositions"]], f"bond positions {got_bonds}"
        for (_, a), (mid, w) in zip(got_bonds, exp["bondPositions"], strict=True):
            close(a, w, f"bond {mid}")
    if "tailPositions" in exp:
        got_tails = [(p.tail.market_id, p.tail.tail_type.value, p.allocation) for p in alloc.tail_positions]
        assert [t[:2] for t in got_tails] == [tuple(t[:2]) for t in exp["tailPositions"]], f"tails {got_tails}"
        for (_, _, a), (mid, _, w) in zip(got_tails, exp["tailPositions"], strict=True):
            close(a, w, f"tail {mid}")
    if "herfindahlIndex" in exp:
        close(alloc.herfindahl_index, exp["herfindahlIndex"], "herfindahlIndex")
    if "eventHedgePct" in exp:
        close(alloc.event_hedge_pct, exp["eventHedgePct"], "eventHedgePct")
    if "isValid" in exp:
        assert alloc.is_valid == exp["isValid"], f"isValid {alloc.is_valid}: {alloc.validation_errors}"
    if "validationErrors" in exp:
        _same_rules(alloc.validation_errors, exp["validationErrors"], "validationErrors")
    if "validate" in exp:
        errors = validate(
            alloc.total_capital,
            alloc.bond_allocation,
            alloc.herfindahl_index,
            alloc.event_hedge_pct,
            [b.probability for b in bonds],
            config,
        )
        want = exp["validate"]
        assert isinstance(want, dict) and want and not set(want) - {"valid", "errors"}, f"validate {want!r}"
        if "valid" in want:  # either fact may be stated alone (ADR 0486)
            assert (not errors) == want["valid"], f"validate errors {errors}"
        if "errors" in want:
            _same_rules(errors, want["errors"], "validate errors")
    if "expectedReturn" in exp:
        ret = allocation_return(alloc)
        fields = {
            "bondReturn": "bond_return",
            "tailReturn": "tail_return",
            "totalReturn": "total_return",
            "maxDrawdown": "max_drawdown",
        }
        unknown = set(exp["expectedReturn"]) - set(fields)
        assert not unknown, f"no interpreter for expectedReturn keys {sorted(unknown)}"
        for key, want in exp["expectedReturn"].items():
            close(getattr(ret, fields[key]), want, key)


_TAIL_FACTS = frozenset({"description", "tags", "category", "payoffMultiple"})


def _passes_bond_filter(row: dict[str, Any]) -> bool:
    """§6.1's bond filter as the spec states it (venue kalshi, p >= 0.93, spread < 0.05, volume24h > 1000): a
    "before filter" fixture list may hold rows the filter must drop, so each row is judged, not assumed to pass."""
    return (
        row.get("venue", "kalshi") == "kalshi"
        and float(row["probability"]) >= 0.93
        and float(row["spread"]) < 0.05
        and float(row["volume24h"]) > 1000
    )


def _allocation_inputs(fixtures: Any, _: Context) -> None:
    """Fixture lists used by ``allocations``: check each is readable and consistent with the rules."""
    assert isinstance(fixtures, dict) and fixtures, f"allocation_inputs must be named lists: {fixtures!r:.200}"
    for name, rows in fixtures.items():
        for r in rows:
            if "expectedYield" in r:  # fixtures round yields to 3 places
                close(bond_yield(r["probability"]), r["expectedYield"], f"{name}/{r['marketId']} yield", 5e-4)
            elif "tailType" in r or _TAIL_FACTS & set(r):  # a tail typed by hand or by its words (§6.1)
                tail = _tail_row(r)
                assert tail.payoff_multiple >= 1, f"{name}: bad tail row {r}"
            elif "volume24h" in r:
                got = [b.market_id for b in filter_bonds([_quote(r)])]
                want = [r["marketId"]] if _passes_bond_filter(r) else []
                assert got == want, f"{name}: {r} kept by our filter: {bool(got)}, by §6.1's rule: {bool(want)}"
            else:
                raise AssertionError(f"{name}: fixture row not understood: {r}")


_VALIDATE_CASE_KEYS = frozenset({"allocation", "config", "expected", "name", "note"})
_VALIDATE_ALLOCATION_KEYS = frozenset({"totalCapital", "bondAllocation", "herfindahlIndex", "eventHedgePct",
                                       "bond_probabilities"})


def _validate_only(case: Any, _: Context) -> None:
    stray = (set(case) - _VALIDATE_CASE_KEYS) | (set(case["allocation"]) - _VALIDATE_ALLOCATION_KEYS) \
        | (set(case["expected"]) - {"valid", "errors"})
    assert not stray, f"validate_only fields this checker cannot interpret: {sorted(stray)}"
    assert case["expected"], "validate_only case expects nothing"
    valid = case["expected"].get("valid", "unstated")  # either fact may be stated alone (ADR 0486)
    assert valid == "unstated" or isinstance(valid, bool), f"valid must be true or false: {valid!r}"
    a = case["allocation"]
    errors = validate(
        float(a["totalCapital"]),
        float(a["bondAllocation"]),
        float(a["herfindahlIndex"]),
        float(a["eventHedgePct"]),
        [float(p) for p in a.get("bond_probabilities", [])],
        _config(case.get("config")),
    )
    if valid != "unstated":
        assert (not errors) == valid, f"errors {errors}, expected {case['expected']}"
    if "errors" in case["expected"]:
        _same_rules(errors, case["expected"]["errors"], "validate errors")


def _expected_return(case: Any, _: Context) -> None:
    _known(
        case,
        _LABELS | {"bonds", "tails", "capital"} | {k for k in case if k.startswith("expected_")},
        "expected_return_examples case",
    )
    for pair in [*case["bonds"], *case["tails"]]:
        assert isinstance(pair, list) and len(pair) == 2, f"a bond or tail must be [allocation, figure]: {pair!r}"
    capital = float(case.get("capital", 1))
    ret = expected_return([tuple(b) for b in case["bonds"]], [tuple(t) for t in case["tails"]], capital)
    wanted = {k.removeprefix("expected_"): v for k, v in case.items() if k.startswith("expected_")}
    fields = {"bondReturn": ret.bond_return, "tailReturn": ret.tail_return, "totalReturn": ret.total_return}
    if "capital" in case:
        fields["maxDrawdown"] = ret.max_drawdown
    assert wanted and set(wanted) <= set(fields), f"no interpreter for {sorted(set(wanted) - set(fields))}"
    for key, want in wanted.items():
        close(fields[key], want, key)


def _tail_categorization(case: Any, _: Context) -> None:
    m = case["market"]
    got = tail_type(m.get("description") or "", _tags(m), m.get("category") or "")
    assert got.value == case["expected"], f"{m}: {got}, expected {case['expected']}"


def _herfindahl(case: Any, _: Context) -> None:
    _known(case, _LABELS | {"allocations", "expected"}, "herfindahl case")
    close(herfindahl([float(a) for a in case["allocations"]]), case["expected"], "HHI")


def _payoff(case: Any, _: Context) -> None:
    stray = set(case) - {"probability", "expected", "name", "note"}
    assert not stray, f"payoff_multiple fields this checker cannot interpret: {sorted(stray)}"
    assert isinstance(case["expected"], int | float) and not isinstance(case["expected"], bool), \
        f"payoff_multiple: expected a number, got {case['expected']!r}"
    close(payoff_multiple(float(case["probability"])), case["expected"], f"payoff at {case['probability']}")


_KIND = re.compile(r"\b(bond|tail)(?:s|-position|\s+position)?\b", re.IGNORECASE)
_FAIR = "fair(?:[\\s_-]*(?:value|probability|prob|p))?"
_SITUATIONS = (  # (pattern, fair as a function of price or None for "no fair supplied")
    (
        rf"(?:without|no|missing|absent|omitted)\s+(?:a\s+|any\s+|the\s+)?(?:supplied\s+|given\s+)?{_FAIR}"
        rf"|{_FAIR}\s+(?:is\s+)?(?:not\s+(?:supplied|given|provided)|missing|absent|omitted)",
        None,
    ),
    (
        rf"{_FAIR}\s+(?:is\s+)?(?:below|under|lower\s+than|less\s+than|<)\s+(?:the\s+)?(?:market\s+)?price",
        lambda p: p * 0.9,
    ),
    (
        rf"{_FAIR}\s+(?:is\s+)?(?:above|over|higher\s+than|greater\s+than|>)\s+(?:the\s+)?(?:market\s+)?price",
        lambda p: min(p * 1.02, 0.999),
    ),
    (rf"{_FAIR}\s+(?:is\s+)?(?:equal\s+to|equals|=|==|at)\s+(?:the\s+)?(?:market\s+)?price", lambda p: p),
)
_NO_SIGNAL = re.compile(r"^\s*(?:no\s+signal|not\s+emitted|none|nothing\s+emitted|no\s+\w+\s+signal)", re.IGNORECASE)


_FAIR_VALUE = re.compile(rf"\b{_FAIR}\s*(?:[:=]|of|is)?\s*(0?\.\d+|1(?:\.0*)?\b|0\b)", re.IGNORECASE)
_PRICE_VALUE = re.compile(
    r"\b(?:market[\s_-]*)?(?:price|probability|p)\s*(?:[:=]|of|is)?\s*(0?\.\d+)(?!\d)", re.IGNORECASE
)
_RELATIONS: tuple[tuple[re.Pattern[str], Callable[[float, float], bool], str], ...] = (
    (re.compile(r"\b(?:below|under|lower\s+than|less\s+than)\b|<", re.IGNORECASE), lambda f, p: f < p, "below"),
    (re.compile(r"\b(?:above|over|higher\s+than|greater\s+than)\b|>", re.IGNORECASE), lambda f, p: f > p, "above"),
    (re.compile(r"\b(?:equal\s+to|equals)\b|==?", re.IGNORECASE), lambda f, p: f == p, "equal to"),
)


_INVALID = re.compile(r"\binvalid\s+(?:barbell\s+)?allocation|\ballocation\s+(?:is\s+)?invalid", re.IGNORECASE)
_NUMERIC_FIELDS = {
    "expectedEdge": "expected_edge",
    "confidence": "confidence",
    "marketPrice": "market_price",
    "fairProbability": "fair_probability",
}
_TEXT_FIELDS = {"side": "side", "venue": "venue", "strategy": "strategy"}
_SIGNAL_KEYS = {
    "emitted",
    "kellyFraction",
    "note",
    "signalType",
    "count",
    "tailType",
    "metadata",
    "expiresInHours",
    *_NUMERIC_FIELDS,
    *_TEXT_FIELDS,
}


def _signal_fields(sigs: list[Any], exp: dict[str, Any]) -> None:
    """Fields every emitted signal of the case shares (§6.1's signal fields), compared signal by signal."""
    for s in sigs:
        for key, attr in _NUMERIC_FIELDS.items():
            if key in exp:
                close(getattr(s, attr), exp[key], f"{key} of {s.market_id}")
        for key, attr in _TEXT_FIELDS.items():
            if key in exp:
                assert getattr(s, attr) == exp[key], f"{key} of {s.market_id}: {getattr(s, attr)!r}"
        if "tailType" in exp:
            got = s.tail_type.value if s.tail_type is not None else None
            assert got == exp["tailType"], f"tailType of {s.market_id}: {got!r}"
        if "expiresInHours" in exp:
            close((s.expires_at - s.created_at).total_seconds() / 3600, exp["expiresInHours"], "expiresInHours")
        for key, want in (exp.get("metadata") or {}).items():
            assert key in s.metadata, f"no metadata field {key!r} in {dict(s.metadata)}"
            if isinstance(want, bool):
                assert s.metadata[key] is want, f"metadata {key}: {s.metadata[key]!r}"
            else:
                close(float(s.metadata[key]), want, f"metadata {key}")


def _signal_emission(case: Any, ctx: Context) -> None:
    """The subject (bond or tail) and the fair-probability situation come from the prose; a fair value and a market
    price written as numbers ("fair 0.97 above price 0.95") are used as given, else the synthetic prices stand.
    An "invalid allocation" is a single bond beside the hedges (HHI over the maximum), with fair values above price
    unless the text says otherwise, so only the invalidity can keep a signal back; it may name no subject."""
    text = str(case.get("case") or case.get("name") or "")
    invalid = bool(_INVALID.search(text))
    kinds = {k.lower() for k in _KIND.findall(text)}
    assert len(kinds) == 1 or (invalid and not kinds), f"signal_emission subject (bond/tail) not understood: {text!r}"
    kind = kinds.pop() if kinds else ""
    fair_value = _FAIR_VALUE.search(text)
    rest = text[: fair_value.start()] + text[fair_value.end() :] if fair_value else text
    price_value = _PRICE_VALUE.search(rest)
    price = float(price_value.group(1)) if price_value else None
    # A valid synthetic barbell: five bonds fill the bond bucket, hedged tails fill the tail bucket.
    bond_price = price if price is not None and kind == "bond" else 0.95
    tail_price = price if price is not None and kind == "tail" else 0.05
    bonds = [Bond(f"b{i}", bond_price, bond_yield(bond_price)) for i in range(1 if invalid else 5)]
    tails = [Tail(f"t{i}", tail_price, TailType.EVENT_HEDGE, payoff_multiple(tail_price)) for i in range(3)]
    alloc = allocate(10_000, bonds, tails)
    assert alloc.is_valid is not invalid, alloc.validation_errors
    prices = {p.bond.market_id: p.bond.probability for p in alloc.bond_positions}
    prices |= {p.tail.market_id: p.tail.probability for p in alloc.tail_positions}
    targets = [m for m in prices if m.startswith(kind[:1])]
    matched = [(pattern, rule) for pattern, rule in _SITUATIONS if re.search(pattern, text, re.IGNORECASE)]
    if invalid and not matched and fair_value is None:
        matched = [("", lambda p: min(p * 1.02, 0.999))]
    if any(rule is None for _, rule in matched):  # "without a fair ... at price 0.1": the absence decides
        matched = [(pattern, rule) for pattern, rule in matched if rule is None]
    if fair_value is not None:
        given = float(fair_value.group(1))
        assert not any(rule is None for _, rule in matched), f"a fair value and no fair value: {text!r}"
        market = tails[0].probability if kind == "tail" else bonds[0].probability
        for pattern, holds, word in _RELATIONS:  # a stated relation must hold between the written numbers
            if pattern.search(rest):
                assert holds(given, market), f"fair {given} is not {word} the price {market} in {text!r}"
        fair: dict[str, float] = {m: given for m in targets}
    else:
        assert len(matched) == 1, f"fair-probability situation not understood (matches {len(matched)}): {text!r}"
        rule = matched[0][1]
        fair = {} if rule is None else {m: rule(prices[m]) for m in targets}
    sigs = [s for s in bonding_signals(alloc, conventions.now(ctx), fair) if s.signal_type == kind or not kind]
    exp = trading_expected(case["expected"])
    if isinstance(exp, str):
        assert _NO_SIGNAL.match(exp), f"expected text not understood: {exp!r}"
        assert not sigs, f"expected no {kind} signal, got {sigs}"
        return
    if isinstance(exp, bool):
        exp = {"emitted": exp}
    assert isinstance(exp, dict), f"expected not understood: {exp!r}"
    unknown = set(exp) - _SIGNAL_KEYS
    assert not unknown, f"signal_emission expectations not understood: {sorted(unknown)}"
    if "emitted" not in exp and "count" not in exp:
        # facts about the signals (type, Kelly fraction) without a count say that signals are emitted (ADR 0486)
        assert set(exp) - {"note"}, f"signal_emission states nothing interpretable: {exp!r}"
        assert len(sigs) == len(targets) and sigs, f"{len(sigs)} of {len(targets)} {kind} signals emitted"
    if "emitted" in exp:
        assert (len(sigs) == len(targets)) == exp["emitted"], f"{len(sigs)} of {len(targets)} {kind} signals"
        if not exp["emitted"]:
            assert not sigs, f"expected no {kind} signal, got {sigs}"
    if "count" in exp:
        assert len(sigs) == exp["count"], f"{len(sigs)} {kind} signals, expected {exp['count']}"
    if "signalType" in exp:
        assert all(s.signal_type == exp["signalType"] for s in sigs) and exp["signalType"] == kind, sigs
    if "kellyFraction" in exp:
        for s in sigs:
            close(s.kelly_fraction, exp["kellyFraction"], f"kellyFraction of {s.market_id}")
    _signal_fields(sigs, exp)


SPLIT, CHECK = sectioned(
    {
        "bond_filter": _bond_filter,
        "allocations": _allocations,
        "allocation_inputs": _allocation_inputs,
        "validate_only": _validate_only,
        "expected_return_examples": _expected_return,
        "tail_categorization": _tail_categorization,
        "herfindahl": _herfindahl,
        "payoff_multiple": _payoff,
        "signal_emission": _signal_emission,
    }
)


@checker("trading.json", "bonding_barbell", split=SPLIT)
def check(case: Any, ctx: Context) -> None:
    CHECK(case, ctx)
