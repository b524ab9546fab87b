"""Structural rules from design.md and style.md, checked on the source tree."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate

from paulp.adapters.eventstore.codec import make_mapper

ROOT = Path(__file__).resolve().parents[2]
BANNED = {
    "domain": ("paulp.adapters", "paulp.api", "paulp.projections"),
    "projections": ("paulp.adapters", "paulp.api"),
    "adapters": ("paulp.api",),
}
CLOCK_OR_RANDOM = re.compile(r"\b(datetime\.now|datetime\.utcnow|time\.time|uuid4|random\.)")


def imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer,banned", BANNED.items())
def test_layer_when_scanned_then_imports_nothing_outward(layer: str, banned: tuple[str, ...]) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {mod}"
        for path in (ROOT / layer).rglob("*.py")
        for mod in imported_modules(ast.parse(path.read_text()))
        if mod.startswith(banned)
    ]
    assert offenders == []


def test_domain_when_scanned_then_no_wall_clock_uuid4_or_random() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in (ROOT / "domain").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if CLOCK_OR_RANDOM.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def _event_decorated_bodies(tree: ast.AST) -> list[ast.FunctionDef]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Name) and target.id == "event":
                    found.append(node)
    return found


def test_event_methods_when_scanned_then_they_only_apply() -> None:
    """Decide in the public method, apply in the @event one: no raise, clock or randomness on replay."""
    offenders = []
    for path in (ROOT / "domain").rglob("*.py"):
        for fn in _event_decorated_bodies(ast.parse(path.read_text())):
            for node in ast.walk(fn):
                if isinstance(node, ast.Raise):
                    offenders.append(f"{path.name}:{fn.name} raises")
            if CLOCK_OR_RANDOM.search(ast.unparse(fn)):
                offenders.append(f"{path.name}:{fn.name} reads a clock or randomness")
    assert offenders == []


def _aggregates() -> list[type[Aggregate]]:
    import paulp.domain as pkg

    found: dict[str, type[Aggregate]] = {}
    for mod in pkgutil.walk_packages(pkg.__path__, "paulp.domain."):
        module = importlib.import_module(mod.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Aggregate) and obj is not Aggregate and obj.__module__.startswith("paulp."):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_events_when_collected_then_nested_past_tense_and_transcodable() -> None:
    aggregates = _aggregates()
    assert len(aggregates) >= 5
    events = {
        ev for agg in aggregates for ev in vars(agg).values()
        if inspect.isclass(ev) and issubclass(ev, CanMutateAggregate)
    }
    assert events
    for ev in events:
        assert "." in ev.__qualname__, f"{ev} is not nested in its aggregate"
    mapper = make_mapper()
    from datetime import UTC, datetime

    from paulp.domain.breaker import CircuitBreaker

    b = CircuitBreaker(scope="arch")
    b.transition("HALT", "round trip", "test", datetime(2026, 3, 1, tzinfo=UTC))
    for ev in b.collect_events():
        back = mapper.to_domain_event(mapper.to_stored_event(ev))
        assert back.__dict__ == ev.__dict__


def test_readme_test_command_when_compared_then_ci_runs_exactly_it() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    test_cmd = next(b for b in blocks if "pytest" in b and "pip install" in b).strip()
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_cli_when_wired_then_provider_sdks_load_only_for_long_running_processes() -> None:
    """A CLI command builds the container but never calls a model: the SDK imports (~5 s, anthropic's pydantic
    models above all) are left to the first attempt; a server pays them when it freezes its start-up heap, and
    the relay/projector workers, which never call a model, freeze theirs without them (ADR 0439)."""
    import subprocess
    import sys

    probe = ("import sys; import paulp.api.cli, paulp.api.wiring; "
             "sdks = lambda: sorted(m for m in ('anthropic', 'openai') if m in sys.modules); before = sdks(); "
             "from paulp.api.runtime import freeze_startup_heap; freeze_startup_heap(llm_clients=False); "
             "workers = sdks(); freeze_startup_heap(); print(before, workers, sdks())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[] [] ['anthropic', 'openai']"


# What a CLI command runs on: imported inside the command when it runs, never by `paulp --help` (ADR 0407).
# pydantic itself is not listed: typer loads it to parse a subcommand's arguments. api.shutdown (stdlib only) is
# eager: `paulp` installs its SIGINT/SIGTERM handlers before anything runs (ADR 0515).
CLI_LAZY = ("fastapi", "starlette", "uvicorn", "nats", "psycopg", "psycopg_pool", "pydantic_settings",
            "eventsourcing", "anthropic", "openai", "httpx", "cryptography", "jwt", "rich.progress")
CLI_EAGER_PAULP = re.compile(
    r"paulp(\.api(\.cli(_\w+)?|\.console|\.shutdown)?|\.adapters(\.files)?|\.domain(\.clock)?)?\Z")


def test_cli_when_imported_and_its_help_printed_then_no_commands_dependencies_are_loaded() -> None:
    """~100 tests and every operator command start `paulp` afresh: the import of api/cli.py and the typer tree
    it registers (what `--help` and argument checks need) loaded ~1 s of modules no help text uses."""
    import subprocess
    import sys

    probe = ("import json, sys; from typer.testing import CliRunner; from paulp.api.cli import app; "
             "helps = [CliRunner().invoke(app, [*a, '--help']) for a in ([], ['llm', 'regression', 'run'], "
             "['verify', 'run'], ['orders', 'list'], ['rebuild'])]; "
             "print(json.dumps([[h.exit_code for h in helps], helps[2].output, sorted(sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    codes, verify_help, loaded = json.loads(out.stdout)
    assert codes == [0, 0, 0, 0, 0] and "--suite" in verify_help
    lazy = [m for m in loaded if (m.startswith("paulp.") and not CLI_EAGER_PAULP.match(m))
            or any(m == name or m.startswith(name + ".") for name in CLI_LAZY)]
    assert lazy == []


def test_cli_verify_help_when_read_then_it_names_every_suite() -> None:
    """The help text names the suites without importing their case tables (ADR 0407): kept equal here."""
    from paulp.api.cli_verify import SUITE_HELP
    from paulp.domain.verification import SUITES

    assert SUITE_HELP == f"{', '.join(SUITES)} or all"


PIPELINE_SOURCES = ("limits", "policies", "modes", "scoring")
PIPELINE_CONSTANTS = re.compile(r"\b(DEFAULT_LIMITS|POLICIES|INITIAL_STRATEGY_MODES|None)\b")


def pipeline_constructions(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "OrderPipeline"]


def test_api_when_scanned_then_every_order_pipeline_reads_the_operators_limits_policies_and_modes() -> None:
    """OrderPipeline's defaults (DEFAULT_LIMITS, the §5.1 constants, the seed modes, no scoring runs) exist for tests;
    a production pipeline built without the container's sources would trade on other numbers than the rest
    (ADR 0402), or without the LLM gate and I12/I13's inputs (ADR 0425)."""
    built, offenders = 0, []
    for path in (ROOT / "api").rglob("*.py"):
        for call in pipeline_constructions(ast.parse(path.read_text())):
            built += 1
            given = {k.arg for k in call.keywords}
            missing = [name for name in PIPELINE_SOURCES if name not in given]
            constants = [ast.unparse(k.value) for k in call.keywords if k.arg in PIPELINE_SOURCES
                         and PIPELINE_CONSTANTS.search(ast.unparse(k.value))]
            if missing or constants:
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno} missing {missing} constants {constants}")
    assert built >= 3  # wiring.pipeline, the execute job, the order timers' risk retry
    assert offenders == []


def test_pipeline_rule_when_a_construction_lacks_a_source_then_it_is_found() -> None:
    tree = ast.parse("p = OrderPipeline(a, b, c, m, pf, None, limits=x.limit_settings)\n"
                     "q = pipeline_mod.OrderPipeline(a, limits=s, policies=t, modes=u)")
    calls = pipeline_constructions(tree)
    assert [sorted(k.arg for k in c.keywords if k.arg) for c in calls] == [["limits"], ["limits", "modes", "policies"]]
