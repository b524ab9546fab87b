"""``paulp compliance record-violation`` and ``paulp claims add`` run again act once (ADR 0527, building what ADR 0524
decided): the same violation as an unresolved one on the source, the same claim and evidence as an active citation,
is that one (exit 0, "already recorded", nothing in the log); a different one, or one that recurs after the first was
resolved or retracted, is recorded. Two identical commands at once record once. Real PostgreSQL, no projector (the
views lag as in production between a write and its apply)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from paulp.adapters.eventstore.recorder import application_env
from paulp.adapters.evidence_store import EvidenceStore
from paulp.adapters.projector import catch_up_from_log
from paulp.api.cli import app
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from paulp.domain.compliance import ComplianceSource
from paulp.domain.services.compliance import ComplianceService
from paulp.domain.services.sources import SourcesService
from paulp.domain.sources import Citation, InvalidSource
from tests.integration.helpers import NOW, make_container
from tests.integration.write_gate import race

pytestmark = pytest.mark.integration
WHO = ["--actor", "ops-dana"]
SOURCE = "noaa_cdo"
VIOLATION = ["compliance", "record-violation", SOURCE, "--type", "rate_limit_exceeded", "--severity", "critical"]


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
    out = CliRunner().invoke(app, list(args))
    assert out.exit_code == 0, (args, out.output)
    return " ".join(out.output.split())


def _recorded_violations(c: Container) -> list[str]:
    events = c.compliance.events.get(ComplianceSource.create_id(SOURCE))
    return [e.violation_id for e in events if isinstance(e, ComplianceSource.ViolationRecorded)]


def _citations(c: Container) -> list[tuple[str, str]]:
    """(citation id, claim) of every citation in the log, in log order."""
    app_ = c.compliance  # any context reads the one log
    rows = app_.recorder.select_notifications(start=1, limit=10_000, topics=[
        f"{Citation.__module__}:{Citation.Recorded.__qualname__}"])
    events: list[Any] = [app_.mapper.to_domain_event(r) for r in rows]
    return [(e.citation_id, e.claim_text) for e in events]


def test_record_violation_when_run_again_then_the_unresolved_one_answers_and_nothing_is_recorded(
        container: Container) -> None:
    # Arrange
    cli("compliance", "list")  # seeds the matrix
    same = [*VIOLATION, "--description", "1000/day exceeded", "--actor", "ann"]
    first = cli(*same)
    # Act: the script run again (spacing around the description is not another violation)
    again = cli(*VIOLATION, "--description", " 1000/day exceeded ", "--actor", "ann")
    # Assert: the first violation is the answer; one recorded
    assert f"violation {SOURCE}#v1 recorded" in first
    assert f"violation {SOURCE}#v1 already recorded" in again and "nothing recorded" in again, again
    assert _recorded_violations(container) == [f"{SOURCE}#v1"]


def test_record_violation_when_different_or_recurring_after_resolution_then_recorded(container: Container) -> None:
    cli("compliance", "list")
    same = [*VIOLATION, "--description", "1000/day exceeded", "--actor", "ann"]
    cli(*same)
    # Act: another description, another actor, another severity; then the first resolved and recurring
    cli(*VIOLATION, "--description", "2000/day exceeded", "--actor", "ann")
    cli(*VIOLATION, "--description", "1000/day exceeded", "--actor", "bob")
    cli(*VIOLATION[:-1], "warning", "--description", "1000/day exceeded", "--actor", "ann")
    cli("compliance", "resolve-violation", f"{SOURCE}#v1", "--actor", "bob")
    recurred = cli(*same)
    # Assert
    assert f"violation {SOURCE}#v5 recorded" in recurred, recurred
    assert _recorded_violations(container) == [f"{SOURCE}#v{i}" for i in range(1, 6)]


def test_record_violation_when_sent_twice_at_once_then_recorded_once(container: Container, fresh_db: str) -> None:
    # Arrange: two processes, each with its own service, the matrix seeded
    one, two = container.compliance, ComplianceService(application_env(fresh_db), FixedClock(NOW))
    one.ensure_seeded()
    two.ensure_seeded()
    try:
        # Act: the second decides while the first one's save waits, uncommitted
        first, second = race(fresh_db, lambda: one.record_violation(SOURCE, "rate_limit", "warning", "429s", "ann"),
                             lambda: two.record_violation(SOURCE, "rate_limit", "warning", "429s", "ann"))
    finally:
        two.close()
    # Assert: one violation; the loser found the winner's
    assert first[0] == second[0] == f"{SOURCE}#v1" and first[1] is not None and second[1] is None, (first, second)
    assert _recorded_violations(container) == [f"{SOURCE}#v1"]


def test_claims_add_when_run_again_then_the_active_one_answers_and_nothing_is_recorded(
        container: Container) -> None:
    # Arrange
    store = EvidenceStore(container.settings.evidence_dir())
    a, b = store.put(b'{"high": 48}').evidence_hash, store.put(b'{"low": 39}').evidence_hash
    add = ["claims", "add", "--type", "api_response", "--claim", "NYC high was 48F", "--evidence-hash", a, *WHO]
    computed = ["claims", "add", "--type", "computation", *WHO, "--claim", "NYC range was 9F",
                "--code-ref", "weather.range@1"]
    first = cli(*add)
    range_ = cli(*computed, "--input-hash", a, "--input-hash", b)
    # Act: both run again (the computation's inputs named in another order, the claim with a trailing space)
    again = cli(*add[:5], "NYC high was 48F ", *add[6:])
    range_again = cli(*computed, "--input-hash", b, "--input-hash", a)
    # Assert
    assert "SR-001 recorded" in first and "SR-002 recorded" in range_
    assert "SR-001 already recorded" in again and "nothing recorded" in again, again
    assert "SR-002 already recorded" in range_again, range_again
    assert _citations(container) == [("SR-001", "NYC high was 48F"), ("SR-002", "NYC range was 9F")]


def test_claims_add_when_other_evidence_other_claim_or_after_retraction_then_recorded(container: Container) -> None:
    store = EvidenceStore(container.settings.evidence_dir())
    a, b = store.put(b'{"high": 48}').evidence_hash, store.put(b'{"high": 49}').evidence_hash
    add = ["claims", "add", "--type", "api_response", *WHO]
    cli(*add, "--claim", "NYC high was 48F", "--evidence-hash", a)
    # Act: the same claim on other evidence, another claim on the same evidence; the first retracted and added again
    cli(*add, "--claim", "NYC high was 48F", "--evidence-hash", b)
    cli(*add, "--claim", "NYC high was 48 F", "--evidence-hash", a)
    cli("claims", "retract", "SR-001", "--reason", "misread", *WHO)
    readded = cli(*add, "--claim", "NYC high was 48F", "--evidence-hash", a)
    readded_again = cli(*add, "--claim", "NYC high was 48F", "--evidence-hash", a)
    # Assert: four citations; the re-added one is now the active one
    assert "SR-004 recorded" in readded and "SR-004 already recorded" in readded_again, (readded, readded_again)
    assert [cid for cid, _ in _citations(container)] == ["SR-001", "SR-002", "SR-003", "SR-004"]


def test_claims_add_when_sent_twice_at_once_then_recorded_once(container: Container, fresh_db: str) -> None:
    # Arrange: two processes adding the same claim, both reading the next number 1 from the (empty) view
    store = EvidenceStore(container.settings.evidence_dir())
    a = store.put(b'{"high": 48}').evidence_hash
    fields: dict[str, Any] = {"claim": "NYC high was 48F", "source_type": "api_response", "actor": "ops-dana",
                              "evidence_hash": a, "retrieved_at": datetime(2026, 11, 27, 8, tzinfo=UTC)}
    one = SourcesService(application_env(fresh_db), FixedClock(NOW))
    two = SourcesService(application_env(fresh_db), FixedClock(NOW))
    try:
        # Act
        first, second = race(fresh_db, lambda: one.record_citation(lambda: 1, **fields),
                             lambda: two.record_citation(lambda: 1, **fields))
    finally:
        one.close()
        two.close()
    # Assert: one citation; the loser answers with the winner's
    assert first[0].citation_id == second[0].citation_id == "SR-001", (first, second)
    assert first[1] is not None and second[1] is None
    assert _citations(container) == [("SR-001", "NYC high was 48F")]


def test_claim_with_no_canonical_form_when_added_then_invalid_and_nothing_recorded(container: Container,
                                                                                 fresh_db: str) -> None:
    """The key is the claim's canonical JSON: a lone surrogate has none, so it is refused as bad input."""
    service = SourcesService(application_env(fresh_db), FixedClock(NOW))
    try:
        with pytest.raises(InvalidSource, match="cannot be stored"):
            service.record_citation(lambda: 1, claim="NYC high \ud800", source_type="api_response", actor="ops",
                                    evidence_hash="1" * 64, retrieved_at=datetime(2026, 11, 27, 8, tzinfo=UTC))
    finally:
        service.close()
    assert _citations(container) == []


def test_claims_add_when_the_active_citation_predates_its_key_then_the_view_finds_it(container: Container,
                                                                                    fresh_db: str) -> None:
    """A citation recorded before ADR 0527 has no ``ClaimKey``: the view names it, the log confirms it active."""
    # Arrange: SR-001 saved alone, as the code before the key did, and projected; SR-002 the same claim, retracted
    store = EvidenceStore(container.settings.evidence_dir())
    a = store.put(b'{"high": 48}').evidence_hash
    old = SourcesService(application_env(fresh_db), FixedClock(NOW))
    try:
        for number in (1, 2):
            old.save(Citation.record(number=number, claim="NYC high was 48F", source_type="api_response",
                                     actor="ops", evidence_hash=a, retrieved_at=datetime(2026, 11, 27, 8, tzinfo=UTC)))
        old.retract_citation("SR-002", "kept SR-001", "ops")
    finally:
        old.close()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        catch_up_from_log(conn, container.projections["sources"])
    # Act
    again = cli("claims", "add", "--type", "api_response", "--claim", "NYC high was 48F", "--evidence-hash", a, *WHO)
    # Assert
    assert "SR-001 already recorded" in again, again
    assert [cid for cid, _ in _citations(container)] == ["SR-001", "SR-002"]
