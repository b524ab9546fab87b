"""trading.json::account_skill — per-position skill rubric (§4.5), blowup flags and rank stability.

Position sets in the vectors are written as short descriptions ("20 positions i=0..19: clv 0.04
valid, pnl 100 when i even and 300 when i odd, ..."); :func:`expand_positions` reads that small
language (scalars, even/odd alternation, ``cycles [..] by i%k``) and fails on anything else.
"""

from __future__ import annotations

import functools
import json
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
from tests.conformance.registry import Context, checker, vectors_dir

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
# description word -> position field
_FIELD_WORDS = {"category": "category", "clv": "clv", "pnl": "pnl", "size": "size", "fees": "fees",
                "ambiguity": "ambiguityScore", "entry": "entryPrice", "closing": "closingLinePrice"}


@functools.cache
def _now(file: str) -> datetime:
    meta = json.loads((vectors_dir() / file).read_text())["meta"]
    return datetime.fromisoformat(meta["conventions"]["now"].split()[0].replace("Z", "+00:00"))


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


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _top_level_commas(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [p for p in [*parts, current.strip()] if p]


def _value_rule(text: str) -> Callable[[int], Any]:
    text = text.strip()
    m = re.fullmatch(r"(\S+) when i even and (\S+) when i odd", text) or \
        re.fullmatch(r"(\S+) \(even i\) / (\S+) \(odd i\)", text)
    if m:
        even, odd = _number(m.group(1)), _number(m.group(2))
        return lambda i: even if i % 2 == 0 else odd
    m = re.fullmatch(r"cycles \[(.*)\] by i%(\d+)", text)
    if m:
        values = [_number(v) for v in m.group(1).split(",")]
        assert len(values) == int(m.group(2)), f"cycle length mismatch in {text!r}"
        return lambda i: values[i % len(values)]
    assert " " not in text, f"cannot interpret value {text!r}"
    value = _number(text)
    return lambda i: value


def expand_positions(description: str, defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand a textual position set into position dicts (defaults overridden per clause)."""
    m = re.match(r"\s*(\d+)\s*(?:x\s+default\s+positions?|positions?)\b(?:\s+i=\d+\.\.\d+)?\s*", description)
    assert m, f"cannot read position count from {description!r}"
    count, body = int(m.group(1)), description[m.end():].strip()
    if body.startswith(":"):
        body = body[1:]
    elif body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    rules: dict[str, Callable[[int], Any]] = {}
    for clause in _top_level_commas(body):
        words = clause.split(" ", 1)
        if clause == "otherwise default":
            continue
        if words[0] in _FIELD_WORDS and len(words) == 2:
            rest = words[1]
            if words[0] == "clv" and rest.endswith((" valid", " invalid")):
                rest, validity = rest.rsplit(" ", 1)
                rules["clvValid"] = (lambda ok: lambda i: ok)(validity == "valid")
            rules[_FIELD_WORDS[words[0]]] = _value_rule(rest)
        elif re.fullmatch(r"[a-z_]+", clause):
            rules["category"] = _value_rule(clause)  # a bare category name: "(..., politics)"
        else:
            raise AssertionError(f"cannot interpret position clause {clause!r}")
    return [{**defaults, **{k: rule(i) for k, rule in rules.items()}} for i in range(count)]


def _position(raw: dict[str, Any], now: datetime) -> ScoredPosition:
    return ScoredPosition(
        market_id=str(raw.get("marketId", "m")), category=raw.get("category"),
        entry_price=raw["entryPrice"], closing_line_price=raw["closingLinePrice"], clv=raw["clv"],
        clv_valid=raw["clvValid"], pnl=raw["pnl"], size=raw["size"], fees=raw["fees"],
        ambiguity_score=raw["ambiguityScore"], entry_at=now - timedelta(days=1), exit_at=now,
    )


def _days_before(value: Any, now: datetime) -> datetime:
    m = re.match(r"now-(\d+)days", str(value))
    assert m, f"cannot read account time {value!r}"
    return now - timedelta(days=int(m.group(1)))


def _case(case: dict[str, Any], ctx: Context) -> None:
    now = _now(ctx.file)
    group = ctx.document[ctx.group]
    metrics = case["metrics"]
    known = {"portfolioValue", "totalFees", "active_days", "blowupFlags", "positions", "accountCreatedAt"}
    assert set(metrics) <= known, f"unknown metrics fields {set(metrics) - known}"
    raw_positions = metrics["positions"]
    defaults = group.get("position_defaults", {})
    if isinstance(raw_positions, str):
        rows = expand_positions(raw_positions, defaults)
    else:
        rows = [{**defaults, **p} for p in raw_positions]
    positions = tuple(_position(r, now) for r in rows)
    account = group.get("account_defaults", {})
    if "active_days" in metrics:
        created = now - timedelta(days=metrics["active_days"])
    else:
        created = _days_before(metrics.get("accountCreatedAt", account.get("accountCreatedAt")), now)
    total_fees = metrics.get("totalFees")
    result = account_skill_score(AccountMetrics(
        positions=positions,
        total_fees=sum(p.fees for p in positions) if total_fees is None else total_fees,
        portfolio_value=metrics.get("portfolioValue", account.get("portfolioValue")),
        account_created_at=created, last_activity_at=now,
        blowup_flags=tuple(metrics.get("blowupFlags", [])),
    ), include_clv=case.get("include_clv", True))
    expected = case["expected"]
    _close(result.total_score, expected["totalScore"], "totalScore")
    assert result.tier == expected["tier"], f"tier: expected {expected['tier']}, got {result.tier}"
    for name, fields in expected.get("factors", {}).items():
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
    now = _now(ctx.file)
    result = account_skill_score(AccountMetrics((), 0, 10000, now, now), include_clv=include_clv)
    for name, max_score in expected.items():
        assert name in _FACTORS, f"unknown factor {name!r}"
        _close(result.factors[_FACTORS[name]].max_score, max_score, f"{name}.maxScore")


def _blowup(case: dict[str, Any], ctx: Context) -> None:
    now = _now(ctx.file)
    positions = [
        BlowupPosition(p["pnl"], p["size"], p.get("category"),
                       now + timedelta(milliseconds=p["entry_offset_ms"]),
                       now + timedelta(milliseconds=p["exit_offset_ms"]))
        for p in case["positions"]
    ]
    flags = [str(f) for f in detect_blowup_signatures(positions)]
    assert flags == case["expected_flags"], f"expected {case['expected_flags']}, got {flags}"


def _rank(case: dict[str, Any], ctx: Context) -> None:
    result = rank_stability([(a["accountId"], a["score"]) for a in case["withCLV"]],
                            [(a["accountId"], a["score"]) for a in case["withoutCLV"]])
    expected = case["expected"]
    assert result.is_stable == expected["isStable"], f"isStable: expected {expected['isStable']}"
    _close(result.unstable_account_pct, expected["unstableAccountPct"], "unstableAccountPct")
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
