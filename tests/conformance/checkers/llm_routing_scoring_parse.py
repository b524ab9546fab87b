"""llm-routing §6.6: strict parse of the scoring JSON contract, with the documented fallback."""

from typing import Any

from paulp.domain.governance import PARSE_FAILED_WARNING, parse_scoring_output
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "scoring_parse")
def check(case: Any, ctx: Context) -> None:
    unknown = set(case["input"]) - {"content"}
    assert not unknown, f"scoring_parse input fields this checker cannot interpret: {sorted(unknown)}"
    content = case["input"]["content"]
    assert isinstance(content, str), f"content must be text: {content!r}"
    output, fallback = parse_scoring_output(content)
    exp = expected_of(case)
    exp.pop("note", None)
    if fallback:
        assert output.score == 0.5 and output.confidence == 0.0 and output.cited_passages == []
        assert output.warnings == [PARSE_FAILED_WARNING, content[:500]], output.warnings
    parsed = output.as_json()
    if "parsedOutput" in exp and "warnings" not in exp["parsedOutput"] and not parsed["warnings"]:
        parsed.pop("warnings")
    assert_matches({"fallback": fallback, "parsedOutput": parsed}, exp, tolerances(case))
