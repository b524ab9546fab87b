"""Number forms and expected subsets for the groups served over HTTP (ADR 0488; ADR 0486 probed the others).

For ``http_cases`` (api.json), ``admin_trades`` (trading.json), ``admin_routing`` and ``admin_auth``
(llm-routing.json), sample and derived, each case is run

* ``floats``: with the whole file's integers written as floats (10 -> 10.0), then, for a case whose verdict
  changed, with one number at a time rewritten, to name the field;
* ``ints``: the same with integral floats written as ints;
* ``query-numbers``: admin_trades' digit query values (``"limit": "10"``) written as JSON numbers (``10.0``);
* ``drops``: with each expected field left out in turn (at least one kept); a pass, or a refusal naming the case
  "not interpretable" (``REFUSALS``), is fine, any other failure or a crash is recorded.

A mutated case that fails is run again unchanged, so a case that fails anyway is reported as such, not as a
changed verdict. Run by hand (minutes: every run builds an app on a fresh database):

    python -m tests.conformance.probes.served_forms [--form floats|ints|query-numbers|drops] [--group G] [--sample-only]
        [--out report.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.conformance.probes.common import get_at, served_databases, set_at
from tests.conformance.registry import CHECKERS, Checker, Context, load_checkers, load_groups, vectors_dir
from tests.conformance.test_checker_expected_subsets import REFUSALS, _drops, _legit, _target, _with_target
from tests.conformance.test_checker_number_forms import _floats, _ints

DERIVED = Path(__file__).resolve().parents[1] / "derived"
SERVED = (("api.json", "http_cases"), ("trading.json", "admin_trades"), ("llm-routing.json", "admin_routing"),
          ("llm-routing.json", "admin_auth"))
FORMS: dict[str, Callable[[Any], Any]] = {"floats": _floats, "ints": _ints}


def _query_numbers(value: Any) -> Any:
    """admin_trades' ``query`` values that are decimal digits written as JSON numbers, as floats ("10" -> 10.0): a
    generator may write a query value as a number, and the reference prints 10.0 as ``10`` in a URL."""
    if isinstance(value, list):
        return [_query_numbers(v) for v in value]
    if isinstance(value, dict) and isinstance(value.get("query"), dict):
        query = {k: float(v) if _json_integer_text(v) else v for k, v in value["query"].items()}
        return {**value, "query": query}
    return value


def _json_integer_text(value: Any) -> bool:
    """Digits a JSON number could be written as (no leading zero) and a double holds exactly."""
    return (isinstance(value, str) and value.isascii() and value.isdigit() and not value.startswith("0")
            and int(value) < 2**53)


FORMS["query-numbers"] = _query_numbers


def _verdict(chk: Checker, case: Any, ctx: Context) -> str | None:
    """None when the case passes, else the failure as one line."""
    try:
        chk.run(case, ctx)
    except AssertionError as e:
        return f"AssertionError: {str(e)[:300]}"
    except Exception as e:  # a crash is a finding, recorded with its type
        return f"{type(e).__name__}: {str(e)[:300]}"
    return None


def _numbers(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths of every number (not bool) in ``obj``."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _numbers(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _numbers(value, (*path, i))
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield path


def probe(forms: list[str], groups: list[str] | None, sample_only: bool) -> dict[str, Any]:
    load_checkers()
    report: dict[str, Any] = {"findings": [], "groups": {}}
    folders = [(vectors_dir(), "sample")] + ([] if sample_only else [(DERIVED, "derived")])
    for folder, tag in folders:
        for file, group in SERVED:
            if groups and group not in groups:
                continue
            plain = load_groups(folder / file)
            chk = CHECKERS[(file, group)]
            for form in forms:
                started = time.perf_counter()
                stats: Counter[str] = Counter()
                findings = _probe_form(form, chk, plain, file, group, stats)
                for item in findings:
                    item["where"] = f"{tag}/{file}::{group}::{item['where']}"
                report["findings"] += findings
                out = dict(stats, seconds=round(time.perf_counter() - started, 1))
                report["groups"][f"{form}:{tag}/{file}::{group}"] = out
                print(f"{form}:{tag}/{file}::{group}: {out}", file=sys.stderr, flush=True)
    return report


def _probe_form(form: str, chk: Checker, plain: dict[str, Any], file: str, group: str,
                stats: Counter[str]) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = []
    ctx = Context(file, group, plain)
    if form in FORMS:
        rewrite = FORMS[form]
        document = {g: rewrite(d) for g, d in plain.items()}
        rewritten = Context(file, group, document)
        pairs = zip(chk.split(plain[group]), chk.split(document[group]), strict=True)
        for (case_id, case), (_, mutated) in pairs:
            stats["cases"] += 1
            if json.dumps(mutated) == json.dumps(case):
                stats["unchanged-by-rewrite"] += 1
                continue
            stats["mutations"] += 1
            failure = _verdict(chk, mutated, rewritten)
            if failure is None:
                continue
            if _verdict(chk, case, ctx) is not None:
                stats["fails-unchanged"] += 1
                continue
            stats["changed-verdict"] += 1
            if form == "query-numbers":
                culprits = ["query"]
            else:  # the numbers the rewrite changes, one at a time
                fields = [p for p in _numbers(case) if _changes(rewrite, get_at(case, p))]
                culprits = ["/".join(map(str, p)) for p in fields
                            if _verdict(chk, set_at(case, p, rewrite(get_at(case, p))), rewritten) is not None]
            findings.append({"where": case_id, "form": form, "fields": culprits, "failure": failure})
        return findings
    assert form == "drops", form
    for case_id, case in chk.split(plain[group]):
        target = _target(case)
        if not isinstance(target, dict):
            continue
        stats["cases"] += 1
        for dropped, mutated in _drops(target):
            if _legit(group, dropped):
                stats["legit-skipped"] += 1
                continue
            stats["mutations"] += 1
            failure = _verdict(chk, _with_target(case, mutated), ctx)
            if failure is None:
                stats["pass"] += 1
            elif failure.startswith("AssertionError") and any(r in failure for r in REFUSALS):
                stats["refused"] += 1
            else:
                stats["failed"] += 1
                findings.append({"where": case_id, "form": form, "fields": [dropped], "failure": failure})
    return findings


def _changes(rewrite: Callable[[Any], Any], value: Any) -> bool:
    return json.dumps(rewrite(value)) != json.dumps(value)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--form", action="append", choices=[*FORMS, "drops"], help="default: all three")
    ap.add_argument("--group", action="append", help="group name (repeatable), default the four served")
    ap.add_argument("--sample-only", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    with served_databases():
        report = probe(args.form or [*FORMS, "drops"], args.group, args.sample_only)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"{len(report['findings'])} findings in {report['seconds']} s", flush=True)
    for item in report["findings"]:
        print(f"  [{item['form']}] {item['where']} {item['fields']}: {item['failure'][:200]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
