"""A checker's verdict depends on its case only: not on the cases that ran before it, their order, the case run
alone (``-k``) or twice, nor on the process environment of whoever runs the harness (ADR 0487).

The hidden vector set has more cases per group, in an order we do not know, maybe under ``-n 2 --dist loadfile``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.registry import CHECKERS, Context, load_checkers, load_groups, vectors_dir

load_checkers()
DERIVED = Path(__file__).resolve().parent / "derived"
# Served over HTTP on a fresh database per case: seconds each, covered by the environment test below instead.
SERVED_GROUPS = {("api.json", "http_cases"), ("llm-routing.json", "admin_auth"), ("llm-routing.json", "admin_routing"),
                 ("trading.json", "admin_trades"), ("trading.json", "idempotency_system")}
PER_GROUP = 10

# Deployment settings a developer's or CI's shell may well export; none may reach a case that did not name it.
LEAKY_ENV = {"ADMIN_ALLOWED_IPS": "203.0.113.7/32", "CF_ACCESS_TEAM_DOMAIN": "team.example",
             "CF_ACCESS_AUDIENCE": "aud-0123", "ADMIN_TOKEN": "process-token-0123456789abcdef0123"}
# One case of each group whose checker builds its container with ``tests.support.runtime.fresh_container``, each
# as the published sample gives it (with these variables exported: 401, 403 and 403 instead).
SERVED_CASES = [
    ("llm-routing.json", "admin_auth",
     {"group": "admin_auth", "case": "access headers but validation not configured",
      "input": {"headers": {"cf-access-authenticated-user-email": "a@b.c", "cf-access-jwt-assertion": "jwt"}},
      "expected": {"status": 500, "error": "Server Configuration Error"}}),
    ("llm-routing.json", "admin_routing",
     {"group": "admin_routing", "case": "reference has no routing endpoints",
      "input": {"request": "GET /admin/routing/budget", "authenticated": True},
      "expected": {"referenceStatus": 404, "referenceBody": {"error": "Not found"}, "recommendedStatus": 200,
                   "recommendedTopLevelKeys": ["timestamp", "assumptions", "projection", "limits", "spending",
                                               "categories"]}}),
    ("trading.json", "admin_trades", {"name": "invalid limit 0", "query": {"limit": "0"},
                                      "expected": {"http_status": 400}}),
]


@pytest.mark.parametrize("file,group,case", SERVED_CASES, ids=[f"{f}::{g}" for f, g, _ in SERVED_CASES])
def test_served_cases_ignore_the_process_environment(monkeypatch: pytest.MonkeyPatch, file: str, group: str,
                                                     case: dict[str, Any]) -> None:
    for name, value in LEAKY_ENV.items():
        monkeypatch.setenv(name, value)
    CHECKERS[(file, group)].run(copy.deepcopy(case), Context(file, group, {group: [case]}))


def _verdict(chk: Any, case: Any, ctx: Context) -> str:
    """``pass`` or ``fail (<exception type>)``: a failing case is allowed here, a verdict that changes is not. The
    message is left out, as it may name a random id (``pytest.raises`` that did not raise is no ``Exception``)."""
    try:
        chk.run(case, ctx)
    except (Exception, pytest.fail.Exception, pytest.skip.Exception) as exc:
        return f"fail ({type(exc).__name__})"
    return "pass"


def _spread(items: list[Any], n: int) -> list[Any]:
    """At most ``n`` items, spread over the whole list (the first and the last always among them)."""
    if len(items) <= n:
        return items
    step = (len(items) - 1) / (n - 1)
    return [items[round(i * step)] for i in range(n)]


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True)


def test_in_process_checkers_leave_their_cases_alone_and_do_not_depend_on_order() -> None:
    """Up to ``PER_GROUP`` cases of every in-process group (sample and derived) run in reverse order on one shared
    copy of their group, as the harness shares it, each case twice; the vector data must be unchanged afterwards
    and every verdict equal to the one of the same case run first, alone, on a fresh copy of its group."""
    mutated, differ = [], []
    for path in [p for folder in (vectors_dir(), DERIVED) for p in sorted(folder.glob("*.json"))]:
        pristine = load_groups(path)
        before = _dump(pristine)
        for group in pristine:
            chk = CHECKERS.get((path.name, group))
            if chk is None or (path.name, group) in SERVED_GROUPS:
                continue
            where = f"{path.parent.name}/{path.name}::{group}"
            picked = [case_id for case_id, _ in _spread(list(chk.split(pristine[group])), PER_GROUP)]
            alone = {}
            for case_id in picked:
                # the other groups are shared with every run: a change to them is caught by the file's last check
                fresh = {**pristine, group: copy.deepcopy(pristine[group])}
                alone[case_id] = _verdict(chk, dict(chk.split(fresh[group]))[case_id], Context(path.name, group, fresh))
            shared = {**pristine, group: copy.deepcopy(pristine[group])}
            ctx, cases = Context(path.name, group, shared), dict(chk.split(shared[group]))
            for case_id in reversed(picked):
                for _run in range(2):
                    if (got := _verdict(chk, cases[case_id], ctx)) != alone[case_id]:
                        differ.append(f"{where}::{case_id}: alone {alone[case_id]!r}, after others {got!r}")
            if _dump(shared[group]) != _dump(pristine[group]):
                mutated.append(where)
        if _dump(pristine) != before:
            mutated.append(f"{path.parent.name}/{path.name} (a group other than the checker's own)")
    assert not mutated, f"checkers changed their vector data in place: {mutated}"
    assert not differ, "verdicts depend on the cases run before:\n" + "\n".join(differ[:20])
