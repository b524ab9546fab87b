"""The trading checkers' clock is the vector file's ``meta.conventions`` (ADR 0496), not a date in our code."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.checkers import _conventions as conventions
from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()

TRADING = "trading.json"
# A year minus a day later: the same weekday and the same side of both zones' daylight-saving change, so every
# time-relative vector (offsets from now, trading hours, staleness) means what it meant at the stated now.
SHIFTED_NOW = "2027-02-28T12:00:00.000Z"
# The groups whose checkers take their instant from the conventions.
CLOCK_GROUPS = ("order_lifecycle", "deterministic_ids", "circuit_breaker", "risk_invariants", "execution_policy",
                "account_skill", "bonding_barbell", "weather")


def _write(folder: Path, meta: Any) -> Path:
    doc = json.loads((vectors_dir() / TRADING).read_text())
    if meta is None:
        doc.pop("meta", None)
    else:
        doc["meta"] = meta
    (folder / TRADING).write_text(json.dumps(doc))
    return folder


def _meta(**conventions_: Any) -> dict[str, Any]:
    meta = json.loads((vectors_dir() / TRADING).read_text())["meta"]
    return {**meta, "conventions": {**meta["conventions"], **conventions_}}


def test_clock_when_the_file_states_another_now_and_year_then_both_are_read_from_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = Context(TRADING, "order_lifecycle", {})
    stated = conventions.now(ctx)  # the shipped file, read first so a stale cache would show below
    monkeypatch.setenv("PAULP_SPEC_VECTORS", str(_write(tmp_path, _meta(now=f"{SHIFTED_NOW} (a Sunday)",
                                                                         current_year=2031))))
    assert conventions.now(ctx) == datetime(2027, 2, 28, 12, tzinfo=UTC) != stated
    assert conventions.current_year(ctx) == 2031


def test_clock_when_current_year_is_not_stated_then_it_is_the_year_of_now(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = _meta(now="2029-07-04T09:30:00+00:00")
    del meta["conventions"]["current_year"]
    monkeypatch.setenv("PAULP_SPEC_VECTORS", str(_write(tmp_path, meta)))
    assert conventions.current_year(Context(TRADING, "weather", {})) == 2029


@pytest.mark.parametrize("meta, message", [
    (None, "states no meta.conventions"),
    ({"conventions": {"prices": "cents"}}, "states no 'now'"),
    ({"conventions": {"now": "noon on the first of March"}}, "cannot read an instant"),
    ({"conventions": {"now": "2026-03-01T12:00:00"}}, "cannot read an instant"),  # no offset: whose noon?
    ({"conventions": {"now": "2026-03-01T12:00:00Z", "current_year": "2026"}}, "is not a year"),
])
def test_clock_when_the_file_cannot_say_when_then_the_checker_refuses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, meta: Any, message: str) -> None:
    monkeypatch.setenv("PAULP_SPEC_VECTORS", str(_write(tmp_path, meta)))
    ctx = Context(TRADING, "weather", {})
    with pytest.raises(AssertionError, match=message):
        conventions.now(ctx)
        conventions.current_year(ctx)


def test_clock_when_now_moves_a_year_then_every_time_relative_vector_still_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offsets, ages and hours of the vectors are relative to the stated now, so the checkers must hold at
    any stated now: one that built its inputs at the file's now and judged them at an instant of its own would
    disagree here. (On the sample vectors a checker that kept one literal instant throughout agrees too, so the
    test below is what keeps literals out.)"""
    monkeypatch.setenv("PAULP_SPEC_VECTORS", str(_write(tmp_path, _meta(now=f"{SHIFTED_NOW} (a Sunday)"))))
    groups = load_groups(vectors_dir() / TRADING)
    ran = 0
    for group in CLOCK_GROUPS:
        if group not in groups:
            continue
        chk, ctx = CHECKERS[(TRADING, group)], Context(TRADING, group, groups)
        assert conventions.now(ctx) == datetime(2027, 2, 28, 12, tzinfo=UTC)
        for _, case in chk.split(groups[group]):
            chk.run(case, ctx)
            ran += 1
    assert ran > 0


# Instants a checker may keep of its own, each for a stated reason.
OWN_INSTANTS = {
    # a system scenario that needs a weekday inside trading hours; the conventions' now is a Sunday
    ("trading_idempotency_system.py", "NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)"),
    # llm-routing.json states no now; every case that depends on time gives its own (ADR 0496)
    ("_llm_support.py", "FIXED_NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)"),
}
_LITERAL = re.compile(r"datetime\(\s*\d{4}\s*,|[\"']\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def test_clock_when_a_checker_writes_an_instant_of_its_own_then_it_is_one_of_the_stated_exceptions() -> None:
    folder = Path(conventions.__file__).parent
    found = {(path.name, line.strip().split("  #")[0]) for path in sorted(folder.glob("*.py"))
             for line in path.read_text().splitlines()
             if _LITERAL.search(line) and not line.lstrip().startswith("#")}
    assert found == OWN_INSTANTS, f"instants not read from meta.conventions: {sorted(found - OWN_INSTANTS)}"
