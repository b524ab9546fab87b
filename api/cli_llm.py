"""``paulp llm``: preview a routing decision, make a governed call, print the budget ledgers, run regressions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from paulp.api.console import cli_console, styled
from paulp.domain.clock import iso_utc

if TYPE_CHECKING:  # imported when a command runs, not for --help (ADR 0407); the wiring pulls in every provider SDK
    from paulp.api.wiring import Container
    from paulp.domain.llm_regression import DriftReport
    from paulp.domain.llm_regression_suite import CaseRun, Suite
    from paulp.domain.services.llm_regression import SuiteRun

llm_app = typer.Typer(help="LLM routing and budgets.", no_args_is_help=True)
console = cli_console()


@contextmanager
def _container() -> Iterator[Container]:
    from paulp.api.cli import wired

    with wired() as container:
        yield container


def _vars(pairs: list[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"--var expects name=value, got {pair!r}")
        out[name] = value
    return out


@llm_app.command("route")
def route(
    run_type: Annotated[str, typer.Option("--run-type", help="one of the 8 run types")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show the decision; call and store nothing")] = False,
    var: Annotated[list[str] | None, typer.Option("--var", help="prompt variable name=value")] = None,
    user: Annotated[str | None, typer.Option(help="caller-supplied user prompt")] = None,
    system: Annotated[str | None, typer.Option(help="caller-supplied system prompt")] = None,
    force_model: Annotated[str | None, typer.Option(help="forced resolved model id")] = None,
    force_route_class: Annotated[str | None, typer.Option(help="forced route class")] = None,
    strategy_id: Annotated[str | None, typer.Option(help="strategy id")] = None,
    target_market: Annotated[str | None, typer.Option(
        help="record the scoring run against this market (the §8.3 gate and I13 read it)")] = None,
    target_pair: Annotated[str | None, typer.Option(
        help="record the scoring run against this market pair id (I12 reads its equivalence)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Route one call: --dry-run prints chain, projected cost and budget state without calling anything."""
    from paulp.api.cli import fail

    if target_market is not None and target_pair is not None:
        raise fail("give --target-market or --target-pair, not both")
    target = ("market", target_market) if target_market is not None else (
        ("market_pair", target_pair) if target_pair is not None else None)
    with _container() as c:
        kwargs: dict[str, Any] = {"system_prompt": system, "user_prompt": user, "strategy_id": strategy_id,
                  "force_model": force_model, "force_route_class": force_route_class}
        if dry_run:
            preview = c.routing.dry_run(run_type, _vars(var), **kwargs).as_json()
            if as_json:
                typer.echo(json.dumps(preview, default=str))
            else:
                _print_preview(preview)
            if preview["failure"] is not None or not preview["budgetAllowed"]:
                raise typer.Exit(1)  # the call would be refused (bad input, missing key, budget): as govern exits
            return
        metadata = None if target is None else {"targetEntityType": target[0], "targetEntityId": target[1]}
        out = c.routing.govern(run_type, _vars(var), metadata=metadata, **kwargs)
        doc = {"decisionId": out.decision_id, "scoringRunId": _scoring_run_id(c, out.decision_id),
               "success": out.success, "modelId": out.model_id,
               "attempted": out.attempted, "errorCode": out.error_code,
               "error": out.error.message if out.error else None,
               "costUsd": out.usage.cost_usd if out.usage else None, "content": out.content}
        typer.echo(json.dumps(doc, default=str) if as_json else "\n".join(f"{k}: {v}" for k, v in doc.items()))
        if not out.success:
            raise typer.Exit(1)


def _scoring_run_id(c: Container, decision_id: str) -> str | None:
    """The id of the call's scoring run (the one ``paulp llm override`` takes), once its outcome is stored."""
    from paulp.domain.llm_records import ScoringRun

    c.routing.flush()  # outcomes are written behind the caller (ADR 0275)
    rid = ScoringRun.create_id(decision_id)
    return str(rid) if c.routing.get_or_none(rid) is not None else None


def _print_preview(p: dict[str, object]) -> None:
    table = Table(title=f"routing preview: {p['runType']}", show_header=False)
    for key in ("routeClass", "resolutionSource", "budgetCategory", "selectedModelId", "projectedCostUsd",
                "estimatedInputTokens", "estimatedOutputTokens", "overrideUsed", "decisionHash", "budgetAllowed",
                "budgetReason", "shouldAlert"):
        table.add_row(key, str(p[key]))
    chain = p["chain"]
    table.add_row("chain", " → ".join(chain) if isinstance(chain, list) else str(chain))
    failure = p["failure"]
    table.add_row("failure", "-" if failure is None else json.dumps(failure))
    missing = p["missingKeys"]
    table.add_row("missingKeys", ", ".join(missing) if isinstance(missing, list) and missing else "-")
    console.print(table)
    budget = p["budget"]
    if isinstance(budget, dict) and budget:
        _print_ledgers(list(budget.values()))


def _print_ledgers(rows: list[dict[str, object]]) -> None:
    table = Table(title="LLM budget (current periods)")
    for col in ("category", "period", "start", "limit $", "spent $", "reserved $", "remaining $", "used %",
                "blocked", "open holds"):
        table.add_column(col, justify="right" if col.endswith(("$", "%", "holds")) else "left")
    for r in rows:
        table.add_row(str(r["category"]), str(r["periodType"]), str(r["periodStart"]),
                      f"{float(str(r['limitUsd'])):.4f}", f"{float(str(r['consumedUsd'])):.6f}",
                      f"{float(str(r['reservedUsd'])):.6f}", f"{float(str(r['remainingUsd'])):.4f}",
                      f"{float(str(r['percentUsed'])):.2f}", Text("yes", "red") if r["isBlocked"] else "no",
                      str(r["openReservations"]))
    console.print(table)


@llm_app.command("budget")
def budget(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Daily and monthly budget per category from the event-sourced ledgers (authoritative, no projector needed)."""
    from paulp.domain.budgets import PeriodType
    from paulp.domain.routing import BudgetCategory
    from paulp.domain.services.routing_types import ledger_json

    with _container() as c:
        rows = []
        for cat in BudgetCategory:
            daily, monthly = c.routing.ledger_snapshots(str(cat))
            rows += [ledger_json(daily), ledger_json(monthly)]
    rows.sort(key=lambda r: (r["periodType"] != PeriodType.DAILY, str(r["category"])))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    _print_ledgers(rows)


# ----------------------------------------------------------------- regression (§8.6-§8.7, ADR 0276)

regression_app = typer.Typer(help="Gold-corpus regression and adversarial suites.", no_args_is_help=True)
llm_app.add_typer(regression_app, name="regression")
SUITES = {"regression": ("regression",), "adversarial": ("adversarial",), "all": ("regression", "adversarial")}
SEVERITY_NOTE = "severity uses |passRateDelta|: a large improvement is also 'severe' (source behaviour, §8.6)"


@regression_app.command("run")
def regression_run(
    suite: Annotated[str, typer.Option(help="regression | adversarial | all")] = "regression",
    baseline: Annotated[str | None, typer.Option(help="stored run id to compare with (§8.6 drift report)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Run every case as a governed scoring call, store the suite, print its summary (exit 1 if not stored)."""
    from paulp.api.cli import fail
    from paulp.api.routing_wiring import uuid7
    from paulp.domain.llm_regression import compare
    from paulp.domain.llm_regression_suite import Suite, stored_summary
    from paulp.domain.services.llm_regression import RegressionNotRunnable, RegressionRunner, SuiteNotStored

    if suite not in SUITES:
        raise fail(f"--suite must be one of {', '.join(SUITES)}, got {suite!r}")
    kinds = tuple(Suite(k) for k in SUITES[suite])
    with _container() as c:
        base = c.routing.regression_suite(baseline) if baseline else None
        if baseline and base is None:
            raise fail(f"no stored regression run {baseline!r}")
        if base is not None and Suite(base.suite) not in kinds:
            raise fail(f"baseline {baseline} is from the {base.suite} suite; compare with --suite {base.suite} or all")
        runner, docs = RegressionRunner(c.routing), []
        for kind in kinds:
            try:
                with _progress(kind) as tick:
                    done = runner.run(kind, str(uuid7()), on_case=tick)
            except RegressionNotRunnable as e:
                raise fail(f"{kind} suite not run (providers not configured or refused): {e.message}; "
                           "nothing was called or stored", 1) from None
            except SuiteNotStored as e:
                raise fail(f"{e.message}; its calls are recorded, the suite result is not", 1) from None
            doc = _suite_doc(done)
            if base is not None and Suite(base.suite) is kind:
                doc["drift"] = _drift_doc(compare(done.summary, stored_summary(
                    base.run_id, base.prompt_version, iso_utc(base.started_at), base.execution_time_ms,
                    base.results)), base.run_id)
            docs.append(doc)
    if as_json:
        typer.echo(json.dumps(docs, default=str))
        return
    for doc in docs:
        _print_suite(doc)


@contextmanager
def _progress(kind: Suite) -> Iterator[Callable[[CaseRun], None]]:
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"{kind} suite", total=None)
        yield lambda _run: bar.advance(task)


def _suite_doc(done: SuiteRun) -> dict[str, Any]:
    from paulp.domain.llm_regression_suite import by_category_json

    s = done.summary
    return {"runId": s.run_id, "suite": str(done.suite), "promptVersion": s.prompt_version, "timestamp": s.timestamp,
            "totalTests": s.total_tests, "passed": s.passed, "failed": s.failed, "passRate": s.pass_rate,
            "byCategory": by_category_json(s), "executionTimeMs": s.execution_time_ms,
            "stored": True, "notificationId": done.notification_id,  # None: an earlier try of this save stored it
            "failures": [{"testId": r.result.test_id, "types": [str(f.type) for f in r.result.failures],
                          "message": "; ".join(f.message for f in r.result.failures)}
                         for r in done.runs if not r.result.passed]}


def _drift_doc(report: DriftReport, baseline: str) -> dict[str, Any]:
    return {"baselineRunId": baseline, "passRateDelta": report.pass_rate_delta,
            "avgScoreDelta": report.avg_score_delta, "avgConfidenceDelta": report.avg_confidence_delta,
            "newFailures": list(report.new_failures), "newPasses": list(report.new_passes),
            "categoryDrifts": {str(k): v for k, v in report.category_drifts.items()},
            "severity": str(report.severity), "recommendation": str(report.recommendation),
            "hasDrift": report.has_drift, "note": SEVERITY_NOTE}


def _print_suite(doc: dict[str, Any]) -> None:
    console.print(styled("bold", f"{doc['suite']} suite", f" run {doc['runId']} (prompt {doc['promptVersion']}): "
                         f"{doc['passed']}/{doc['totalTests']} passed, pass rate {doc['passRate']:.1%}, "
                         f"{doc['executionTimeMs']} ms"))
    table = Table("category", "total", "passed", "failed", "pass rate")
    for cat, t in doc["byCategory"].items():
        table.add_row(cat, str(t["total"]), str(t["passed"]), str(t["failed"]), f"{t['passRate']:.1%}")
    console.print(table)
    for f in doc["failures"]:
        console.print(Text.assemble("  ", ("FAIL", "red"), f" {f['testId']}: {', '.join(f['types'])} ({f['message']})"))
    drift = doc.get("drift")
    if drift:
        console.print(f"drift vs {drift['baselineRunId']}: passRateDelta {drift['passRateDelta']:+.3f}, "
                      f"avgScoreDelta {drift['avgScoreDelta']:+.3f}, avgConfidenceDelta "
                      f"{drift['avgConfidenceDelta']:+.3f}, severity {drift['severity']} → "
                      f"{drift['recommendation']}")
        console.print(f"  new failures: {', '.join(drift['newFailures']) or '-'}; "
                      f"new passes: {', '.join(drift['newPasses']) or '-'}")
        console.print(f"  ({drift['note']})")


@regression_app.command("list")
def regression_list(
    suite: Annotated[str | None, typer.Option(help="regression | adversarial")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="newest runs to show")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Stored suite runs, newest first (views.llm_regression_runs: as far as the projector has caught up)."""
    from paulp.api.cli import fail
    from paulp.domain.llm_regression_suite import Suite

    if suite is not None and suite not in (Suite.REGRESSION, Suite.ADVERSARIAL):
        raise fail(f"--suite must be regression or adversarial, got {suite!r}")
    with _container() as c, c.pool.connection() as conn:
        rows = conn.execute(
            "SELECT run_id, suite, prompt_version, total_tests, passed, failed, pass_rate, execution_time_ms,"
            " started_at FROM views.llm_regression_runs WHERE %(suite)s::text IS NULL OR suite = %(suite)s"
            " ORDER BY started_at DESC, run_id DESC LIMIT %(limit)s", {"suite": suite, "limit": limit}).fetchall()
    docs = [{"runId": r[0], "suite": r[1], "promptVersion": r[2], "totalTests": r[3], "passed": r[4],
             "failed": r[5], "passRate": r[6], "executionTimeMs": r[7], "timestamp": iso_utc(r[8])} for r in rows]
    if as_json:
        typer.echo(json.dumps(docs))
        return
    table = Table("run id", "suite", "prompt", "tests", "passed", "failed", "pass rate", "ms", "timestamp",
                  title="LLM regression runs")
    for d in docs:
        table.add_row(d["runId"], d["suite"], d["promptVersion"], str(d["totalTests"]), str(d["passed"]),
                      str(d["failed"]), f"{d['passRate']:.1%}", str(d["executionTimeMs"]), d["timestamp"])
    console.print(table)


# ----------------------------------------------------------------- pricing (llm-routing §2.1, §5.3; ADR 0399)

pricing_app = typer.Typer(help="Model prices (USD per million tokens) used for projected costs and budgets.",
                          no_args_is_help=True)
llm_app.add_typer(pricing_app, name="pricing")


def _pricing_doc(c: Container) -> dict[str, Any]:
    from paulp.domain.llm_manifest import DEFAULT_PRICES
    from paulp.domain.llm_pricing import price_json

    row = c.routing.pricing()
    prices = row.prices if row is not None else DEFAULT_PRICES
    return {"version": 0 if row is None else row.version,
            "changedBy": None if row is None else row.changed_by,
            "changedAt": None if row is None or row.changed_at is None else iso_utc(row.changed_at),
            "models": [{"modelId": m, **price_json(p), "manifest": p == DEFAULT_PRICES[m]} for m, p in prices.items()],
            "projectedDailyCostUsd": c.routing.budget.projected_daily_cost_usd,
            "projectedMonthlyCostUsd": c.routing.budget.projected_monthly_cost_usd}


def _print_pricing(doc: dict[str, Any]) -> None:
    by = f", changed by {doc['changedBy']} at {doc['changedAt']}" if doc["changedBy"] else " (the manifest's)"
    table = Table(title=f"LLM prices, USD per 1M tokens (version {doc['version']}{by})")
    for col in ("model", "input", "output", "cached input", "source"):
        table.add_column(col, justify="left" if col in ("model", "source") else "right")
    for m in doc["models"]:
        cached = "= input" if m["cachedInput"] is None else f"{m['cachedInput']:g}"
        table.add_row(m["modelId"], f"{m['input']:g}", f"{m['output']:g}", cached,
                      "manifest" if m["manifest"] else "operator")
    console.print(table)
    console.print(f"budget envelopes derive from: projected daily ${doc['projectedDailyCostUsd']:.6f},"
                  f" monthly ${doc['projectedMonthlyCostUsd']:.6f}", highlight=False)


@pricing_app.command("show")
def pricing_show(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """The prices in force (the manifest's until an operator changes one) and the daily projection they give."""
    with _container() as c:
        doc = _pricing_doc(c)
    if as_json:
        typer.echo(json.dumps(doc))
        return
    _print_pricing(doc)


def _usd_rate(name: str, text: str | None, allow_none: bool = False) -> float | None:
    from paulp.api.cli import fail

    if text is None or (allow_none and text.strip().lower() == "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise fail(f"{name} must be a number of USD per million tokens{' or none' if allow_none else ''},"
                   f" got {text!r}") from None


@pricing_app.command("set")
def pricing_set(
    model: Annotated[str, typer.Argument(help="resolved model id, e.g. anthropic:claude-opus-4-6")],
    reason: Annotated[str, typer.Option(help="why (kept in the log)")],
    actor: Annotated[str, typer.Option(help="who changes it")],
    input_rate: Annotated[str | None, typer.Option("--input", help="USD per 1M input tokens")] = None,
    output_rate: Annotated[str | None, typer.Option("--output", help="USD per 1M output tokens")] = None,
    cached_rate: Annotated[str | None, typer.Option(
        "--cached-input", help="USD per 1M cached input tokens, or none (= the input rate)")] = None,
) -> None:
    """Change one model's prices (rates not given keep their value), recorded as LlmBudgetAssumptionsChanged:
    projected costs and budget envelopes use them from the next call. Bad input exits 2 and records nothing."""
    from paulp.api.cli import fail
    from paulp.domain.llm_pricing import InvalidLlmPrice

    rates: dict[str, object] = {}
    for key, name, text, allow_none in (("input", "--input", input_rate, False),
                                        ("output", "--output", output_rate, False),
                                        ("cachedInput", "--cached-input", cached_rate, True)):
        if text is not None:
            rates[key] = _usd_rate(name, text, allow_none)
    if not rates:
        raise fail("give at least one of --input, --output, --cached-input")
    with _container() as c:
        try:
            version, nid = c.routing.set_prices({model: rates}, actor, reason)
        except InvalidLlmPrice as e:
            raise fail(e.message) from None
        doc = _pricing_doc(c)
    console.print(f"prices of {model} changed (version {version}, notification {nid})", highlight=False)
    _print_pricing(doc)


# ------------------------------------------------------------------ §8.3 human review and the execution gate


@llm_app.command("override")
def override_run(
    run_id: Annotated[str, typer.Argument(help="the scoring run's id (views.llm_scoring_runs.run_id)")],
    score: Annotated[float, typer.Option(help="the score the reviewer stands behind, 0..1 on the run type's scale")],
    reason: Annotated[str, typer.Option(help="why (kept with it in the log)")],
    actor: Annotated[str, typer.Option(help="who reviewed it")],
) -> None:
    """Record a human override of a scoring run (§8.3): it clears the review flag, opening the market's execution
    gate, and its score is the one I12/I13 judge (ADR 0425)."""
    from paulp.api.cli import fail, services
    from paulp.api.contexts import context
    from paulp.domain.llm_records import InvalidOverride, UnknownScoringRun
    from paulp.domain.services.scoring_reviews import ScoringReviewService

    with services() as (_, svc), context(ScoringReviewService, svc.database_url) as app:
        try:
            nid = app.override(run_id, score, reason, actor)
        except (InvalidOverride, UnknownScoringRun) as exc:
            raise fail(exc.message) from None
    console.print(f"scoring run {run_id} overridden with score {score} (notification {nid})", highlight=False)


@llm_app.command("gate")
def gate(
    market: Annotated[str, typer.Argument(help="market ticker (a scoring run's targetEntityId)")],
    strategy: Annotated[str | None, typer.Option(help="judge for this strategy (gated? equivalence?)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The market's execution gate and the ambiguity score / equivalence grade the risk check would use, from the
    scoring-runs view (it follows the projector). Exit 1 when the gate is closed."""
    from psycopg_pool import ConnectionPool

    from paulp.adapters.scoring_runs import ViewScoring
    from paulp.api.cli import services
    from paulp.api.routing_queries import scoring_gate_document

    with services() as (_, svc), ConnectionPool(svc.database_url, min_size=1, max_size=1, open=True,
                                                kwargs={"autocommit": True}) as pool:
        doc = scoring_gate_document(ViewScoring(pool).market_scoring(market), strategy)
    if as_json:
        typer.echo(json.dumps(doc))
    else:
        g = doc["gate"]
        console.print(f"{market}: gate {'open' if g['canExecute'] else 'closed'}"
                      f"{'' if g['reason'] is None else ' - ' + g['reason']} (run {g['runId'] or '-'})",
                      highlight=False)
        console.print(f"  ambiguity {doc['ambiguityScore']} (run {doc['ambiguityRunId'] or '-'}, "
                      f"{doc['ambiguityScoreSource'] or '-'}); equivalence {doc['equivalenceGrade'] or 'not_evaluated'}"
                      f" (run {doc['equivalenceRunId'] or '-'})", highlight=False)
        table = Table("run id", "type", "target", "created", "score", "flagged", "override")
        for r in doc["runs"]:
            table.add_row(r["runId"], r["runType"], r["target"], r["createdAt"], str(r["score"]), str(r["flagged"]),
                          "-" if r["humanOverrideScore"] is None else str(r["humanOverrideScore"]))
        console.print(table)
    if not doc["gate"]["canExecute"]:
        raise typer.Exit(1)
