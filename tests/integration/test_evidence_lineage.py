"""Evidence lineage and re-verification (api-and-security §4.3/§4.4; ADR 0430) on real PostgreSQL: a stored body
indexed with its fetch, named by a market mark, shows up under ``paulp evidence show`` with the entity it fed;
``paulp evidence verify`` passes it, then fails it once its bytes are altered and stamps the index row; the view
rebuilds from the log; bad input exits 2 before anything is read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore, record_fetch
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.wiring import Container
from paulp.domain.marks import MarketMark, Quotes
from tests.integration.helpers import assert_live_equals_replay, make_container

pytestmark = pytest.mark.integration
AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
BODY = b'{"market":{"ticker":"KX-LINEAGE","yes_bid":40,"yes_ask":42}}'


@pytest.fixture
def container(fresh_db: str, nats_url: str, namespace: str, tmp_path: Path) -> Iterator[Container]:
    c = make_container(fresh_db, nats_url, namespace, PAULP_EVIDENCE_DIR=str(tmp_path / "evidence"))
    try:
        yield c
    finally:
        c.close()


def _cli(container: Container, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    settings = container.settings
    for name, value in (("PAULP_DATABASE_URL", container.database_url), ("PAULP_NATS_URL", container.nats_url),
                        ("PAULP_NAMESPACE", settings.PAULP_NAMESPACE), ("ENVIRONMENT", "test"),
                        ("PAULP_EVIDENCE_DIR", str(settings.evidence_dir())), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(app, ["evidence", *args])


def _stored(container: Container, body: bytes) -> str:
    blob = EvidenceStore(container.settings.evidence_dir()).put(body)
    with psycopg.connect(container.database_url) as conn:
        record_fetch(conn, EvidenceFetch(blob.evidence_hash, "kalshi_trade_api", "/trade-api/v2/markets/KX-LINEAGE",
                                         AT.isoformat(), blob.size_bytes, response_status=200))
    return blob.evidence_hash


def _project(container: Container) -> None:
    with psycopg.connect(container.database_url, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["evidence_usage"])


def test_a_mark_built_from_stored_evidence_is_traced_verified_and_a_tampered_blob_fails(
        container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    h = _stored(container, BODY)
    assert container.markets.observe("KX-LINEAGE", Quotes(40, 42, 58, 60), AT, h)
    _project(container)

    shown = _cli(container, monkeypatch, "show", h)
    assert shown.exit_code == 0, shown.output
    found = json.loads(shown.output)
    assert found["check"] == {"evidenceHash": h, "indexed": True, "passed": True, "problem": None}
    assert found["index"]["source"] == "kalshi_trade_api" and found["index"]["response_size_bytes"] == len(BODY)
    assert [f["endpoint"] for f in found["fetches"]] == ["/trade-api/v2/markets/KX-LINEAGE"]
    (use,) = found["usage"]
    assert (use["derived_entity_type"], use["derived_entity_id"], use["extraction_path"]) == (
        "market_mark", str(MarketMark.create_id("KX-LINEAGE")), "MarketMark.Quoted")

    ok = _cli(container, monkeypatch, "verify", "--all")
    assert ok.exit_code == 0, ok.output
    assert "1 of 1 blobs verified" in ok.output

    path = EvidenceStore(container.settings.evidence_dir()).path_for(h)
    path.write_bytes(BODY.replace(b"40", b"41"))
    bad = _cli(container, monkeypatch, "verify", h, "--json")
    assert bad.exit_code == 1
    (result,) = json.loads(bad.output)
    assert not result["passed"] and result["problem"].startswith(f"Evidence hash mismatch: expected {h}")
    with psycopg.connect(container.database_url) as conn:
        passed, verified_at = conn.execute("SELECT verification_passed, verified_at FROM evidence_blobs"
                                           " WHERE evidence_hash = %s", (h,)).fetchone()
    assert passed is False and verified_at is not None
    assert _cli(container, monkeypatch, "show", h).exit_code == 1
    path.unlink()
    missing = _cli(container, monkeypatch, "verify", "--all", "--source", "kalshi_trade_api", "--json")
    assert missing.exit_code == 1 and json.loads(missing.output)[0]["problem"] == "blob missing"

    assert_live_equals_replay(container, "evidence_usage")


def test_bad_input_exits_2_and_an_unknown_hash_exits_1_with_nothing_stamped(
        container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    h = _stored(container, BODY)
    for args in (("verify",), ("verify", "xyz"), ("verify", h, "--all"), ("verify", h, "--since", "2026-01-01"),
                 ("verify", "--all", "--since", "yesterday"), ("show", h.upper())):
        out = _cli(container, monkeypatch, *args)
        assert out.exit_code == 2, (args, out.output)
    unknown = _cli(container, monkeypatch, "show", "0" * 64)
    assert unknown.exit_code == 1 and "unknown evidence" in unknown.output
    with psycopg.connect(container.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM evidence_blobs WHERE verified_at IS NOT NULL").fetchone()[0] == 0
