"""The sources registry (api-and-security §4.8; ADR 0432) through ``paulp sources`` / ``paulp claims`` on real
PostgreSQL: sources registered as events with their lineage traced, verified against the evidence store,
expired by TTL; claims refused without evidence, numbered SR-001…, re-verified (an altered blob makes one
unverified), retracted; the views rebuild from the log; bad input exits 2 with nothing recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.wiring import Container
from tests.integration.helpers import assert_live_equals_replay, make_container

pytestmark = pytest.mark.integration
WHO = ["--actor", "ops-dana"]


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    c = make_container(fresh_db, nats_url, namespace, PAULP_EVIDENCE_DIR=str(tmp_path / "evidence"))
    for name, value in (("PAULP_DATABASE_URL", fresh_db), ("PAULP_NATS_URL", nats_url),
                        ("PAULP_NAMESPACE", namespace), ("ENVIRONMENT", "test"),
                        ("PAULP_EVIDENCE_DIR", str(tmp_path / "evidence")), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    try:
        yield c
    finally:
        c.close()


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _json(*args: str) -> Any:
    out = cli(*args)
    assert out.exit_code == 0, (args, out.output)
    return json.loads(out.output)


def _project(c: Container) -> None:
    with psycopg.connect(c.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, c.projections["sources"])


def _events(c: Container) -> int:
    with psycopg.connect(c.database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM paulp_events WHERE topic LIKE '%sources:%'").fetchone()[0])


def test_sources_registered_traced_verified_and_expired(container: Container) -> None:
    store = EvidenceStore(container.settings.evidence_dir())
    blob = store.put(b'{"temp_f": 48}').evidence_hash
    base = ["sources", "register", "--vendor", "noaa", "--quality", "authoritative", *WHO]
    raw = _json(*base, "--type", "api_response", "--url", "https://api.weather.gov/x", "--evidence-hash", blob,
                "--fetched-at", "2026-11-27T08:00:00Z", "--ttl", "60", "--metadata", '{"station": "KNYC"}')
    again = _json(*base, "--type", "api_response", "--url", "https://api.weather.gov/x", "--evidence-hash", blob,
                  "--fetched-at", "2026-11-27T08:00:00Z", "--ttl", "60")
    assert raw["registered"] and not again["registered"] and again["sourceId"] == raw["sourceId"]
    calc = _json(*base, "--type", "computed", "--url", "calc:nyc-high", "--parent", raw["sourceId"])
    _project(container)

    shown = _json("sources", "show", calc["sourceId"])
    assert shown["lineage"] == [calc["sourceId"], raw["sourceId"]]
    assert shown["verification"] == {"valid": True, "reasons": []}  # computed: no blob to check
    assert shown["source"]["lineage"] == [raw["sourceId"]] and not shown["source"]["blob_stored"]
    assert _json("sources", "show", raw["sourceId"])["verification"]["valid"]
    listed = _json("sources", "list", "--vendor", "noaa")
    assert {s["source_id"] for s in listed} == {raw["sourceId"], calc["sourceId"]}
    assert [s["source_id"] for s in _json("sources", "list", "--evidence-hash", blob)] == [raw["sourceId"]]
    assert _json("sources", "stats") == {"count": 2, "expired": 0, "byQuality": {"authoritative": 2}}

    store.path_for(blob).write_bytes(b'{"temp_f": 49}')
    tampered = cli("sources", "show", raw["sourceId"])
    assert tampered.exit_code == 1
    assert json.loads(tampered.output)["verification"] == {
        "valid": False, "reasons": ["Evidence hash mismatch - data may be corrupted"]}

    out = cli("sources", "expire", *WHO)  # the raw fetch's TTL passed long ago; the computed one has none
    assert out.exit_code == 0 and "1 sources and 0 citations expired" in out.output, out.output
    _project(container)
    assert _json("sources", "stats")["expired"] == 1
    assert "0 sources" in cli("sources", "expire", *WHO).output
    assert_live_equals_replay(container, "sources")


def test_claims_need_evidence_are_numbered_reverified_and_retracted(container: Container) -> None:
    store = EvidenceStore(container.settings.evidence_dir())
    a, b = store.put(b'{"high": 48}').evidence_hash, store.put(b'{"low": 39}').evidence_hash
    add = ["claims", "add", "--type", "api_response", *WHO]
    first = cli(*add, "--claim", "NYC high was 48F", "--evidence-hash", a, "--reverify-days", "1")
    second = cli("claims", "add", "--type", "computation", *WHO, "--claim", "NYC range was 9F",
                 "--input-hash", a, "--input-hash", b, "--code-ref", "weather.range@1")
    assert (first.exit_code, second.exit_code) == (0, 0), (first.output, second.output)
    assert "SR-001 recorded" in first.output and "SR-002 recorded" in second.output
    _project(container)
    assert [c["citation_id"] for c in _json("claims", "list", "--status", "active")] == ["SR-001", "SR-002"]

    store.path_for(b).unlink()
    out = cli("claims", "verify", "SR-001", "SR-002", *WHO)
    assert out.exit_code == 1 and "1 of 2 citations verified" in out.output, out.output
    _project(container)
    (two,) = _json("claims", "list", "--id", "SR-002")
    assert two["status"] == "unverified" and b in two["last_verification"]
    assert cli("claims", "retract", "SR-002", "--reason", "input lost", *WHO).exit_code == 0
    again = cli("claims", "retract", "SR-002", "--reason", "twice", *WHO)
    assert again.exit_code == 2 and "already retracted" in again.output
    _project(container)
    assert [(c["citation_id"], c["status"]) for c in _json("claims", "list")] == [
        ("SR-001", "active"), ("SR-002", "retracted")]
    assert_live_equals_replay(container, "sources")


def test_bad_input_exits_2_and_records_nothing(container: Container) -> None:
    base = ["sources", "register", "--vendor", "noaa", "--quality", "primary", "--url", "u", *WHO]
    for args in ([*base, "--type", "computed"],  # (each rule has its unit test: here, the CLI's exit and silence)
                 [*base, "--type", "api_response", "--parent", "src-" + "0" * 32],
                 ["claims", "add", "--type", "api_response", "--claim", "x", *WHO],
                 ["claims", "add", "--type", "api_response", "--claim", "x", "--evidence-hash", "0" * 64, *WHO],
                 ["claims", "retract", "SR-001", "--reason", "r", *WHO]):
        out = cli(*args)
        assert out.exit_code == 2, (args, out.output)
    assert _events(container) == 0


def test_claims_verify_with_an_unknown_id_records_no_outcome(container: Container) -> None:
    """An unknown id among known ones is bad input: nothing verified, not even the known ids before it."""
    store = EvidenceStore(container.settings.evidence_dir())
    a = store.put(b'{"high": 48}').evidence_hash
    added = cli("claims", "add", "--type", "api_response", "--claim", "NYC high was 48F", "--evidence-hash", a, *WHO)
    assert added.exit_code == 0, added.output
    before = _events(container)
    out = cli("claims", "verify", "SR-001", "SR-404", "SR-001", *WHO)
    assert out.exit_code == 2 and "no citation SR-404; nothing verified" in out.output, out.output
    assert _events(container) == before
    assert cli("claims", "verify", "SR-001", *WHO).exit_code == 0
    assert _events(container) == before + 1


def test_claims_verify_with_a_retracted_id_records_no_outcome(container: Container) -> None:
    """A closed citation among open ones is refused as a whole: the open ones before it are not verified either."""
    store = EvidenceStore(container.settings.evidence_dir())
    a = store.put(b'{"high": 48}').evidence_hash
    add = ["claims", "add", "--type", "api_response", "--evidence-hash", a, *WHO]
    assert cli(*add, "--claim", "NYC high was 48F").exit_code == 0
    assert cli(*add, "--claim", "NYC high was 48F again").exit_code == 0
    assert cli("claims", "retract", "SR-002", "--reason", "duplicate", *WHO).exit_code == 0
    before = _events(container)
    out = cli("claims", "verify", "SR-001", "SR-002", *WHO)
    assert out.exit_code == 2 and "SR-002 is retracted; it is not re-verified" in out.output, out.output
    assert _events(container) == before
    assert cli("claims", "verify", "SR-001", *WHO).exit_code == 0
    assert _events(container) == before + 1


def test_sources_expire_refused_for_a_citation_expires_no_source(container: Container) -> None:
    """The sweep is one save: an actor the citations refuse (over 200 characters) leaves the due source unexpired
    too, where it used to be expired before the refusal (exit 2)."""
    store = EvidenceStore(container.settings.evidence_dir())
    blob = store.put(b'{"temp_f": 48}').evidence_hash
    registered = cli("sources", "register", "--vendor", "noaa", "--quality", "authoritative", *WHO, "--type",
                     "api_response", "--url", "https://api.weather.gov/x", "--evidence-hash", blob,
                     "--fetched-at", "2026-11-27T08:00:00Z", "--ttl", "60")
    added = cli("claims", "add", "--type", "api_response", "--claim", "NYC high was 48F", "--evidence-hash", blob,
                "--expires", "2026-11-28T00:00:00Z", *WHO)
    assert (registered.exit_code, added.exit_code) == (0, 0), (registered.output, added.output)
    _project(container)
    before = _events(container)
    out = cli("sources", "expire", "--actor", "x" * 201)
    assert out.exit_code == 2 and "actor longer than 200 characters" in out.output, out.output
    assert _events(container) == before
    done = cli("sources", "expire", *WHO)
    assert done.exit_code == 0 and "1 sources and 1 citations expired" in done.output, done.output
    assert _events(container) == before + 2
