"""llm-routing §6.1 step 2: all four provider keys, trimmed, or fail closed."""

from typing import Any

import pytest

from paulp.domain.governed_call import ProviderKeyMissing, provider_keys
from tests.conformance.checkers._llm_support import FILE, assert_matches, expected_of, needles, tolerances
from tests.conformance.registry import Context, checker


@checker(FILE, "executor_keys")
def check(case: Any, ctx: Context) -> None:
    inp = case["input"]
    assert set(inp) == {"env"}, f"cannot interpret executor_keys input {sorted(inp)}"
    env, exp = inp["env"], expected_of(case)
    # A process environment holds strings only: a null or a number is not "absent" or "present", it is unreadable.
    assert isinstance(env, dict) and all(isinstance(v, str) for v in env.values()), f"env values must be text: {env!r}"
    contains = needles(exp.pop("messageContains", []))  # one string or a list; never its characters
    # a case may leave out "ok" (ADR 0486): the failure's own facts say it is a failure
    ok = exp.get("ok", not ({"errorCode", "missingKeys", "message", "retryable"} & set(exp) or contains))
    if ok:
        view: dict[str, Any] = {"ok": True, "keys": provider_keys(env)}
    else:
        with pytest.raises(ProviderKeyMissing) as info:
            provider_keys(env)
        err = info.value
        view = {"ok": False, "errorCode": err.code, "missingKeys": err.missing_keys, "retryable": err.retryable,
                "message": err.message}
        for text in contains:
            assert text in err.message, f"{text!r} not in {err.message!r}"
    assert_matches(view, exp, tolerances(case))
