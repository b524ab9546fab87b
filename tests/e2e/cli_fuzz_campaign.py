"""A by-hand hostile-input campaign over every ``paulp`` command (ADR 0499). Not collected by pytest.

    ENVIRONMENT=test PAULP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
    PAULP_NATS_URL=nats://127.0.0.1:4222 \
    nice -n 19 .venv/bin/python -m tests.e2e.cli_fuzz_campaign --out /tmp/cli_fuzz.json

Walks the typer command tree (long-running commands excepted: they serve until stopped), builds each command's
argument list from plausible values for its required parameters, then gives every parameter, in turn, each
hostile value (empty, blank, invalid UTF-8 as argv delivers it, huge and non-finite numbers, impossible dates,
path traversal, unwritable paths, injection-looking text, a 100 kB string). Each invocation runs in this
process through typer's ``CliRunner`` against a fresh migrated database, the loopback Kalshi venue and the
real NATS server, with a per-invocation alarm.

Every outcome is checked: nothing but ``SystemExit`` escapes; no traceback in the output; the exit status is
0, 1 or 2; a non-zero exit says why; a command that exits non-zero appended no event (judged: a command that
records a failed check and reports it by its status is legitimate). Failures are collected by signature
(first example each) and written as JSON; the exit status is 1 when any hard failure was found.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from paulp.api.cli import app
from tests.conftest import drop_database
from tests.e2e.campaign_findings import Findings, campaign_database, venue_key
from tests.fakes.kalshi_exchange import FakeKalshiExchange

LONG_RUNNING = {"up", "serve", "relay", "project", "schedule"}
DATA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "kalshi"

# Plausible values by parameter name: enough for a command to get past its other parameters.
PLAUSIBLE: dict[str, str] = {
    "order_id": "order-nope", "reason": "fuzz campaign", "operator": "ops", "actor": "ops", "by": "ops",
    "state": "filled", "strategy": "weather", "limit": "10", "max_price": "0.5", "run_type": "signal_scanning",
    "var": "k=v", "user": "hello", "system": "be brief", "force_model": "claude-sonnet-4-5",
    "force_route_class": "cheap", "strategy_id": "weather", "target_market": "KXTEST-26", "target_pair": "A/B",
    "run_id": "run-nope", "score": "0.5", "market": "KXTEST-26", "ticker": "KXTEST-26", "suite": "default",
    "baseline": "run-nope", "capital": "1000", "name": "fuzz", "probability": "0.5", "source": "kalshi",
    "valid_for": "3600", "to": "CAUTION", "sources": "kalshi", "status": "approved", "proposal_id": "p-nope",
    "notes": "fine", "tos_version": "v1", "violation_type": "rate_limit", "severity": "low",
    "description": "fuzz", "violation_id": "v-nope", "start": "2026-01-01", "end": "2026-01-31", "fmt": "json",
    "letter_id": "1", "related": "KXOTHER-26", "kind": "same_event", "weight": "0.5", "category": "weather",
    "series": "KXHIGH", "pairs": "max_position_usd=100", "proposal": "p-nope", "side": "yes", "mode": "PAPER",
    "evidence_hash": "0" * 64, "hashes": "0" * 64, "since": "2026-01-01T00:00:00Z", "source_type": "api",
    "url": "https://example.com/a", "vendor": "kalshi", "quality": "high", "parent": "src-nope", "ttl": "3600",
    "fetched_at": "2026-01-01T00:00:00Z", "metadata": "{}", "source_id": "src-nope", "claim": "fuzz claim",
    "input_hash": "0" * 64, "code_ref": "abc", "title": "t", "author": "a", "published": "2026-01-01",
    "confidence": "0.5", "reverify_days": "30", "expires": "2027-01-01", "citation": "c-nope", "job": "clv",
    "from_": "2026-01-01T00:00:00Z", "until_seq": "10", "until_time": "2026-01-01T00:00:00Z",
    "projection": "trades", "incident_id": "inc-1", "model": "claude-sonnet-4-5", "input_rate": "1.0",
    "output_rate": "2.0", "cached_rate": "0.1", "host": "127.0.0.1", "port": "0", "into": "paulp_replay_fuzz",
}


# Where the name-keyed value does not fit a command: (command path, parameter) -> value.
PER_COMMAND: dict[tuple[str, str], str] = {
    ("replay", "projection"): "orders", ("postmortem", "to"): "2026-01-02T00:00:00Z",
    ("risk correlations set", "kind"): "same_series", ("risk limits set", "pairs"): "maxPositionPct=4",
    ("risk limits propose", "pairs"): "maxPositionPct=4", ("execution policy set", "pairs"): "maxSpreadToTrade=0.05",
    ("sources register", "source_type"): "api_response", ("claims add", "source_type"): "api_response",
    ("sources show", "source_id"): "src-" + "0" * 32, ("claims retract", "citation"): "SR-001",
    ("claims verify", "citation"): "SR-001", ("llm pricing set", "model"): "anthropic:claude-opus-4-6",
    ("compliance propose-status", "status"): "blocked", ("compliance record-violation", "severity"): "warning",
    ("sources register", "quality"): "primary",
    **{(f"compliance {c}", "source"): "kalshi_trade_api"
       for c in ("propose-status", "review", "record-violation")},
}
# Options a command needs beyond its required ones to get past its own checks (placed first: a hostile value for
# the same option, given later, wins).
EXTRA: dict[str, list[str]] = {
    "rebuild": ["--projection", "orders", "--yes"], "llm pricing set": ["--input", "1.0"],
    "risk correlations rule-set": ["--category", "weather"], "risk correlations rule-remove": ["--category", "weather"],
    "evidence verify": ["--all"], "compliance propose-status": ["--block-reason", "terms changed"],
    "claims add": ["--evidence-hash", "0" * 64],
}


def hostile_values(scratch: Path) -> list[str]:
    """Never a path outside ``scratch`` that exists: commands with an output path write where they are told, and
    the campaign runs as whoever starts it (an early version passed ``../../../etc/passwd`` as root and
    ``compliance export --output`` replaced the machine's /etc/passwd with ``[]``). Relative paths resolve in
    ``scratch``, the campaign's working directory."""
    garbage = scratch / "garbage.json"
    garbage.write_bytes(b"\xff\xfe{not json")
    empty = scratch / "empty.json"
    empty.write_text("")
    return ["", " ", "\udcff", "a\udcc3\udca9", "é\u202e", "-1", "0", "1e309", "nan", "inf", "-inf",
            "99999999999999999999999999", "1" * 400, "x" * 100_000, "2026-02-30", "2026-01-01T25:00:00Z",
            "not-a-date", "{", "[]", "=", "a=b=c", "k=", "sub/../../x", "/", "/nonexistent/dir/file", str(scratch),
            str(garbage), str(empty), "'; DROP TABLE paulp_events; --", "%s%s%n", "{0}",
            "line\nbreak", "-", "--", '{"a": "\\u0000"}', '{"a": "\\ud800"}', '{"a": 1e999}', '[1, 2]',
            "a\tb", "\u00a0"]


class TimeUp(BaseException):
    """An invocation ran past its alarm (a BaseException, so the runner does not swallow it)."""


def leaves(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    subs = getattr(command, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from leaves(sub, [*path, name])
    else:
        yield path, command


def argv_for(path: list[str], command: Any, override: tuple[str, str] | None) -> list[str]:
    """Required parameters with plausible values, ``override`` (name, value) replacing or adding one."""
    where = " ".join(path)
    options: list[str] = list(EXTRA.get(where, []))
    arguments: list[str] = []
    for p in command.params:
        if p.name == "help" or getattr(p, "is_flag", False):
            continue
        chosen = override[1] if override and override[0] == p.name else None
        if chosen is None and not p.required:
            continue
        name = p.name or ""
        value = chosen if chosen is not None else PER_COMMAND.get((where, name), PLAUSIBLE.get(name, "x"))
        if type(p).__name__.endswith("Argument"):
            arguments.append(value)
        else:
            options += [p.opts[0], value]
    return [*path, *options, "--", *arguments] if arguments else [*path, *options]


class Campaign(Findings):
    def __init__(self, db_url: str, env: dict[str, str], timeout_s: float) -> None:
        super().__init__(db_url)
        self.env, self.timeout_s = env, timeout_s
        self.runner = CliRunner()
        self.plausible: dict[str, dict[str, Any]] = {}  # each command's base invocation: does it get past parsing?

    def invoke(self, label: str, argv: list[str]) -> int | None:
        before = self.events()
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        started = time.monotonic()
        try:
            result = self.runner.invoke(app, argv, env=self.env)
        except TimeUp:
            self.fail("timeout", label, {"argv": _show(argv)})
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.seen["invocations"] += 1
        self.seen[f"exit {result.exit_code}"] += 1
        out = (result.stdout or "") + (result.stderr or "")
        detail = {"argv": _show(argv), "exit": result.exit_code, "output": out[-600:],
                  "seconds": round(time.monotonic() - started, 2)}
        exc = result.exception
        if exc is not None and not isinstance(exc, SystemExit):
            detail["exception"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            self.fail("exception", f"{label} {type(exc).__name__}", detail)
        if "Traceback (most recent" in out:
            self.fail("traceback", label, detail)
        if result.exit_code not in (0, 1, 2):
            self.fail("exit_status", f"{label} -> {result.exit_code}", detail)
        if result.exit_code != 0 and not out.strip():
            self.fail("silent_failure", label, detail)
        if result.exit_code != 0 and self.events() != before:
            self.fail("partial_state (judge)", label, detail)
        if label.endswith("[plausible]"):
            self.plausible[label] = {"argv": detail["argv"], "exit": result.exit_code, "output": out[-300:]}
        return result.exit_code


    def write(self, out: str, started: float) -> None:
        report = {"minutes": round((time.monotonic() - started) / 60, 1), "seen": dict(self.seen),
                  "failure_counts": dict(self.failure_counts), "failures": self.failures,
                  "plausible": self.plausible}
        Path(out).write_text(json.dumps(report, indent=1, default=repr))


def _alarm(signum: int, frame: Any) -> None:
    raise TimeUp()


def _show(argv: list[str]) -> list[str]:
    return [a if len(a) <= 80 else f"{a[:40]}...({len(a)} chars)" for a in argv]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="substring filter on the command path ('fair set')")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per invocation")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--plausible-only", action="store_true", help="only each command's base invocation")
    parser.add_argument("--out", default="cli_fuzz.json")
    args = parser.parse_args(argv)

    admin_url, nats_url = os.environ["PAULP_DATABASE_URL"], os.environ["PAULP_NATS_URL"]
    name, db_url = campaign_database(admin_url, "paulp_clifuzz")
    public_key, key_id, pem = venue_key()
    started, deadline = time.monotonic(), time.monotonic() + args.minutes * 60
    scratch = Path(tempfile.mkdtemp(prefix="cli-fuzz-"))
    PLAUSIBLE["data"] = str(next(DATA_FILE.glob("candlesticks-*.json")))
    PLAUSIBLE["output"] = str(scratch / "out.json")
    campaign: Campaign | None = None
    os.chdir(scratch)  # relative paths (and "-" taken as a file name) land in the scratch folder
    try:
        with FakeKalshiExchange(public_key, key_id) as exchange:
            env = {"ENVIRONMENT": "test", "PAULP_DATABASE_URL": db_url, "PAULP_NATS_URL": nats_url,
                   "PAULP_NAMESPACE": f"clifuzz_{secrets.token_hex(3)}", "PAULP_STATE_DIR": str(scratch / "state"),
                   "PAULP_EVIDENCE_DIR": str(scratch / "evidence"),
                   "PAULP_AUDIT_MIRROR_DIR": str(scratch / "mirror"), "KALSHI_BASE_URL": exchange.base_url,
                   "KALSHI_API_KEY": key_id, "KALSHI_PRIVATE_KEY": pem, "COLUMNS": "200"}
            campaign = Campaign(db_url, env, args.timeout)
            values = hostile_values(scratch)
            commands = [(p, c) for p, c in leaves(typer.main.get_command(app), [])
                        if p[0] not in LONG_RUNNING and args.only in " ".join(p)]
            print(f"{len(commands)} commands, {len(values)} hostile values", flush=True)
            for path, command in commands:
                label = " ".join(path)
                campaign.invoke(f"{label} [plausible]", argv_for(path, command, None))
                for p in [] if args.plausible_only else command.params:
                    if p.name == "help" or getattr(p, "is_flag", False):
                        continue
                    for value in values:
                        if time.monotonic() > deadline:
                            break
                        campaign.invoke(f"{label} --{p.name}", argv_for(path, command, (p.name, value)))
                print(f"[{time.monotonic() - started:7.1f}s] {label}: {campaign.seen['invocations']} invocations, "
                      f"{len(campaign.failures)} failure signatures", flush=True)
                campaign.write(args.out, started)  # as it goes: a long run can be read (or killed) midway
            campaign.db.close()
    finally:
        drop_database(admin_url, name)
    assert campaign is not None
    campaign.write(args.out, started)
    hard = [s for s in campaign.failures if "(judge)" not in s]
    print(f"{campaign.seen['invocations']} invocations, {len(hard)} failure signatures "
          f"({len(campaign.failures) - len(hard)} to judge); report in {args.out}", flush=True)
    return 1 if hard else 0


if __name__ == "__main__":
    raise SystemExit(main())
