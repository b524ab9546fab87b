"""llm-routing §8.5/§8.7: regression corpus and adversarial set shapes and invariants."""

from collections import Counter
from typing import Any

from paulp.domain.llm_corpus import ADVERSARIAL_CORPUS, REGRESSION_CORPUS, corpus_violations
from paulp.domain.llm_regression import TestCategory
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "regression_corpus")
def check(case: Any, ctx: Context) -> None:
    assert not case["input"], f"cannot interpret regression_corpus input {sorted(case['input'])}"
    exp = expected_of(case)
    if "byAttack" in exp or "includedInRegressionCorpus" in exp:
        regression_ids = {c.id for c in REGRESSION_CORPUS}
        view: dict[str, Any] = {
            "total": len(ADVERSARIAL_CORPUS),
            "byAttack": dict(Counter(str(a.attack) for a in ADVERSARIAL_CORPUS)),
            "includedInRegressionCorpus": any(a.case.id in regression_ids for a in ADVERSARIAL_CORPUS),
            "uniqueIds": len({a.case.id for a in ADVERSARIAL_CORPUS}) == len(ADVERSARIAL_CORPUS)}
    else:
        by_cat = Counter(str(c.category) for c in REGRESSION_CORPUS)
        view = {"total": len(REGRESSION_CORPUS),
                "byCategory": {str(c): by_cat.get(str(c), 0) for c in TestCategory},
                "byRunType": dict(Counter(c.input.run_type for c in REGRESSION_CORPUS)),
                "uniqueIds": len({c.id for c in REGRESSION_CORPUS}) == len(REGRESSION_CORPUS),
                "violations": corpus_violations(REGRESSION_CORPUS)}
        assert view["violations"] == [], view["violations"]
    assert_matches(view, exp, tolerances(case))
