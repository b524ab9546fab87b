"""trading.json::account_skill — per-position skill rubric (§4.5), blowup flags and rank stability.

Position sets in the vectors are written as short descriptions ("20 positions i=0..19: clv 0.04
valid, pnl 100 when i even and 300 when i odd, ..."); :func:`expand_positions` reads that small
language (scalars, even/odd alternation, ``cycles [..] by i%k``) and fails on anything else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from paulp.domain.skill import (
    AccountMetrics,
    BlowupPosition,
    ScoredPosition,
    account_skill_score,
    detect_blowup_signatures,
    rank_stability,
)
from tests.conformance.checkers import _conventions as conventions
from tests.conformance.registry import Context, checker

TOL = 1e-6
SHARED_SECTIONS = {"position_defaults", "account_defaults"}
_FACTORS = {
    "clvConsistency": "clv_consistency", "riskAdjustedReturns": "risk_adjusted_returns",
    "sizingDiscipline": "sizing_discipline", "ambiguityAvoidance": "ambiguity_avoidance",
    "lowFeeDrag": "low_fee_drag", "diversification": "diversification",
    "noBlowupSignatures": "no_blowup_signatures", "longevity": "longevity",
}
_DETAILS = {
    "meanCLV": "mean_clv", "validPositions": "valid_positions", "sharpe": "sharpe",
    "maxPositionPct": "max_position_pct", "lowAmbiguityPct": "low_ambiguity_pct", "feeDragPct": "fee_drag_pct",
    "herfindahl": "herfindahl", "flagCount": "flag_count", "activeDays": "active_days",
}
# description word(s) -> position field (matched case-insensitively, longest first; plural forms accepted)
_FIELD_WORDS = {"category": "category", "categories": "category", "market": "marketId", "market id": "marketId",
                "marketid": "marketId", "clv": "clv", "pnl": "pnl", "p&l": "pnl", "profit": "pnl", "size": "size",
                "sizes": "size", "fees": "fees", "fee": "fees", "ambiguity": "ambiguityScore",
                "ambiguity score": "ambiguityScore", "ambiguityscore": "ambiguityScore", "entry": "entryPrice",
                "entry price": "entryPrice", "entryprice": "entryPrice", "closing": "closingLinePrice",
                "closing line": "closingLinePrice", "closing line price": "closingLinePrice",
                "closinglineprice": "closingLinePrice", "clv valid": "clvValid", "clvvalid": "clvValid"}
_PRICE_FIELDS = {"clv", "entryPrice", "closingLinePrice"}  # "4c" / "4 cents" means 0.04 here
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
                 "fifty": 50, "hundred": 100}
_DEFAULT_CLAUSE = re.compile(r"(?:otherwise|others?|rest|remaining|all else|everything else)\s+(?:as\s+)?defaults?"
                             r"|defaults?\s+otherwise|else\s+defaults?", re.IGNORECASE)


def split(data: Any) -> Iterator[tuple[str, Any]]:
    for section, items in data.items():
        if section in SHARED_SECTIONS:
            continue  # defaults the other sections read, not cases
        if isinstance(items, list):
            for i, item in enumerate(items):
                label = item.get("name") if isinstance(item, dict) else None
                yield f"{section}/{i:03d}" + (f"-{label}" if label else ""), {"section": section, "case": item}
        else:
            yield section, {"section": section, "case": items}


def _close(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, bool | str):
        assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"
    else:
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=TOL), f"{what}: expected {expected}, got {actual}"


def _number(text: str, field: str = "") -> Any:
    """A scalar of a description: numbers as written ("1,000", "$300", "+0.05", "4c" for a price field,
    "1e3"), true/false/valid/invalid, null/none, else the word itself (a category name)."""
    t = text.strip().strip("'\"")
    low = t.lower()
    if low in ("true", "valid", "yes"):
        return True
    if low in ("false", "invalid", "no"):
        return False
    if low in ("null", "none"):
        return None
    cents = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*(?:c|¢|cents?)", low)
    if cents and field in _PRICE_FIELDS:
        return float(cents.group(1)) / 100
    numeric = re.sub(r"(?<=\d)[,_](?=\d{3}\b)", "", low.replace("$", "").replace("usd", "").strip())
    try:
        return float(numeric)
    except ValueError:
        pass
    assert re.fullmatch(r"[\w.-]+", t), f"cannot interpret value {text!r}"
    return t


def _clauses(text: str) -> list[str]:
    """Split at top-level ", " / ";" (brackets protected; a comma inside a number such as 1,000 is not a split)."""
    parts, depth, current = [], 0, ""
    for i, ch in enumerate(text):
        depth += ch in "[("
        depth -= ch in "])"
        after = text[i + 1:i + 2]
        if depth == 0 and (ch == ";" or (ch == "," and not (current[-1:].isdigit() and after.isdigit()))):
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [p for p in [*parts, current.strip()] if p]


def _cycle(values_text: str, field: str, modulus: str | None, text: str) -> Callable[[int], Any]:
    values = [_number(v, field) for v in re.split(r"\s*[,/;]\s*", values_text.strip()) if v]
    assert values, f"empty cycle in {text!r}"
    if modulus is not None:
        assert len(values) == int(modulus), f"cycle length mismatch in {text!r}"
    return lambda i: values[i % len(values)]


_EVEN_ODD = (
    r"(?P<e>\S+) (?:when|if|for|on) (?:i )?(?:is )?even(?: i)?,? (?:and |/ ?)?(?P<o>\S+) (?:when|if|for|on) "
    r"(?:i )?(?:is )?odd(?: i)?",
    r"(?P<e>\S+) \((?:even i|i even)\) ?/ ?(?P<o>\S+) \((?:odd i|i odd)\)",
    r"(?:alternating|alternates|alternate) (?:between )?(?P<e>[^\s/]+) ?(?:/|and) ?(?P<o>\S+)",
    r"(?P<e>[^\s/]+) ?/ ?(?P<o>\S+),? alternating",
)


def _value_rule(text: str, field: str = "") -> Callable[[int], Any]:
    text = text.strip()
    for pattern in _EVEN_ODD:
        m = re.fullmatch(pattern, text, re.IGNORECASE)
        if m:
            even, odd = _number(m.group("e"), field), _number(m.group("o"), field)
            return lambda i: even if i % 2 == 0 else odd
    m = re.fullmatch(r"(?:cycles?|cycling|cycled|rotating|rotates)(?: through| over)? \[(.*)\]"
                     r"(?: (?:by|over|on) i ?% ?(\d+))?", text, re.IGNORECASE) \
        or re.fullmatch(r"\[(.*)\](?: (?:by|over|on))? i ?% ?(\d+)", text, re.IGNORECASE)
    if m:
        return _cycle(m.group(1), field, m.group(2), text)
    assert " " not in text, f"cannot interpret value {text!r}"
    value = _number(text, field)
    return lambda i: value


_EVEN_TAIL = re.compile(r"(?:when|if|for|on) (?:i )?(?:is )?even(?: i)?$", re.IGNORECASE)
_ODD_HALF = re.compile(r"^\S+ (?:when|if|for|on) (?:i )?(?:is )?odd(?: i)?$", re.IGNORECASE)


def _joined_parity(clauses: list[str]) -> list[str]:
    """Rejoin "pnl 100 if i is even" + "300 if i is odd", which a comma between the halves split apart."""
    out: list[str] = []
    for clause in clauses:
        if out and _EVEN_TAIL.search(out[-1]) and _ODD_HALF.match(clause):
            out[-1] = f"{out[-1]} and {clause}"
        else:
            out.append(clause)
    return out


_COUNT = re.compile(
    r"\s*(?P<n>\d[\d,_]*|[a-z]+)\s*(?:x|\u00d7|\*)?\s*(?:identical\s+|default\s+|similar\s+)?positions?\b"
    r"(?:\s*\(?\s*i\s*(?:=|in)\s*\d+\s*\.{2,3}\s*\d+\s*\)?)?\s*", re.IGNORECASE)


def expand_positions(description: str, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand a textual position set into position dicts (defaults overridden per clause)."""
    m = _COUNT.match(description)
    raw_n = m.group("n").lower() if m else ""
    assert m and (raw_n[0].isdigit() or raw_n in _NUMBER_WORDS), f"cannot read position count from {description!r}"
    count = int(re.sub(r"[,_]", "", raw_n)) if raw_n[0].isdigit() else _NUMBER_WORDS[raw_n]
    body = description[m.end():].strip()
    if body.startswith((":", "-", "—", "with ", "each ")):
        body = body.split(" ", 1)[1] if body.startswith(("with ", "each ")) else body[1:]
    elif body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    rules: dict[str, Callable[[int], Any]] = {}
    words_by_length = sorted(_FIELD_WORDS, key=len, reverse=True)
    for clause in _joined_parity(_clauses(body)):
        if _DEFAULT_CLAUSE.fullmatch(clause.strip(" .")):
            continue
        clause = clause.strip(" .")
        word = next((w for w in words_by_length
                     if re.match(rf"{re.escape(w)}(?:\s*[:=]\s*|\s+)\S", clause, re.IGNORECASE)), None)
        if word is not None:
            field = _FIELD_WORDS[word]
            rest = re.sub(r"^\s*[:=]?\s*", "", clause[len(word):])
            if field == "clv":
                validity = re.search(r"\s*\(?\b(valid|invalid)\)?$", rest, re.IGNORECASE)
                if validity:
                    rest = rest[:validity.start()]
                    rules["clvValid"] = (lambda ok: lambda i: ok)(validity.group(1).lower() == "valid")
            rules[field] = _value_rule(rest, field)
        elif re.fullmatch(r"[A-Za-z_]+", clause):
            rules["category"] = _value_rule(clause)  # a bare category name: "(..., politics)"
        else:
            raise AssertionError(f"cannot interpret position clause {clause!r} in {description!r}")
    return [{**defaults, **{k: rule(i) for k, rule in rules.items()}} for i in range(count)]


def _position(raw: dict[str, Any], now: datetime) -> ScoredPosition:
    return ScoredPosition(
        market_id=str(raw.get("marketId", "m")), category=raw.get("category"),
        entry_price=raw["entryPrice"], closing_line_price=raw["closingLinePrice"], clv=raw["clv"],
        clv_valid=raw["clvValid"], pnl=raw["pnl"], size=raw["size"], fees=raw["fees"],
        ambiguity_score=raw["ambiguityScore"], entry_at=now - timedelta(days=1), exit_at=now,
    )


def _days_before(value: Any, now: datetime) -> datetime:
    """``now``, ``now-200days`` (also ``now - 200 days``, ``now-1day``) or an ISO-8601 instant."""
    text = re.sub(r"\s+", "", str(value)).lower()
    if text == "now":
        return now
    m = re.fullmatch(r"now-(\d+)days?(?:unlessstated)?", text)
    if m:
        return now - timedelta(days=int(m.group(1)))
    try:
        return datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise AssertionError(f"cannot read account time {value!r}") from None


_CASE_KEYS = {"name", "include_clv", "includeCLV", "metrics", "expected", "note", "source_behaviour"}


def _include_clv(case: dict[str, Any]) -> bool:
    """``include_clv`` (the sample's spelling) or ``includeCLV`` (§4.5's input name); both given must agree."""
    given = {case[k] for k in ("include_clv", "includeCLV") if k in case}
    assert len(given) <= 1 and all(isinstance(v, bool) for v in given), f"include_clv/includeCLV: {given}"
    return given.pop() if given else True


def _case(case: dict[str, Any], ctx: Context) -> None:
    assert set(case) <= _CASE_KEYS, f"case fields this checker cannot interpret: {sorted(set(case) - _CASE_KEYS)}"
    now = conventions.now(ctx)
    group = ctx.document[ctx.group]
    metrics = case["metrics"]
    known = {"portfolioValue", "totalFees", "active_days", "blowupFlags", "positions", "accountCreatedAt",
             "lastActivityAt"}
    assert set(metrics) <= known, f"unknown metrics fields {set(metrics) - known}"
    raw_positions = metrics["positions"]
    defaults = group.get("position_defaults", {})
    if isinstance(raw_positions, str):
        rows = expand_positions(raw_positions, defaults)
    else:
        rows = [{**defaults, **p} for p in raw_positions]
    positions = tuple(_position(r, now) for r in rows)
    account = group.get("account_defaults", {})
    last_activity = _days_before(metrics.get("lastActivityAt", account.get("lastActivityAt", "now")), now)
    if "active_days" in metrics:
        created = last_activity - timedelta(days=metrics["active_days"])
    else:
        created = _days_before(metrics.get("accountCreatedAt", account.get("accountCreatedAt")), now)
    total_fees = metrics.get("totalFees")
    result = account_skill_score(AccountMetrics(
        positions=positions,
        total_fees=sum(p.fees for p in positions) if total_fees is None else total_fees,
        portfolio_value=metrics.get("portfolioValue", account.get("portfolioValue")),
        account_created_at=created, last_activity_at=last_activity,
        blowup_flags=tuple(metrics.get("blowupFlags", [])),
    ), include_clv=_include_clv(case))
    expected = case["expected"]
    unknown = set(expected) - {"totalScore", "tier", "factors"}
    assert not unknown and expected, f"expected fields this checker cannot interpret: {unknown or 'none given'}"
    if "totalScore" in expected:
        _close(result.total_score, expected["totalScore"], "totalScore")
    if "tier" in expected:
        assert result.tier == expected["tier"], f"tier: expected {expected['tier']}, got {result.tier}"
    for name, fields in expected.get("factors", {}).items():
        assert name in _FACTORS, f"unknown factor {name!r}"
        factor = result.factors[_FACTORS[name]]
        for key, value in fields.items():
            if key == "score":
                _close(factor.score, value, f"{name}.score")
            elif key == "maxScore":
                _close(factor.max_score, value, f"{name}.maxScore")
            else:
                assert key in _DETAILS, f"unknown factor field {name}.{key}"
                _close(factor.details[_DETAILS[key]], value, f"{name}.{key}")


def _rubric(expected: dict[str, Any], include_clv: bool, ctx: Context) -> None:
    now = conventions.now(ctx)
    result = account_skill_score(AccountMetrics((), 0, 10000, now, now), include_clv=include_clv)
    for name, max_score in expected.items():
        assert name in _FACTORS, f"unknown factor {name!r}"
        _close(result.factors[_FACTORS[name]].max_score, max_score, f"{name}.maxScore")


_OFFSET_UNITS = {"ms": "milliseconds", "seconds": "seconds", "s": "seconds", "minutes": "minutes", "min": "minutes",
                 "hours": "hours", "h": "hours", "days": "days"}
_BLOWUP_KEYS = {"pnl", "size", "category", "marketId", "note"}
_BLOWUP_CASE_KEYS = frozenset({"name", "note", "description", "positions", "expected_flags"})


def _instant(p: dict[str, Any], which: str, now: datetime) -> datetime:
    """A blowup position's entry/exit: ``<which>_offset_<unit>`` from now (ms, seconds, minutes, hours, days) or
    §4.5's ``<which>Timestamp`` (ISO-8601, or epoch ms); exactly one of them."""
    found = [(k, v) for k, v in p.items() if k.startswith(f"{which}_offset_") or k == f"{which}Timestamp"]
    assert len(found) == 1, f"position needs exactly one {which} time: {p!r}"
    key, value = found[0]
    if key == f"{which}Timestamp":
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value / 1000, now.tzinfo)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    unit = _OFFSET_UNITS.get(key.removeprefix(f"{which}_offset_"))
    assert unit is not None, f"unknown offset unit in {key!r}"
    return now + timedelta(**{unit: value})


def _blowup(case: dict[str, Any], ctx: Context) -> None:
    now = conventions.now(ctx)
    stray = set(case) - _BLOWUP_CASE_KEYS
    assert not stray, f"blowup_detection fields this checker cannot interpret: {sorted(stray)}"
    assert isinstance(case["expected_flags"], list), f"expected_flags must be a list: {case['expected_flags']!r}"
    for p in case["positions"]:
        unknown = {k for k in p if not k.startswith(("entry_offset_", "exit_offset_"))} - _BLOWUP_KEYS - {
            "entryTimestamp", "exitTimestamp"}
        assert not unknown, f"position fields this checker cannot interpret: {sorted(unknown)}"
    positions = [
        BlowupPosition(p["pnl"], p["size"], p.get("category"), _instant(p, "entry", now), _instant(p, "exit", now))
        for p in case["positions"]
    ]
    flags = [str(f) for f in detect_blowup_signatures(positions)]
    assert flags == case["expected_flags"], f"expected {case['expected_flags']}, got {flags}"


_RANK_KEYS = frozenset({"withCLV", "withoutCLV", "expected", "name", "note"})
_RANK_EXPECTED = frozenset({"isStable", "unstableAccountPct", "maxRankChange"})


def _rank(case: dict[str, Any], ctx: Context) -> None:
    stray = (set(case) - _RANK_KEYS) | (set(case["expected"]) - _RANK_EXPECTED)
    assert not stray, f"rank_stability fields this checker cannot interpret: {sorted(stray)}"
    result = rank_stability([(a["accountId"], a["score"]) for a in case["withCLV"]],
                            [(a["accountId"], a["score"]) for a in case["withoutCLV"]])
    expected = case["expected"]
    assert expected, "rank_stability: the case expects nothing"
    if "isStable" in expected:  # each stated fact is checked; a case may state fewer (ADR 0486)
        assert result.is_stable == expected["isStable"], f"isStable: expected {expected['isStable']}"
    if "unstableAccountPct" in expected:
        _close(result.unstable_account_pct, expected["unstableAccountPct"], "unstableAccountPct")
    if "maxRankChange" in expected:
        _close(result.max_rank_change, expected["maxRankChange"], "maxRankChange")


@checker("trading.json", "account_skill", split=split)
def check(case: Any, ctx: Context) -> None:
    section, data = case["section"], case["case"]
    if section == "rubric_max":
        _rubric(data, True, ctx)
    elif section == "rubric_max_without_clv":
        _rubric(data, False, ctx)
    elif section == "cases":
        _case(data, ctx)
    elif section == "blowup_detection":
        _blowup(data, ctx)
    elif section == "rank_stability":
        _rank(data, ctx)
    else:
        raise AssertionError(f"no interpreter for account_skill section {section!r}")
