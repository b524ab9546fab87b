"""A long, by-hand fuzz campaign against the HTTP API (ADR 0490). Not collected by pytest (no ``test_`` prefix).

    ENVIRONMENT=test PAULP_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
    PAULP_NATS_URL=nats://127.0.0.1:4222 \
    nice -n 19 .venv/bin/python -m tests.e2e.fuzz_campaign --minutes 24 --examples 3000 --vocab-minutes 8 \
      --out /tmp/fuzz.json

Three phases against the real app (FastAPI over a fresh, migrated PostgreSQL database, the loopback Kalshi venue):

1. schemathesis over the app's own OpenAPI: every operation x {positive, negative} generation x
   {valid token, no auth, hostile auth}, up to ``--examples`` each, within a time budget shared evenly;
2. hypothesis over the names the handlers read by hand (query parameters and JSON body fields the schema does
   not declare) with hostile values, every operation, ``--vocab-minutes`` in total;
3. hand-made hostile requests the generator does not produce (raw ASGI scopes: non-UTF-8 and NUL bytes, huge
   and repeated query parameters, long headers, wrong content types, duplicate-key / deep / non-finite JSON).

Every response is checked: no 5xx; a 4xx carries a JSON object with a string ``error`` (and ``code``, counted
separately); the response matches the schema; no operator-protected route answers 2xx without valid auth; no
secret appears in a body; a rejected non-GET request appends no event. Failures are collected (first example
per signature), never raised, and written as JSON; the exit status is 1 when any were found.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from typing import Any
from urllib.parse import quote, unquote

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import response_schema_conformance

from paulp.api.app import create_app
from tests.conftest import drop_database
from tests.e2e.campaign_findings import Findings, campaign_database, venue_key
from tests.fakes.kalshi_exchange import FakeKalshiExchange
from tests.integration.helpers import make_container

TOKEN = "fuzz-admin-token-0123456789abcdef-campaign"
WEBHOOK_SECRET = "fuzz-webhook-secret-0123456789abcdef"
TRIGGER_TOKEN = "fuzz-trigger-token-0123456789abcdef"
PROTECTED = ("/admin", "/exec", "/dashboard")
HOSTILE_AUTH: list[dict[str, str]] = [
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"bearer {TOKEN}"},
    {"Authorization": f"Bearer  {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN} "},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": "Basic YWRtaW46YWRtaW4="},
    {"Authorization": "Bearer " + "A" * 9000},
    {"Authorization": "Bearer"},
    {"cf-access-authenticated-user-email": "ops@example.com"},
    {"cf-access-authenticated-user-email": "ops@example.com", "cf-access-jwt-assertion": "not.a.jwt"},
    {"cf-access-authenticated-user-email": "ops@example.com", "cf-access-jwt-assertion": "e30.e30.e30"},
]


class TimeUp(BaseException):
    """Ends a run at its deadline: not an Exception, so hypothesis neither records nor shrinks it."""


class Campaign(Findings):
    def __init__(self, app: Any, db_url: str, secrets_: list[str]) -> None:
        super().__init__(db_url)
        self.app, self.db_url, self.secrets = app, db_url, secrets_

    def check(self, label: str, method: str, path: str, status: int, text: str, authorised: bool,
              detail: dict[str, Any], events_before: int | None) -> None:
        self.seen["requests"] += 1
        self.seen[f"status {status // 100}xx"] += 1
        key = f"{label} -> {status}"
        info = {**detail, "status": status, "response": text[:400]}
        if status >= 500 and '"cf_access_not_configured"' not in text:  # §2.1 B.2: a 500 by spec (fail closed)
            self.fail("5xx", key, info)
        if not authorised and path.startswith(PROTECTED) and status < 400:
            self.fail("auth_bypass", key, info)
        for secret in self.secrets:
            if secret and secret in text:
                self.fail("secret_in_body", key, info)
        if status >= 400:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
            if not isinstance(body, dict) or not (isinstance(body.get("error"), str)
                                                  or isinstance(body.get("ready"), bool)):
                self.fail("error_body_shape", key, info)
            elif "code" not in body and "ready" not in body:
                self.seen["4xx without code"] += 1
                self.fail("no_code (judge)", f"{label} -> {status}", info)
            if events_before is not None and method != "GET" and self.events() != events_before:
                self.fail("partial_state", key, info)

    def run_operation(self, operation: Any, mode: GenerationMode, auth: str, examples: int, seconds: float) -> None:
        label = f"{operation.method.upper()} {operation.path} [{mode.value}/{auth}]"
        deadline = time.monotonic() + seconds
        state = {"n": 0}
        picker = iter(range(10**9))

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  phases=[Phase.generate], derandomize=False)
        def run(case: Any) -> None:
            if time.monotonic() > deadline:
                raise TimeUp  # generating examples that are then skipped still costs (recursive JSON)
            state["n"] += 1
            headers = dict(case.headers or {})
            if auth == "valid":
                headers["Authorization"] = f"Bearer {TOKEN}"
            elif auth == "hostile":
                headers.update(HOSTILE_AUTH[next(picker) % len(HOSTILE_AUTH)])
            case.headers = headers
            mutating = case.method.upper() != "GET"
            before = self.events() if mutating else None
            try:
                response = case.call()
            except Exception as exc:  # the app raised through the ASGI transport: as bad as a 500
                self.fail("exception", f"{label} {type(exc).__name__}",
                          {"case": _case_repr(case), "error": repr(exc)[:400]})
                return
            self.check(label, case.method.upper(), case.formatted_path, response.status_code, response.text,
                       auth == "valid", {"case": _case_repr(case)}, before)
            if response.status_code < 500:
                try:
                    case.validate_response(response, checks=[response_schema_conformance])
                except Exception as exc:
                    self.fail("schema", f"{label} -> {response.status_code}",
                              {"case": _case_repr(case), "status": response.status_code,
                               "response": response.text[:400], "error": str(exc)[:600]})

        try:
            run()
        except TimeUp:
            pass
        except Exception as exc:  # generation itself failed: recorded, not fatal
            if mode is GenerationMode.NEGATIVE and type(exc).__name__ == "Unsatisfiable":
                self.seen["runs without negative inputs"] += 1  # nothing in the operation can be made invalid
            else:
                self.fail("generation", label, {"error": repr(exc)[:400]})
        self.seen[label] = state["n"]
        self.seen["schemathesis cases"] += state["n"]


def _case_repr(case: Any) -> dict[str, Any]:
    body = case.body
    try:
        json.dumps(body)
    except (TypeError, ValueError):
        body = repr(body)[:300]
    return {"method": case.method, "path": case.formatted_path, "query": case.query, "headers": case.headers,
            "body": body if len(repr(body)) < 2000 else repr(body)[:2000]}


# ---- phase 3: raw ASGI requests -------------------------------------------------------------------------------

async def raw_call(app: Any, method: str, raw_path: bytes, query: bytes = b"",
                   headers: list[tuple[bytes, bytes]] | None = None, body: bytes = b"") -> tuple[int, str]:
    path = raw_path.decode("latin-1")  # uvicorn: the path percent-decoded as UTF-8 (replacement on error)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": unquote(path, errors="replace"),
             "raw_path": raw_path, "query_string": query, "root_path": "",
             "headers": [(b"host", b"testserver"), *(headers or [])], "client": ("127.0.0.1", 5555),
             "server": ("testserver", 80)}
    sent = False
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], text.decode("utf-8", "replace")


def hostile_requests(post_paths: list[str], get_paths: list[str]) -> list[tuple[str, str, bytes, bytes,
                                                                               list[tuple[bytes, bytes]], bytes]]:
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    js = [(b"content-type", b"application/json")]
    out: list[tuple[str, str, bytes, bytes, list[tuple[bytes, bytes]], bytes]] = []
    queries = [b"limit=1&limit=2", b"limit=" + b"9" * 5000, b"x=" + b"a" * 200_000,
               b"&".join(b"p%d=1" % i for i in range(5000)), b"venue=%FF%FE", b"venue=\xff\xfe", b"limit=%00",
               b"venue=k%C3alshi", b"limit=%", b"limit=%zz", b"venue=%u0041", b"limit=1e3", b"limit=-0",
               b"limit=NaN", b"limit=%EF%BC%91", b"limit=\xd9\xa1", b"limit=+1", b"limit= 1", b"start=9999-99-99",
               b"start=0000-01-01T00:00:00Z", b"end=" + b"9" * 400, b"start=2026-01-01T00:00:00%2B99:99",
               b"runType=%F0%9F%92%A9", b"since=1e309", b"from=-1&to=1e400", b"hours=1e309", b"days=NaN"]
    for path in get_paths:
        for q in queries:
            out.append(("GET", f"query {q[:30]!r}", path.encode(), q, auth, b""))
        out.append(("GET", "long header", path.encode(), b"", [*auth, (b"x-long", b"a" * 100000)], b""))
        out.append(("GET", "non-utf8 header", path.encode(), b"", [*auth, (b"x-odd", b"\xff\xfe\x00")], b""))
        out.append(("GET", "dup auth header", path.encode(), b"",
                    [*auth, (b"authorization", b"Bearer wrong")], b""))
        out.append(("GET", "cf-connecting-ip junk", path.encode(), b"",
                    [*auth, (b"cf-connecting-ip", b"\xff" * 50), (b"x-forwarded-for", b"1.1.1.1, " * 500)], b""))
    bodies = [b'{"a":1,"a":2}', b"[" * 100_000 + b"]" * 100_000, b'{"x":' * 5000 + b"1" + b"}" * 5000,
              b'{"amount":1e309}', b'{"amount":-0}', b'{"amount":NaN}', b'{"amount":Infinity}',
              b'{"amount":-Infinity}', b'{"reason":"\\u0000"}', b'{"reason":"\\ud800"}', b"\xff\xfe{}",
              b'\xef\xbb\xbf{}', b"{}", b"null", b"[]", b'"x"', b"1" * 5000, b'{"a":' + b"9" * 5000 + b"}",
              b"{" + b'"k":1,' * 20000 + b'"z":1}', b'{"reason":"' + b"x" * 2_000_000 + b'"}', b"\x00", b" ",
              b'{"decimal":1.' + b"0" * 4400 + b"1}", b'{"reason":' + b"[" * 900 + b"]" * 900 + b"}",
              b'{"reason":"x","targetState":"HALT","notes":' + b'{"a":' * 900 + b"1" + b"}" * 901]
    ctypes = [b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data",
              b"application/json; charset=latin-1", b"application/json; charset=utf-16", b"\xff/\xfe"]
    raw_paths = [b"/admin/strategies/%FF%FE", b"/admin/strategies/\xff", b"/admin/strategies/%00",
                 b"/admin/strategies/" + b"a" * 70_000, b"/admin/strategies/..%2F..%2Fetc", b"/admin//trades",
                 b"/admin/trades/", b"/%2e%2e/admin/trades", b"/ADMIN/trades", b"/admin/strategies/%C0%AF"]
    for path in post_paths:
        for body in bodies:
            out.append(("POST", f"body {body[:24]!r}", path.encode(), b"", auth + js, body))
        for ct in ctypes:
            out.append(("POST", f"ctype {ct[:30]!r}", path.encode(), b"", [*auth, (b"content-type", ct)],
                        b'{"reason":"x"}'))
        out.append(("POST", "no auth, junk body", path.encode(), b"", js, b"{" * 1000))
    for raw in raw_paths:
        for headers in (auth, []):
            out.append(("GET", f"path {raw[:40]!r}", raw, b"", headers, b""))
            out.append(("POST", f"path {raw[:40]!r}", raw, b"", headers + js, b"{}"))
    return out


def run_hostile(campaign: Campaign, app: Any, paths: dict[str, list[str]]) -> None:
    requests = hostile_requests(paths["POST"], paths["GET"])

    async def go() -> None:
        for method, label, raw_path, query, headers, body in requests:
            before = campaign.events() if method != "GET" else None
            authorised = any(k == b"authorization" and v == f"Bearer {TOKEN}".encode() for k, v in headers)
            detail = {"method": method, "raw_path": repr(raw_path[:120]), "query": repr(query[:120]),
                      "headers": repr([(k, v[:60]) for k, v in headers])[:400], "body": repr(body[:120])}
            try:
                status, text = await asyncio.wait_for(raw_call(app, method, raw_path, query, headers, body), 60)
            except Exception as exc:
                campaign.fail("exception", f"hostile {method} {raw_path[:60]!r} {label}",
                              {**detail, "error": repr(exc)[:400]})
                continue
            path = raw_path.decode("latin-1")
            campaign.check(f"hostile {method} {path[:60]} {label}", method, path, status, text, authorised,
                           detail, before)
            campaign.seen["hostile requests"] += 1

    asyncio.run(go())


# ---- phase 2: the handlers' own vocabulary --------------------------------------------------------------------
# Many routes read their query and body by hand (bodies.query_values / json_object), so the OpenAPI schema
# declares neither and schemathesis sends one empty request to them. This phase sends the names the handlers read
# (grep of .get("...") in api/) with hostile values, as query parameters and as JSON body fields.

VOCABULARY = ("actor approved approver blockReason budgetCategory capitalAllocationUsd category criticalIds dryRun "
              "enabled end event_id event_type expires_at filledCount force grade id limit market marketId "
              "maxDailyVolume maxOrdersPerHour maxOrdersPerMinute maxSingleOrderSize message mode notes orderId "
              "overrideUsed passed payload percentUsed periodType policy reason relatedMarketId routeClass runType "
              "score secondApprover severity side source start startSeq endSeq state status strategy strategyId "
              "targetState threshold ticker tradingHours type venue weight since until from to hours days offset "
              "cursor quantity contracts price amount correlation confirm positionId decisionId").split()


def vocabulary_strategies() -> tuple[Any, Any, Any]:
    from hypothesis import strategies as st

    odd_numbers = st.sampled_from(["1e309", "-1e309", "NaN", "-0", "0", "-1", "1.5", "9" * 400, "0x10", "1_000",
                                   " 1", "\uff11", "\u0663", "+1", "1e3", "", "null", "true", "2026-02-30T00:00:00Z",
                                   "2026-01-01T00:00:00+99:00", "9999-12-31T23:59:59Z", "0001-01-01", "PAPER",
                                   "LIVE", "kalshi", "ibkr", "all", "HALT", "NORMAL", "daily", "monthly"])
    text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
    value = st.one_of(odd_numbers, text, st.integers(-(2**70), 2**70).map(str))
    query = st.lists(st.tuples(st.sampled_from(VOCABULARY), value), max_size=6)
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                       st.floats(allow_nan=False, allow_infinity=False), odd_numbers, text)
    json_value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.sampled_from(VOCABULARY), inner,
                                                                             max_size=4)), max_leaves=12)
    body = st.one_of(st.dictionaries(st.sampled_from(VOCABULARY), json_value, max_size=8), json_value)
    return query, body, value


def _non_finite(text: str) -> str:
    """JSON the stdlib would refuse to write: numbers out of float range, NaN, a huge exponent."""
    return text.replace("0.0", "1e309").replace("1.5", "NaN").replace("true", "-Infinity").replace("null", "1e99999")


def run_vocabulary(campaign: Campaign, app: Any, schema: Any, minutes: float, examples: int) -> None:
    from starlette.testclient import TestClient

    query_st, body_st, value_st = vocabulary_strategies()
    operations = [r.ok() for r in schema.get_all_operations()]
    client = TestClient(app, raise_server_exceptions=False)
    end = time.monotonic() + minutes * 60
    for i, op in enumerate(operations):
        deadline = time.monotonic() + max(1.0, (end - time.monotonic()) / (len(operations) - i))
        _vocabulary_operation(campaign, client, op, deadline, examples, (query_st, body_st, value_st))


def _vocabulary_operation(campaign: Campaign, client: Any, op: Any, deadline: float, examples: int,
                          strategies: tuple[Any, Any, Any]) -> None:
    from hypothesis import strategies as st

    query_st, body_st, value_st = strategies
    method = op.method.upper()
    label = f"vocab {method} {op.path}"
    count = {"n": 0}
    params = [p[1:-1] for p in op.path.split("/") if p.startswith("{")]

    @given(query=query_st, body=body_st, ids=st.lists(value_st, min_size=len(params), max_size=len(params)),
           auth=st.sampled_from(["valid"] * 4 + ["none", "hostile"]), raw=st.booleans())
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              phases=[Phase.generate])
    def run(query: list[tuple[str, str]], body: Any, ids: list[str], auth: str, raw: bool) -> None:
        if time.monotonic() > deadline:
            raise TimeUp  # generating examples that are then skipped still costs (recursive JSON)
        count["n"] += 1
        path = op.path
        for name, ident in zip(params, ids, strict=True):
            path = path.replace("{" + name + "}", quote(ident, safe="") or "x")
        headers = {"Content-Type": "application/json"}
        if auth == "valid":
            headers["Authorization"] = f"Bearer {TOKEN}"
        elif auth == "hostile":
            headers.update(HOSTILE_AUTH[count["n"] % len(HOSTILE_AUTH)])
        content = json.dumps(body).encode() if not raw else _non_finite(json.dumps(body)).encode()
        before = campaign.events() if method != "GET" else None
        detail = {"method": method, "path": path, "query": query, "auth": auth, "body": repr(body)[:600]}
        try:
            response = client.request(method, path, params=query, headers=headers,
                                      content=content if method != "GET" else None)
        except Exception as exc:
            campaign.fail("exception", f"{label} {type(exc).__name__}", {**detail, "error": repr(exc)[:400]})
            return
        campaign.check(label, method, path, response.status_code, response.text, auth == "valid", detail,
                       before)

    try:
        run()
    except TimeUp:
        pass
    except Exception as exc:
        campaign.fail("generation", label, {"error": repr(exc)[:400]})
    campaign.seen[label] = count["n"]
    campaign.seen["vocabulary cases"] += count["n"]
    print(f"{label}: {count['n']} cases, {len(campaign.failures)} failure signatures", flush=True)


def concrete_paths(schema: Any) -> dict[str, list[str]]:
    """Each operation's path with its parameters filled by a plausible value, for the raw phase."""
    out: dict[str, list[str]] = {"GET": [], "POST": []}
    for result in schema.get_all_operations():
        op = result.ok()
        path = op.path
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + "fuzz-1" + path[end + 1:]
        out.setdefault(op.method.upper(), []).append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=25.0, help="schemathesis phase budget in total")
    parser.add_argument("--examples", type=int, default=3000, help="max examples per operation x mode x auth")
    parser.add_argument("--auth", default="valid,none,hostile")
    parser.add_argument("--modes", default="positive,negative")
    parser.add_argument("--only", default="", help="substring filter on 'METHOD /path'")
    parser.add_argument("--start-at", type=int, default=0, help="skip the first N operations (resume a campaign)")
    parser.add_argument("--skip-hostile", action="store_true")
    parser.add_argument("--skip-schema", action="store_true", help="skip phase 1 (schemathesis)")
    parser.add_argument("--vocab-minutes", type=float, default=8.0, help="phase 2 (vocabulary) budget (0: skip)")
    parser.add_argument("--out", default="fuzz_campaign.json")
    args = parser.parse_args(argv)

    admin_url = os.environ["PAULP_DATABASE_URL"]
    nats_url = os.environ["PAULP_NATS_URL"]
    name, db_url = campaign_database(admin_url, "paulp_fuzzcampaign")
    public_key, key_id, pem = venue_key()
    started = time.monotonic()
    try:
        with FakeKalshiExchange(public_key, key_id) as exchange:
            import tempfile
            evidence = tempfile.mkdtemp(prefix="fuzz-evidence-")
            container = make_container(db_url, nats_url, f"fuzzc_{secrets.token_hex(3)}", admin_token=TOKEN,
                                       KALSHI_WEBHOOK_SECRET=WEBHOOK_SECRET, WEBHOOK_TRIGGER_TOKEN=TRIGGER_TOKEN,
                                       PAULP_EVIDENCE_DIR=evidence, KALSHI_BASE_URL=exchange.base_url,
                                       KALSHI_API_KEY=key_id, KALSHI_PRIVATE_KEY=pem)
            app = create_app(container)
            pem_body = pem.splitlines()[5]
            campaign = Campaign(app, db_url, [TOKEN, WEBHOOK_SECRET, TRIGGER_TOKEN, pem_body, "postgresql://",
                                              "Traceback (most recent", "psycopg."])
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)
            operations = [r.ok() for r in schema.get_all_operations()]
            operations = [o for o in operations if args.only in f"{o.method.upper()} {o.path}"][args.start_at:]
            modes = [GenerationMode(m) for m in args.modes.split(",") if m]
            auths = [a for a in args.auth.split(",") if a]
            runs = [] if args.skip_schema else [(o, m, a) for o in operations for m in modes for a in auths]
            budget_end = time.monotonic() + args.minutes * 60
            print(f"{len(operations)} operations, {len(runs)} runs", flush=True)
            for i, (operation, mode, auth) in enumerate(runs):
                per_run = max(1.0, (budget_end - time.monotonic()) / (len(runs) - i))  # unused time passes on
                campaign.run_operation(operation, mode, auth, args.examples, per_run)
                label = f"{operation.method.upper()} {operation.path} [{mode.value}/{auth}]"
                print(f"[{time.monotonic() - started:7.1f}s] {label}: {campaign.seen[label]} cases, "
                      f"{len(campaign.failures)} failure signatures", flush=True)
            if args.vocab_minutes > 0:
                run_vocabulary(campaign, app, schema, args.vocab_minutes, args.examples)
            if not args.skip_hostile:
                run_hostile(campaign, app, concrete_paths(schema))
                print(f"hostile: {campaign.seen['hostile requests']} requests", flush=True)
            container.close()
    finally:
        drop_database(admin_url, name)
    report = {"minutes": round((time.monotonic() - started) / 60, 1), "seen": dict(campaign.seen),
              "failure_counts": dict(campaign.failure_counts), "failures": campaign.failures}
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=1, default=repr)
    hard = [s for s in campaign.failures if not s.startswith("no_code")]
    print(f"{campaign.seen['requests']} requests, {len(hard)} failure signatures "
          f"({len(campaign.failures) - len(hard)} to judge); report in {args.out}", flush=True)
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
