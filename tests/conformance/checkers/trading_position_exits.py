"""trading.json::position_exits against paulp.domain.exits (trading §3.5).

``rules`` is prose; its thresholds are read out of the text and compared with the code, and the
stated priority is exercised with prices that satisfy several rules at once.
"""

from __future__ import annotations

import re
from typing import Any

from paulp.domain.exits import MAX_HOLDING_HOURS, STOP_LOSS_FACTOR, TAKE_PROFIT_FACTOR, ExitReason, evaluate_exit
from tests.conformance.checkers.trading_reconciliation import close, sectioned
from tests.conformance.registry import Context, checker

_RULE_NUMBER = {
    "stop_loss": (r"price\s*<=\s*entry\s*\*\s*([\d.]+)", float(STOP_LOSS_FACTOR)),
    "take_profit": (r"price\s*>=\s*entry\s*\*\s*([\d.]+)", float(TAKE_PROFIT_FACTOR)),
    "time_exit": (r"hours\s*>\s*([\d.]+)", MAX_HOLDING_HOURS),
}
_PRIORITY_WORDS = {"stop": ExitReason.STOP_LOSS_HIT, "take-profit": ExitReason.TAKE_PROFIT_HIT,
                   "time": ExitReason.TIME_LIMIT_EXCEEDED}


def _rules(rules: Any, _: Context) -> None:
    assert isinstance(rules, dict), f"rules must be an object: {rules!r}"
    for name, text in rules.items():
        if name == "priority":
            order = [w.strip().removeprefix("then ").strip() for w in str(text).split(",")]
            assert [_PRIORITY_WORDS.get(w) for w in order] == list(_PRIORITY_WORDS.values()), f"priority {text!r}"
            # entry 50: price 48 is a stop; held 200 h it still exits as a stop, never as a time exit.
            got = evaluate_exit(50, 48, 200, 1)
            assert got is not None and got.reason is ExitReason.STOP_LOSS_HIT, f"stop must beat time: {got}"
            got = evaluate_exit(50, 80, 200, 1)
            assert got is not None and got.reason is ExitReason.TAKE_PROFIT_HIT, f"target must beat time: {got}"
            continue
        assert name in _RULE_NUMBER, f"no interpreter for rule {name!r}: {text!r}"
        pattern, actual = _RULE_NUMBER[name]
        m = re.search(pattern, str(text))
        assert m, f"rule {name!r} text {text!r} not understood"
        close(actual, float(m.group(1)), f"rule {name} threshold")
    # boundary named by the rules: exactly the holding limit does not exit
    assert evaluate_exit(50, 50, MAX_HOLDING_HOURS, 1) is None, "exactly 168 h must not exit"


# Holding time as the sample writes it (hours) or in another unit the format's durations use (§0: ms unless stated).
# Each unit as (multiply, divide) so that 604 800 000 ms is exactly 168 h, not a binary crumb over it.
_HOLDING_KEYS = {"holdingHours": (1, 1), "heldHours": (1, 1), "holdingMs": (1, 3_600_000),
                 "holdingSeconds": (1, 3600), "holdingMinutes": (1, 60), "holdingDays": (24, 1)}


def _holding_hours(case: Any) -> float:
    given = [k for k in _HOLDING_KEYS if k in case]
    assert len(given) == 1, f"exactly one holding time expected, got {given or 'none'}"
    times, per = _HOLDING_KEYS[given[0]]
    return float(case[given[0]]) * times / per


def _case(case: Any, _: Context) -> None:
    entry, price = float(case["entryPrice"]), float(case["currentPrice"])
    got = evaluate_exit(entry, price, _holding_hours(case), float(case["size"]))
    exp = case["expected"]
    if isinstance(exp, dict):
        unknown = set(exp) - {"exitReason", "realizedPnL", "exitPrice", "note"}
        assert not unknown, f"no interpreter for expected exit fields {sorted(unknown)}"
    if exp is None or ("exitReason" in exp and exp["exitReason"] is None):
        assert got is None, f"expected no exit, got {got}"
        return
    # a case may state only the PnL or the price (ADR 0486): that is an exit, its reason unstated
    assert set(exp) - {"note"}, f"expected exit not interpretable: {exp!r}"
    assert got is not None, f"expected an exit {exp}, got no exit"
    if "exitReason" in exp:
        assert got.reason.value == exp["exitReason"], f"reason {got.reason}, expected {exp['exitReason']}"
    if "realizedPnL" in exp:
        close(got.realized_pnl, exp["realizedPnL"], "realizedPnL")
    if "exitPrice" in exp:
        close(got.exit_price, exp["exitPrice"], "exitPrice")


SPLIT, CHECK = sectioned({"rules": _rules, "cases": _case})


@checker("trading.json", "position_exits", split=SPLIT)
def check(case: Any, ctx: Context) -> None:
    CHECK(case, ctx)
