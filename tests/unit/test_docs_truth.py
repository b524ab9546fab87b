"""What README.md and docs/*.md tell an operator is true of the code (ADR 0525).

Each check reads the code's own registry, never a second list kept here: the ``paulp`` command tree from the typer
app, the environment variables from ``Settings`` and the modules that read the environment, the HTTP routes from
the FastAPI app ``create_app`` builds. The seed runbook's secret names and endpoints (a bundled copy of
``shared/seed/000_7308a25f6c1039c2.txt``) must each be ours and be mapped in ``docs/operations.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
OPERATOR_DOCS = (ROOT / "README.md", ROOT / "docs" / "operations.md")
SEED_RUNBOOK = Path(__file__).parent / "fixtures" / "seed_runbook_000_7308a25f6c1039c2.txt"
SOURCE_DIRS = ("domain", "projections", "adapters", "api")

# Upper-case names in the docs that look like variables but are codes the code emits (not read from the environment)
NOT_VARIABLES = {"LLM_DRIFT_FAILURE"}  # an alert code (llm-routing §8)
# Read by the test suite and its by-hand campaigns (tests/), named in README's Checks section
SUITE_VARIABLES = {"PAULP_SPEC_VECTORS", "PAULP_HYPOTHESIS_SCALE"}
VARIABLE = re.compile(
    r"\b(?:ENVIRONMENT|SYSTEM_NAME|(?:PAULP|KALSHI|LLM|NOAA|ADMIN|CF_ACCESS|CLOUDFLARE|WEBHOOK|METRICS|IBKR)_[A-Z0-9_<>]+"
    r"|(?:ANTHROPIC|MINIMAX|MOONSHOT|GOOGLE_AI)_API_KEY)\b")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Named as prefixes (auth, 404 rules), not as routes
PREFIXES = ("/admin", "/dashboard", "/exec", "/webhooks", "/health/debug")


# ---------------------------------------------------------------------------------------------- reading the docs

def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _spans(text: str) -> Iterator[str]:
    """Every inline code span and every line of a fenced block, on one line, with markdown's ``\\|`` as ``|``."""
    fenced = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
    for block in fenced.finditer(text):
        joined = re.sub(r"\\\n\s*", " ", block.group(1))  # shell line continuations
        yield from (line.strip() for line in joined.splitlines() if line.strip())
    for span in re.finditer(r"`([^`]+)`", fenced.sub("", text)):
        yield " ".join(span.group(1).replace("\\|", "|").split())


def _blocks(text: str) -> Iterator[str]:
    """Paragraphs, list items and table rows: the unit an option named on its own (`--json`) belongs to."""
    yield from re.split(r"\n(?=\s*(?:[-*] |\d+\. |\||#)|\s*\n)", text)


def _doc_spans() -> Iterator[tuple[Path, str]]:
    for doc in DOCS:
        for span in _spans(_text(doc)):
            yield doc, span


# ---------------------------------------------------------------------------------------------- the CLI

@cache
def _cli() -> Any:
    from paulp.api.cli import app

    return typer.main.get_command(app)


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")} | {"--help"}


COMMAND_STOP = {"/", "&&", ";", "||", ">", "paulp"}


def _commands_in(span: str) -> Iterator[tuple[list[str], list[str]]]:
    """``paulp a b --x …`` in a span → (the words after ``paulp`` up to the command's end, its options)."""
    for m in re.finditer(r"(?:^|(?<=[\s/(]))paulp\s+([a-z].*)", span):
        words: list[str] = []
        for word in m.group(1).split():
            if word in COMMAND_STOP or word.startswith("|"):
                break
            words.append(word)
        yield words, [w for w in words if w.startswith("--")]


def _resolve(words: list[str]) -> tuple[list[Any], str | None]:
    """The commands the words name (one, or several for ``a|b|c``), or why they name none."""
    node: Any = _cli()
    path: list[str] = []
    for word in words:
        if not hasattr(node, "commands"):
            break
        if word.startswith(("-", "[", "(", "<", "…")) or not re.fullmatch(r"[a-z][a-z0-9|-]*", word):
            return [node], None  # the rest are arguments and options
        names = word.split("|")
        unknown = [n for n in names if n not in node.commands]
        if unknown:
            return [], f"`paulp {' '.join([*path, word])}`: no command {unknown} under `paulp {' '.join(path)}`"
        if len(names) > 1:
            return [node.commands[n] for n in names], None
        node, path = node.commands[word], [*path, word]
    return [node], None


def _option_name(word: str) -> str:
    return re.match(r"--[a-z][a-z0-9-]*", word).group(0) if re.match(r"--[a-z]", word) else word  # type: ignore[union-attr]


def test_every_paulp_command_and_option_in_the_docs_exists() -> None:
    problems: list[str] = []
    seen = 0
    for doc, span in _doc_spans():
        for words, opts in _commands_in(span):
            seen += 1
            commands, problem = _resolve(words)
            if problem:
                problems.append(f"{doc.name}: {problem}")
                continue
            for opt in map(_option_name, opts):
                if not any(opt in _options(c) for c in commands):
                    problems.append(f"{doc.name}: `paulp {' '.join(words)}`: no option {opt}")
    assert seen > 150, f"only {seen} `paulp` commands found in the docs: the extraction broke"
    assert not problems, "\n".join(problems)


def _named_commands(text: str) -> list[Any]:
    return [c for s in _spans(text) for words, _ in _commands_in(s) for c in _resolve(words)[0]]


def test_every_option_named_beside_a_command_exists_on_one_named_there() -> None:
    """`paulp breaker status` (`--json`, `--limit N`): an option in a span of its own belongs to a command named in
    its paragraph, list item or table row, or in its section."""
    problems: list[str] = []
    for doc in DOCS:
        for section in re.split(r"\n(?=#)", _text(doc)):
            in_section = _named_commands(section)
            for block in _blocks(section):
                named = _named_commands(block) + in_section
                for span in _spans(block):
                    if named and re.fullmatch(r"--[a-z][a-z0-9-]*( [^-].*)?", span):
                        opt = _option_name(span.split()[0])
                        if not any(opt in _options(c) for c in named):
                            problems.append(f"{doc.name}: `{span}` is an option of none of "
                                            f"{sorted({c.name for c in named})} named with it: {block[:80]!r}")
    assert not problems, "\n".join(problems)


def test_every_projection_the_docs_name_to_a_command_exists() -> None:
    from paulp.projections.registry import all_projections

    names = set(all_projections())
    wrong = {(doc.name, m.group(1)) for doc, span in _doc_spans()
             for m in re.finditer(r"--projection ([a-z_]+)\b", span) if m.group(1) not in names}
    assert not wrong, f"unknown projections named in the docs: {sorted(wrong)}; known: {sorted(names)}"


# ---------------------------------------------------------------------------------------------- environment

def _provider_names(template: str) -> set[str]:
    from paulp.domain.routing import Provider

    return {template.replace("<PROVIDER>", p.upper()) for p in Provider}


@cache
def _code_reads() -> frozenset[str]:
    """Every variable the code reads: the settings, and the modules that read their own from the environment."""
    from paulp.adapters.config import Settings
    from paulp.adapters.kalshi import client, rate_limit, signing
    from paulp.adapters.llm import registry
    from paulp.domain import routing

    names = set(Settings.model_fields)
    names |= set(registry.API_KEY_VARS.values()) | {registry.CLOUDFLARE_ACCOUNT_VAR, registry.CLOUDFLARE_TOKEN_VAR}
    for var in (registry.base_url_var, registry.timeout_var, registry.max_bytes_var):
        names |= {var(p) for p in routing.Provider}
    names |= {client.BASE_URL_ENV, client.TIMEOUT_ENV, client.MAX_RESPONSE_BYTES_ENV, signing.KEY_ENV,
              signing.PRIVATE_KEY_ENV, rate_limit.TIER_ENV, rate_limit.READS_ENV, rate_limit.WRITES_ENV,
              routing.ENV_FORCE_MODEL, routing.ENV_FORCE_ROUTE_CLASS}
    return frozenset(names)


def _documented_variables(docs: tuple[Path, ...]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for doc in docs:
        for name in VARIABLE.findall(_text(doc)):
            if name.endswith("_"):
                continue  # `ADMIN_ALLOWED_*`, `LLM_ROUTING_FORCE_MODEL`/`_ROUTE_CLASS`: a family, its members named too
            for expanded in (_provider_names(name) if "<PROVIDER>" in name else {name}):
                found.setdefault(expanded, set()).add(doc.name)
    return found


def test_every_environment_variable_the_docs_name_is_read_by_the_code() -> None:
    named = _documented_variables(DOCS)
    unread = {n: sorted(d) for n, d in named.items() if n not in _code_reads() | NOT_VARIABLES | SUITE_VARIABLES}
    assert not unread, f"variables the docs name that no code reads: {unread}"


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    documented = set(_documented_variables(OPERATOR_DOCS))
    undocumented = sorted(_code_reads() - documented)
    assert not undocumented, f"read by the code, named in neither README.md nor docs/operations.md: {undocumented}"


def test_every_environment_read_in_the_source_is_in_the_registry_above() -> None:
    """A module that starts reading a variable of its own (``os.environ.get("X")``, ``X_ENV = "X"``) is seen here."""
    literal = re.compile(r"""(?:environ\.get\(|environ\[|getenv\(|^[A-Z_]*_(?:ENV|VAR) = )["']([A-Z][A-Z0-9_]+)["']""",
                         re.MULTILINE)
    ignored = {"PATH", "COLUMNS"}  # the OS's search path and the terminal width, not configuration
    found = {(p.relative_to(ROOT).as_posix(), m.group(1)) for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py")
             for m in literal.finditer(p.read_text(encoding="utf-8"))}
    assert len(found) >= 8, "the source scan found almost nothing: the pattern broke"
    unknown = sorted(f for f in found if f[1] not in _code_reads() | ignored)
    assert not unknown, f"variables read in the source, missing from _code_reads (so from the docs check): {unknown}"


# ---------------------------------------------------------------------------------------------- HTTP routes

@cache
def _app() -> Any:
    """The app as `paulp serve` builds it, in development (so the OpenAPI paths exist too). ``create_app`` reads the
    settings and keeps the database URL for its pool, which only the app's start-up opens: never run here."""
    from paulp.adapters.config import Settings
    from paulp.api.app import create_app

    settings = Settings(ENVIRONMENT="development", ADMIN_TOKEN="docs-truth-token")  # type: ignore[arg-type]
    container: Any = SimpleNamespace(settings=settings, database_url="postgresql://unused@127.0.0.1:1/unused")
    return create_app(container)


@cache
def _routes() -> frozenset[tuple[str, str]]:
    """(method, path template) of every route the app serves."""
    from fastapi.routing import APIRoute

    app = _app()
    routes = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    for route in app.routes:  # the schema's own paths and routes kept out of it
        path = getattr(route, "path", None)
        if not isinstance(route, APIRoute) and isinstance(path, str):
            routes |= {(m, path) for m in (getattr(route, "methods", None) or {"GET"}) if m != "HEAD"}
    return frozenset(routes)


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def _expand(path: str) -> list[str]:
    """``/a/{b,c/{id}}`` → ``/a/b``, ``/a/c/{id}``; ``{x|y}`` likewise; ``{1..4}`` → ``{n}``; ``<id>`` → ``{id}``."""
    path = re.sub(r"<([a-z_]+)>", r"{\1}", path)
    path = re.sub(r"\{\d+\.\.\d+\}", "{n}", path)
    depth, start = 0, None
    for i, ch in enumerate(path):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                inner = path[start + 1:i]
                parts = _split_top(inner)
                if len(parts) > 1:
                    return [x for part in parts for x in _expand(path[:start] + part + path[i + 1:])]
                start = None
    return [path]


def _split_top(inner: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch in ",|" and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    return [*parts, cur]


PATH = re.compile(r"(?:(?<=\s)|^|(?<=\d{4}))(/(?:admin|dashboard|health|webhooks|metrics|exec|openapi\.json|docs|redoc)"
                  r"(?:[/A-Za-z0-9_.{},|<>-]|\.\.)*)")


def _doc_paths() -> Iterator[tuple[Path, str | None, str]]:
    """(doc, method or None, path) for every HTTP path the docs name. A method-less span right after one with a
    method in a list (`GET /`, `/health`, `/health/live`) has that method."""
    for doc in DOCS:
        for line in _text(doc).splitlines():
            method: str | None = None
            last_end = -1
            for span in re.finditer(r"`([^`]+)`", line.replace("\\|", "|")):
                text = span.group(1)
                lead = re.match(r"((?:(?:GET|POST|PUT|PATCH|DELETE)\|?)+) ", text)
                if lead:
                    methods = lead.group(1).split("|")
                elif method is not None and re.fullmatch(r",\s*", line[last_end:span.start()]):
                    methods = [method]
                else:
                    methods = []
                method = methods[0] if len(methods) == 1 else None
                last_end = span.end()
                if lead and text[lead.end():].split(" ")[0] == "/":
                    yield from ((doc, verb, "/") for verb in methods)
                for m in PATH.finditer(text):
                    raw = m.group(1).rstrip(".,")
                    if raw.endswith(("*", "/")) or raw in PREFIXES:
                        continue  # a prefix (`/admin`, `/exec/*`, `/health*`) or a path said to be unknown (`/x/`)
                    for path in _expand(raw.split("?")[0].split("[")[0]):
                        for verb in methods or [None]:
                            yield doc, verb, path


def _matches(path: str, template: str) -> bool:
    """A documented path names a route: concrete segments match its parameters, a named parameter matches any."""
    doc = re.sub(r"\{[^}]+\}", "{}", path)
    code = re.sub(r"\{[^}]+\}", "{}", template)
    return doc == code or bool(_template_regex(template).match(path))


def test_every_http_path_the_docs_name_is_a_route_with_that_method() -> None:
    routes = _routes()
    problems = []
    named = list(_doc_paths())
    assert len(named) > 100, f"only {len(named)} paths found in the docs: the extraction broke"
    for doc, method, path in named:
        hits = [(m, t) for m, t in routes if _matches(path, t)]
        if not hits:
            problems.append(f"{doc.name}: {path} is no route")
        elif method is not None and method not in {m for m, _ in hits}:
            problems.append(f"{doc.name}: {method} {path}: the route takes only {sorted({m for m, _ in hits})}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_route_is_documented_with_its_method() -> None:
    named = {(method, path) for _, method, path in _doc_paths() if method is not None}
    missing = sorted((m, t) for m, t in _routes() if not any(mm == m and _matches(p, t) for mm, p in named)
                     and t not in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"))
    assert not missing, f"routes no doc names with their method: {missing}"


# ---------------------------------------------------------------------------------------------- the seed runbook

def _seed() -> str:
    return SEED_RUNBOOK.read_text(encoding="utf-8")


def _seed_secrets() -> set[str]:
    return set(re.findall(r"wrangler secret put ([A-Z_]+)", _seed()))


def _seed_endpoints() -> list[tuple[str, str, set[str]]]:
    """(method, path, query names) of every curl in the seed."""
    found = []
    for cmd in re.findall(r"curl[^\n]*(?:\\\n[^\n]*)*", _seed()):
        url = re.search(r"https://[^/\s\"]+(/[^\s\"]*)", cmd)
        assert url is not None, cmd
        path, _, query = url.group(1).partition("?")
        method = "POST" if "-X POST" in cmd else "GET"
        found.append((method, path, {kv.split("=")[0] for kv in query.split("&") if kv}))
    return found


def test_the_seed_runbook_copy_is_read() -> None:
    assert len(_seed_secrets()) == 17 and len(_seed_endpoints()) == 6


@pytest.mark.parametrize("name", sorted(set(re.findall(r"wrangler secret put ([A-Z_]+)",
                                                       SEED_RUNBOOK.read_text(encoding="utf-8")))))
def test_every_seed_secret_keeps_its_name_is_read_and_is_in_the_mapping(name: str) -> None:
    assert name in _code_reads(), f"{name}: the runbook's secret is read by no code"
    mapping = _mapping_section()
    assert re.search(rf"`{name}`", mapping), f"{name} is not in docs/operations.md's runbook mapping"


def _mapping_section() -> str:
    text = _text(ROOT / "docs" / "operations.md")
    m = re.search(r"^## The seed runbook, mapped\n(.*?)(?=^## )", text, re.DOTALL | re.MULTILINE)
    assert m is not None, "docs/operations.md has no '## The seed runbook, mapped' section"
    return m.group(1)


def test_every_seed_endpoint_is_a_route_with_its_method_and_query_and_is_in_the_mapping() -> None:
    schema = _app().openapi()["paths"]
    mapping = _mapping_section()
    for method, path, query in _seed_endpoints():
        hits = [t for m, t in _routes() if m == method and _matches(path, t)]
        assert hits, f"{method} {path} (seed runbook) is no route of ours"
        operation = schema[hits[0]].get(method.lower(), {})
        params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert query <= params, f"{method} {path}: the seed's query {sorted(query - params)} is not accepted"
        assert f"{method} {path}" in mapping, f"{method} {path} is not in docs/operations.md's runbook mapping"


# ---------------------------------------------------------------------------------------------- quoted defaults

def _flat(path: Path) -> str:
    return " ".join(_text(path).split())


@cache
def _money_defaults() -> list[tuple[str, str, tuple[float, ...]]]:
    """(doc, phrase with the quoted figures as groups, the code's figures): the defaults an operator reads that decide
    what is bought, sold, halted or spent."""
    from paulp.adapters.config import Settings
    from paulp.api.exit_jobs import MAX_MARK_AGE
    from paulp.domain import breaker_rules as br
    from paulp.domain import exits
    from paulp.domain.capital import DEFAULT_ALLOCATIONS
    from paulp.domain.compliance import PROPOSAL_TTL as COMPLIANCE_TTL
    from paulp.domain.compliance_matrix import REVIEW_EVERY
    from paulp.domain.execution_policy import POLICIES, ExecutionMode
    from paulp.domain.fair_values import MAX_VALIDITY
    from paulp.domain.order_values import DEFAULT_POLICY
    from paulp.domain.risk_limit_settings import PROPOSAL_TTL
    from paulp.domain.risk_limits import DEFAULT_LIMITS as L
    from paulp.domain.services.routing import STALE_HOLD
    from paulp.domain.webhook_alerts import REPEAT_WINDOW

    paper, live = POLICIES[ExecutionMode.PAPER], POLICIES[ExecutionMode.LIVE]
    capital = {a.strategy: a.capital for a in DEFAULT_ALLOCATIONS}
    fields = Settings.model_fields
    n = r"([0-9]+(?:\.[0-9]+)?)"
    return [
        ("README.md", rf"an order resting unfilled past {n} minutes is cancelled",
         (paper.stale_order_timeout_sec / 60,)),
        ("README.md", rf"market moves more than {n} cents from its limit", (paper.cancel_on_price_move * 100,)),
        ("README.md", rf"counts until it expires \(at most {n} d\)", (MAX_VALIDITY.days,)),
        ("README.md", rf"proposed by one operator, approved by another within {n} h",
         (COMPLIANCE_TTL.total_seconds() / 3600,)),
        ("README.md", rf"moves the next one {n} days on", (REVIEW_EVERY.days,)),
        ("operations.md", rf"moves the next review {n} days from now", (REVIEW_EVERY.days,)),
        ("operations.md", rf"HALT moves to RECOVERY by itself after more than {n} minutes",
         (br.HALT_TIMEOUT.total_seconds() / 60,)),
        ("operations.md", rf"HALT times out to RECOVERY after {n} minutes", (br.HALT_TIMEOUT.total_seconds() / 60,)),
        ("operations.md", rf"strategy's capital\*\*: bonding \${n}, weather \${n}", (capital["bonding"],
                                                                                     capital["weather"])),
        ("operations.md", rf"One order may be {n} % of it \(I1: \${n} for bonding\), a day may lose {n} % \(I5\), "
                          rf"a week {n} % \(I7\), and drawdown from the strategy's peak equity may reach {n} % \(I6\)",
         (L.max_position_pct, capital["bonding"] * L.max_position_pct / 100, L.max_daily_loss_pct,
          L.max_weekly_loss_pct, L.max_drawdown_pct)),
        ("operations.md", rf"a drawdown ≥ {n} % or a daily loss ≥ {n} % of the capital is a critical alert",
         (br.DRAWDOWN_CRITICAL_PCT, br.DAILY_LOSS_CRITICAL_PCT)),
        ("operations.md", rf"re-arms when the figure is back under {n} % / {n} %",
         (br.DRAWDOWN_ALERT_PCT, br.DAILY_LOSS_ALERT_PCT)),
        ("operations.md", rf"stop at ≤ {n} % of its average entry, take-profit at ≥ {n} %, time exit after {n} h",
         (float(exits.STOP_LOSS_FACTOR) * 100, float(exits.TAKE_PROFIT_FACTOR) * 100, exits.MAX_HOLDING_HOURS)),
        ("operations.md", rf"Marks older than {n} minutes", (MAX_MARK_AGE.total_seconds() / 60,)),
        ("operations.md", rf"RISK_CHECK unanswered for {n} s goes RISK_TIMEOUT",
         (DEFAULT_POLICY.risk_check_timeout.total_seconds(),)),
        ("operations.md", rf"no fill {n} s after submission, or PARTIAL_FILL below {n} % filled",
         (paper.stale_order_timeout_sec, paper.min_fill_pct * 100)),
        ("operations.md", rf"more than {n} cents \(`cancel_on_price_move` {n}\)",
         (paper.cancel_on_price_move * 100, paper.cancel_on_price_move)),
        ("operations.md", rf"a third resubmit \(`max_resubmits` {n}\)", (paper.max_resubmits,)),
        ("operations.md", rf"order spacing, PAPER {n} s and LIVE {n} s",
         (paper.min_order_spacing_ms / 1000, live.min_order_spacing_ms / 1000)),
        ("operations.md", rf"LIVE's {n} orders a minute, {n} an hour and {n} USD a day",
         (live.max_orders_per_minute, live.max_orders_per_hour, live.max_daily_volume_cents / 100)),
        ("operations.md", rf"puts it in force within {n} h", (PROPOSAL_TTL.total_seconds() / 3600,)),
        ("operations.md", rf"at most `{n}d`", (MAX_VALIDITY.days,)),
        ("operations.md", rf"holds older than {n} minutes are charged", (STALE_HOLD.total_seconds() / 60,)),
        ("operations.md", rf"within {n} minutes of the delivery that acted", (REPEAT_WINDOW.total_seconds() / 60,)),
        ("operations.md", rf"`Depth \$x below \${n}`", (paper.min_depth_to_trade,)),
        ("operations.md", rf"VPIN x is toxic \(at or above {n}\)", (paper.max_vpin_to_trade,)),
        ("operations.md", rf"`PAULP_SHUTDOWN_GRACE_S` \({n} s\)", (fields["PAULP_SHUTDOWN_GRACE_S"].default,)),
        ("operations.md", rf"`PAULP_RISK_MAX_VIEW_LAG_S` \({n} s\)", (fields["PAULP_RISK_MAX_VIEW_LAG_S"].default,)),
        ("operations.md", rf"The order timers' fields are policy fields too \(ADR 0402; defaults\): "
                          rf"`staleOrderTimeoutSec` {n}, `cancelOnPriceMove` {n}, `minFillPct` {n}, "
                          rf"`allowResubmit` true, `maxResubmits` {n}",
         (paper.stale_order_timeout_sec, paper.cancel_on_price_move, paper.min_fill_pct, paper.max_resubmits)),
        ("operations.md", rf"thresholds are policy fields too \(ADR 0433; defaults\): "
                          rf"`maxSpreadToTrade` {n} \(probability\), "
                          rf"`minDepthToTrade` {n} \(USD within reach of the limit\), "
                          rf"`maxVpinToTrade` {n} \(at or above: toxic, refused\), "
                          rf"`vpinNormalThreshold` {n} and `vpinElevatedEdgeMultiplier` {n}",
         (paper.max_spread_to_trade, paper.min_depth_to_trade, paper.max_vpin_to_trade, paper.vpin_normal_threshold,
          paper.vpin_elevated_edge_multiplier)),
    ]


def test_the_money_defaults_the_docs_quote_are_the_codes() -> None:
    problems = []
    for doc, phrase, expected in _money_defaults():
        text = _flat(ROOT / "README.md" if doc == "README.md" else ROOT / "docs" / doc)
        m = re.search(phrase, text)
        if m is None:
            problems.append(f"{doc}: the phrase /{phrase}/ is gone: say the default again (code: {expected})")
            continue
        quoted = tuple(float(g) for g in m.groups())
        if quoted != tuple(float(e) for e in expected):
            problems.append(f"{doc}: /{phrase}/ quotes {quoted}, the code has {expected}")
    assert not problems, "\n".join(problems)


def _literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, Path):
        return f"./{value}"
    return None


def test_the_readme_configuration_table_quotes_the_settings_defaults() -> None:
    """| `A`, `B` | `x`, `y` | …: each default written as a literal equals the field's; ``unset`` means none."""
    from paulp.adapters.config import Settings

    fields = Settings.model_fields
    checked, problems = 0, []
    for row in re.findall(r"^\| (`[A-Z][^|]*?) \| ([^|]*?) \|", _text(ROOT / "README.md"), re.MULTILINE):
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])
        values = [v.strip() for v in re.split(r",\s+(?![^`]*`(?:[^`]*`[^`]*`)*[^`]*$)", row[1])]
        if len(names) != len(values):
            continue
        for name, value in zip(names, values, strict=True):
            if name not in fields:
                continue
            default = fields[name].default
            literal = re.fullmatch(r"`([^`]*)`(?: \(.*\))?", value)
            if value == "unset":
                checked += 1
                if default is not None:
                    problems.append(f"{name}: README says unset, the default is {default!r}")
            elif literal is not None and _literal(default) is not None:
                checked += 1
                if literal.group(1) != _literal(default):
                    problems.append(f"{name}: README says {literal.group(1)!r}, the default is {_literal(default)!r}")
    assert checked >= 15, f"only {checked} defaults read from README's configuration table: the parsing broke"
    assert not problems, "\n".join(problems)


def test_the_mapped_fallback_chains_are_the_manifests() -> None:
    """The seed's chains, kept in the mapping, are the providers of ``CHAINS`` in order."""
    from paulp.domain.llm_manifest import CHAINS, model_spec

    names = {"anthropic": "Anthropic", "minimax": "MiniMax", "moonshot": "Moonshot", "google": "Google",
             "cloudflare": "Cloudflare"}
    mapping = _mapping_section()
    for route_class, models in CHAINS.items():
        if not models:
            continue
        chain = " → ".join(names[str(model_spec(m).provider)] for m in models)
        assert f"`{route_class}` {chain}" in mapping, f"{route_class}: the mapping does not say {chain}"
        assert chain in _seed().replace("Cloudflare Workers AI", "Cloudflare"), f"{route_class}: the seed's chain moved"
