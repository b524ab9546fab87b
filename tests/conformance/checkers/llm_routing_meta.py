"""llm-routing.json meta: the conventions the other llm-routing checkers rely on must still be stated."""

from typing import Any

from tests.conformance.checkers._llm_support import FILE
from tests.conformance.registry import Context, checker

# Each term is interpreted by _llm_support / the group checkers; a conventions note without one of them
# means the vector format changed under us.
RELIED_ON = ("attemptOutcomes", "'ok'", "'error'", "'error:<message>'", "'PROVIDER_TIMEOUT'", "'attempted'",
             "relTolerance", "absTolerance", "origin", "'DEFAULT'", "reference*", "recommended*",
             "messageContains")


@checker(FILE, "meta")
def check(case: Any, ctx: Context) -> None:
    assert case.get("case") == "_conventions", f"unknown meta case {case.get('case')!r}"
    assert case.get("input") == {} and case.get("expected") == {}, "the conventions case states nothing to check"
    note = case.get("note")
    assert isinstance(note, str) and note, "meta conventions note is missing"
    missing = [term for term in RELIED_ON if term not in note]
    assert not missing, f"conventions no longer mention {missing}"
    assert "costUsd 0 unless given" in note, "default usage of an 'ok' attempt changed"
    assert "5.2" in note, "DEFAULT assumptions no longer point at spec 5.2"
    groups = set(ctx.document)
    assert "meta" in groups
