"""api.json :: http_cases — each case against the real app on real PostgreSQL (+ NATS URL), over HTTP.

Per case: Settings from exactly the case's ``config`` (nothing read from the process environment) plus
the service URLs, and ``ENVIRONMENT=test``, an anchor database and an audit mirror unless it names them;
a fresh database (under pytest a clone of the session's migrated template, ADR 0407, else migrated by
``build``; dropped after the case); ``given`` seeded (Access keys served
by a loopback fake certs server, the rest by ``tests.support.seeding``); one request through TestClient
from a loopback peer (a trusted proxy, so ``cf-connecting-ip`` carries the client IP); then every
``expect`` key is checked as api.json's ``format`` describes. An unknown key of the case, its ``request`` or
its ``expect`` fails the case before anything starts (ADR 0477).
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.api.wiring import build
from tests.conformance.registry import Context, checker
from tests.fakes.jwks import fake_jwks
from tests.support.settings import IsolatedSettings, with_db

ACCESS_KEYS = ("cf_access_keys", "cf_access_keys_status")
QUERIED = {"ibkr_queried": "ibkr", "kalshi_queried": "kalshi"}  # format names ibkr_queried; kalshi is its twin
EXPECT_KEYS = {
    "status",
    "body",
    "body_contains",
    "body_types",
    "trade_ids",
    "trade_venues",
    "error_venues",
    "body_absent",
    *QUERIED,
}
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
# A case's keys: labels and prose (read by nobody, so harmless), then the four the format defines (ADR 0477).
PROSE_KEYS = frozenset({"id", "group", "basis", "note", "description"})
CASE_KEYS = PROSE_KEYS | {"config", "given", "request", "expect"}
REQUEST_KEYS = frozenset({"method", "path", "headers", "body"})


def _refuse(message: str) -> None:
    raise AssertionError(f"http_cases: {message}")


def validate_case(case: Any) -> None:
    """Refuse a case this checker would otherwise half-read: an unknown key at the top or in ``request`` (a
    ``query`` or ``cookies`` it would drop), a missing method/path, or parts of the wrong JSON type."""
    if not isinstance(case, dict):
        _refuse(f"a case must be an object, got {case!r:.200}")
    missing = {"request", "expect"} - set(case)
    if missing:
        _refuse(f"case {case.get('id')!r} lacks {sorted(missing)}")
    unknown = set(case) - CASE_KEYS
    if unknown:
        _refuse(f"case {case.get('id')!r} has keys this checker cannot interpret: {sorted(unknown)}")
    for key in ("config", "given", "expect"):
        if key in case and not isinstance(case[key], dict):
            _refuse(f"case {case.get('id')!r}: {key} must be an object, got {case[key]!r:.200}")
    unknown = set(case["expect"]) - EXPECT_KEYS
    if unknown or "status" not in case["expect"]:
        _refuse(f"case {case.get('id')!r}: expect keys this checker cannot interpret: {sorted(unknown)}, or no status")
    request = case["request"]
    if not isinstance(request, dict):
        _refuse(f"case {case.get('id')!r}: request must be an object, got {request!r:.200}")
    unknown = set(request) - REQUEST_KEYS
    if unknown:
        _refuse(f"case {case.get('id')!r}: request keys this checker cannot interpret: {sorted(unknown)}")
    for key in ("method", "path"):
        if not isinstance(request.get(key), str) or not request[key]:
            _refuse(f"case {case.get('id')!r}: request.{key} must be a non-empty string, got {request.get(key)!r}")
    headers = request.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        _refuse(f"case {case.get('id')!r}: request.headers must map names to strings, got {headers!r:.200}")


class _Session:
    """Services for this interpreter (started, or reused when already running) and a scratch evidence root."""

    def __init__(self) -> None:
        from tests.support.suite_services import suite_services

        self.services = suite_services().start()
        self.run_id = "h" + secrets.token_hex(4)
        self.evidence_root = Path(tempfile.mkdtemp(prefix="paulp-http-cases-"))
        self.cases = itertools.count(1)  # next() is atomic: safe if cases ever run on several threads
        atexit.register(self.close)

    def close(self) -> None:
        shutil.rmtree(self.evidence_root, ignore_errors=True)
        self.services.stop()

    def next_namespace(self) -> str:
        """A namespace no other case of this run has: numbered, not random (three random bytes per case collided
        once in a CI run of 427 cases, and the second case found the first one's mirror folder)."""
        return f"{self.run_id}_{next(self.cases)}"

    def mirror(self, namespace: str) -> Path:
        """A case's audit-mirror folder: existing and writable, as a deployment's is (removed with the run)."""
        path = self.evidence_root / "mirror" / namespace
        path.mkdir(parents=True)
        return path

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new database for one case. Under pytest: a clone of the session's migrated template, made ahead of
        the case and dropped behind the next ones by the suite's own machinery (ADR 0407). Elsewhere: empty,
        migrated by build(), dropped when the case ends."""
        admin = self.services.database_url
        if os.environ.get("PAULP_TEST_TEMPLATE_DB"):
            from tests.conftest import drop_database_later, take_clone

            name, url = take_clone(admin, self.run_id)
            try:
                yield url
            finally:
                drop_database_later(admin, name)
            return
        name = f"paulp_{self.run_id}_{secrets.token_hex(3)}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_db(admin, name)
        finally:
            _drop(admin, name)


def _drop(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_SESSION: list[_Session] = []


def session() -> _Session:
    if not _SESSION:
        _SESSION.append(_Session())
    return _SESSION[0]


# ----------------------------------------------------------------- expectations


def _field(body: Any, path: str) -> Any:
    value = body
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"body has no field {path!r}: {body!r:.500}"
        value = value[part]
    return value


def _subset(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r:.300}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing from {actual!r:.300}"
            _subset(value, actual[key], f"{where}.{key}")
        return
    same_type = isinstance(expected, bool) == isinstance(actual, bool)
    assert same_type and expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


def _is_type(value: Any, name: str) -> bool:
    types = JSON_TYPES.get(name)
    assert types is not None, f"body_types names an unknown JSON type {name!r}"
    return isinstance(value, types) and (name in ("boolean",) or not isinstance(value, bool))


def check_expectations(expect: dict[str, Any], status: int, body: Any, reads: dict[str, int] | None) -> None:
    """``reads``: per-venue trade source reads the request made (None when the counter is unavailable)."""
    unknown = set(expect) - EXPECT_KEYS
    assert not unknown, f"expect keys this checker cannot interpret: {sorted(unknown)}"
    assert status == expect["status"], f"status {status} != {expect['status']}; body {body!r:.500}"
    if "body" in expect:
        _subset(expect["body"], body, "body")
    for path, fragment in expect.get("body_contains", {}).items():
        value = _field(body, path)
        assert isinstance(value, str) and fragment in value, f"body.{path}={value!r} lacks {fragment!r}"
    for path, type_name in expect.get("body_types", {}).items():
        value = _field(body, path)
        assert _is_type(value, type_name), f"body.{path}={value!r} is not a JSON {type_name}"
    for key, list_field, item_field in (
        ("trade_ids", "trades", "order_id"),
        ("trade_venues", "trades", "venue"),
        ("error_venues", "errors", "venue"),
    ):
        if key in expect:
            items = _field(body, list_field)
            assert isinstance(items, list), f"body.{list_field} is not a list"
            got = [item.get(item_field) if isinstance(item, dict) else None for item in items]
            assert got == expect[key], f"{key}: {got} != {expect[key]}"
    for path in expect.get("body_absent", []):
        parent, _, last = path.rpartition(".")
        holder = _field(body, parent) if parent else body
        assert not (isinstance(holder, dict) and last in holder), f"body.{path} must be absent: {body!r:.300}"
    for key, venue in QUERIED.items():
        if key in expect:
            assert reads is not None, f"{key}: the {venue} source read counter is unavailable"
            assert (reads.get(venue, 0) > 0) == bool(expect[key]), f"{venue} source reads: {reads.get(venue, 0)}"


# ----------------------------------------------------------------- one case


def _request_kwargs(request: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"headers": dict(request.get("headers", {}))}
    if "body" in request:
        body = request["body"]
        kwargs["content"] = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return kwargs


def _ibkr_reads() -> Any:
    try:
        from tests.support.seeding import source_queries
    except ImportError:
        return None
    return source_queries


@checker("api.json", "http_cases")
def check(case: Any, ctx: Context) -> None:
    validate_case(case)
    config = case.get("config", {})
    given = dict(case.get("given", {}))
    keys_doc = given.pop("cf_access_keys", None)
    keys_status = given.pop("cf_access_keys_status", 200)
    s = session()
    namespace = s.next_namespace()
    with (
        fake_jwks(keys_doc if keys_doc is not None else {"keys": []}, int(keys_status)) as certs,
        s.database() as db_url,
    ):
        # The case's config, with the locations only the harness knows taking precedence over any it names.
        # What a deployment always sets and a case may name: ENVIRONMENT (required, §8) is `test`, and the
        # anchor database and audit mirror (required when ENVIRONMENT=production) are the case's (ADR 0353).
        harness = {
            "PAULP_DATABASE_URL": db_url,
            "PAULP_NATS_URL": s.services.nats_url,
            "PAULP_NAMESPACE": namespace,
            "PAULP_EVIDENCE_DIR": s.evidence_root / namespace,
            "CF_ACCESS_CERTS_URL": certs.url,
        }
        deployment = {
            "ENVIRONMENT": "test",
            "PAULP_ANCHOR_DATABASE_URL": db_url,
            "PAULP_AUDIT_MIRROR_DIR": s.mirror(namespace),
        }
        settings = IsolatedSettings(**{**deployment, **config, **harness})
        container = build(settings, db_url, s.services.nats_url)
        app = None
        try:
            if given:
                from tests.support.seeding import seed

                seed(container, given)
            app = create_app(container)
            snapshot = _ibkr_reads()
            before = snapshot() if snapshot else None
            request = case["request"]
            with TestClient(app, client=("127.0.0.1", 50000), raise_server_exceptions=False) as client:
                response = client.request(request["method"], request["path"], **_request_kwargs(request))
            after = snapshot() if snapshot else None
            reads = (
                {v: after[v] - before[v] for v in QUERIED.values()}
                if after is not None and before is not None
                else None
            )
            try:
                body = response.json()
            except ValueError:
                body = response.text
            check_expectations(case["expect"], response.status_code, body, reads)
        finally:
            container.close()
