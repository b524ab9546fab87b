"""The hidden set may state fewer expected facts than the sample (only ``exitReason``, not ``realizedPnL``). Each
checker runs the first cases of every section, sample and derived, with one expected field left out at a time (at
least one kept): it must pass, checking less, or refuse the case as not interpretable; never crash on the missing
key (ADR 0486). ``SUBSET_LEGIT`` lists the fields whose absence changes what the rest of the case means."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"
PER_SECTION = 3
# served over HTTP: probes/served_forms.py and test_served_number_forms.py (ADR 0488)
SLOW_GROUPS = {"http_cases", "admin_trades", "admin_routing", "admin_auth"}
REFUSALS = ("not interpretable", "cannot interpret", "expects nothing", "states nothing")
# (group, dropped path) -> why the rest of the case then means something else
SUBSET_LEGIT = {
    ("provider_wire", "expected/body"): "the body is the whole request body: a field left out must be absent",
    ("order_lifecycle", "expected/byState_nonzero"): "byState_nonzero lists every non-zero state",
    ("executor", "expected/auditEvent"): "payloadKeys/payload describe the named audit event",
    ("regression_corpus", "expected/byAttack"): "byAttack is what says the case is about the adversarial corpus",
    ("regression_corpus", "expected/includedInRegressionCorpus"): "it says which corpus total is meant",
    ("hash_chain", "expected/reason"): "an anchor scenario's reason says which failure is expected",
    ("risk_invariants", "expected_score"): "expected_type alone names the cache entry, not a score case",
    ("provider_wire", "expected/recommendedInputTokens"): "a plain key beside one prefixed key is the other side "
                                                          "(ADR 0257); without its sibling it is the asserted side",
}


def _target(case: Any) -> Any:
    if isinstance(case, tuple):
        return case[1]
    if isinstance(case, dict) and "section" in case and isinstance(case.get("case"), dict):
        return case["case"]
    if isinstance(case, dict) and "section" in case and isinstance(case.get("data"), dict):
        return case["data"]
    return case


def _with_target(case: Any, target: Any) -> Any:
    if isinstance(case, tuple):
        return (case[0], target, *case[2:])
    if isinstance(case, dict) and "section" in case and isinstance(case.get("case"), dict):
        return {**case, "case": target}
    if isinstance(case, dict) and "section" in case and isinstance(case.get("data"), dict):
        return {**case, "data": target}
    return target


def _drops(target: dict[str, Any]) -> list[tuple[str, Any]]:
    """(path, target without it): each expected* key beside another, each key of an expected object (nested ones
    too) beside another."""
    out: list[tuple[str, Any]] = []
    tops = [k for k in target if k.startswith("expect")]
    if len(tops) >= 2:
        out += [(k, {kk: v for kk, v in target.items() if kk != k}) for k in tops]

    def walk(obj: Any, path: tuple[str, ...]) -> None:
        if not isinstance(obj, dict):
            return
        for key in obj:
            if len(obj) >= 2:
                dropped = copy.deepcopy(target)
                cur = dropped
                for p in path:
                    cur = cur[p]
                del cur[key]
                out.append(("/".join((*path, key)), dropped))
            walk(obj[key], (*path, key))

    for k in tops:
        walk(target[k], (k,))
    return out


def _legit(group: str, path: str) -> bool:
    return any(group == g and (path == p or path.startswith(p + "/")) for g, p in SUBSET_LEGIT)


def _groups() -> list[Any]:
    """One item per (file, group): its mutated cases run in one test (pytest's per-item cost paid once), and a
    failure names every mutation that crashed or was judged wrong."""
    params = []
    for folder, tag in ((vectors_dir(), "sample"), (DERIVED, "derived")):
        for path in sorted(folder.glob("*.json")):
            groups = load_groups(path)
            for group, data in groups.items():
                chk = CHECKERS.get((path.name, group))
                if chk is None or group in SLOW_GROUPS:
                    continue
                seen: Counter[str] = Counter()
                ctx = Context(path.name, group, groups)
                mutations = []
                for case_id, case in chk.split(data):
                    target = _target(case)
                    if not isinstance(target, dict):
                        continue
                    section = case_id.split("/")[0] if "/" in case_id else "-"
                    seen[section] += 1
                    if seen[section] > PER_SECTION:
                        continue
                    for dropped, mutated in _drops(target):
                        if not _legit(group, dropped):
                            mutations.append((f"{case_id}-{dropped}", _with_target(case, mutated)))
                if mutations:
                    params.append(pytest.param(chk, mutations, ctx, id=f"{tag}/{path.name}::{group}"))
    return params


@pytest.mark.parametrize("chk,mutations,ctx", _groups())
def test_checker_when_an_expected_field_is_left_out_then_it_checks_less_or_refuses_clearly(
        chk: Any, mutations: list[Any], ctx: Context) -> None:
    failed = []
    for ident, case in mutations:
        try:
            chk.run(case, ctx)
        except AssertionError as e:
            if not any(r in str(e) for r in REFUSALS):
                failed.append(f"{ident}: {str(e)[:300]}")
        except Exception as e:  # a KeyError/TypeError on the missing key is the defect this test is for
            failed.append(f"{ident}: {type(e).__name__}: {e}")
    assert not failed, f"{len(failed)} of {len(mutations)} mutations failed:\n" + "\n".join(failed[:20])


@pytest.mark.parametrize(("group", "section", "field", "wrong"), [
    ("position_exits", "cases", "exitReason", "TAKE_PROFIT_HIT"),
    ("execution_policy", "validation", "valid", False),
    ("weather", "weighted_stats", "sampleSize", 12345),
])
def test_checker_when_a_stated_field_is_wrong_then_still_fails(group: str, section: str, field: str,
                                                                wrong: Any) -> None:
    chk = CHECKERS[("trading.json", group)]
    document = load_groups(vectors_dir() / "trading.json")
    case = next(c for cid, c in chk.split(document[group])
                if cid.startswith(section) and field in _target(c).get("expected", {}))
    target = _target(case)
    only = {"expected": {field: wrong}}
    with pytest.raises(AssertionError):
        chk.run(_with_target(case, {**target, **only}), Context("trading.json", group, document))


def test_provider_wire_when_an_error_reply_states_only_its_message_then_still_checked() -> None:
    chk = CHECKERS[("llm-routing.json", "provider_wire")]
    document = load_groups(DERIVED / "llm-routing.json")
    ctx = Context("llm-routing.json", "provider_wire", document)
    case = next(c for _, c in chk.split(document["provider_wire"])
                if {"errorCode", "messageContains"} <= set(c["expected"]))
    only_message = {**case, "expected": {"messageContains": case["expected"]["messageContains"]}}
    chk.run(only_message, ctx)

    for wrong in ("not in the message", ["not in the message"]):  # a string is one fragment, not its characters
        with pytest.raises(AssertionError, match="not in"):
            chk.run({**case, "expected": {"errorCode": case["expected"]["errorCode"], "messageContains": wrong}}, ctx)


@pytest.mark.parametrize("group", ["provider_error", "executor_keys"])
def test_llm_checker_when_message_contains_is_one_wrong_string_then_fails(group: str) -> None:
    chk = CHECKERS[("llm-routing.json", group)]
    document = load_groups(DERIVED / "llm-routing.json")
    ctx = Context("llm-routing.json", group, document)
    case = next(c for _, c in chk.split(document[group]) if "messageContains" in c["expected"])
    given = case["expected"]["messageContains"]
    fragment = given if isinstance(given, str) else given[0]
    wrong = fragment[::-1] + fragment  # every character is in the message, the string is not
    with pytest.raises(AssertionError, match="not in"):  # not checked one character at a time
        chk.run({**case, "expected": {**case["expected"], "messageContains": wrong}}, ctx)
