"""The hourly audit job walks only the records new since the last valid run, with a full walk when one is due or
the last run cannot be trusted; every anchor is checked on every run (ADR 0506)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from paulp.adapters.anchors import verify_all, write_anchor
from paulp.api.app import create_app
from paulp.api.audit_job import anchor_and_verify
from paulp.api.wiring import Container
from paulp.domain.clock import FixedClock
from tests.integration.helpers import NOW, make_container

pytestmark = pytest.mark.integration
AUTH = {"Authorization": "Bearer test-admin-token-0123456789abcdef"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def c(fresh_db: str, nats_url: str, namespace: str, clock: FixedClock) -> Iterator[Container]:
    container = make_container(fresh_db, nats_url, namespace, clock)
    yield container
    container.close()


def append(c: Container, n: int) -> int:
    """``n`` more events (risk checks, as the breaker records them in any state); the new chain head."""
    for _ in range(n):
        c.breaker.record_risk_check(blocked=False)
    return head(c)


def head(c: Container) -> int:
    with psycopg.connect(c.database_url) as conn:
        row = conn.execute("SELECT max(chain_seq) FROM audit_chain").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def tamper(c: Container, sql: str, seq: int) -> None:
    """What a superuser can do past the append-only triggers."""
    with psycopg.connect(c.database_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql, {"seq": seq})


EDIT_EVENT = ("UPDATE paulp_events SET state = convert_to(jsonb_set(convert_from(state, 'UTF8')::jsonb,"
              " '{tampered}', 'true')::text, 'UTF8') WHERE notification_id ="
              " (SELECT notification_id FROM audit_chain WHERE chain_seq = %(seq)s)")
EDIT_CHAIN_PAYLOAD = "UPDATE audit_chain SET payload = payload || ' ' WHERE chain_seq = %(seq)s"
EDIT_STORED_HASH = "UPDATE audit_chain SET hash = repeat('0', 64) WHERE chain_seq = %(seq)s"


def recorded(c: Container) -> list[tuple[str, int, int, bool]]:
    with psycopg.connect(c.anchor_url) as conn:
        rows = conn.execute("SELECT mode, from_sequence, checked_through_sequence, valid"
                            " FROM audit_anchor.anchor_verifications ORDER BY id").fetchall()
    return [(str(m), int(f), int(t), bool(v)) for m, f, t, v in rows]


def test_hourly_job_when_a_valid_full_run_exists_then_walks_only_the_new_records(c, clock):
    first_head = append(c, 5)
    first = anchor_and_verify(c)
    assert (first.plan.mode, first.plan.why, first.chain.chain.events_checked) == (
        "full", "no earlier verification", first_head)
    new_head = append(c, 3)
    clock.set(NOW + timedelta(hours=1))
    second = anchor_and_verify(c)
    assert second.valid and (second.plan.mode, second.plan.start) == ("incremental", first_head + 1)
    assert (second.chain.chain.events_checked, second.chain.chain.first_sequence,
            second.chain.chain.last_sequence) == (3, first_head + 1, new_head)
    assert second.anchors.verified == 2  # every anchor, every run
    clock.set(NOW + timedelta(hours=2))
    idle = anchor_and_verify(c)  # nothing new: an empty walk, still linked and anchored
    assert idle.valid and idle.chain.chain.events_checked == 0 and idle.plan.start == new_head + 1
    assert recorded(c) == [("full", 1, first_head, True), ("incremental", first_head + 1, new_head, True),
                           ("incremental", new_head + 1, new_head, True)]
    status = TestClient(create_app(c)).get("/admin/audit/status", headers=AUTH).json()
    assert status["lastVerification"] == {"at": idle.verified_at.isoformat(), "valid": True,
                                          "checkedThroughSequence": new_head}
    assert status["lastFullVerification"] == {"at": first.verified_at.isoformat(), "valid": True,
                                              "checkedThroughSequence": first_head}


@pytest.mark.parametrize("edit", [EDIT_EVENT, EDIT_CHAIN_PAYLOAD], ids=["event-row", "chain-payload"])
def test_hourly_job_when_a_new_records_payload_is_edited_then_the_incremental_run_halts(c, clock, edit):
    append(c, 2)
    assert anchor_and_verify(c).valid and append(c, 4)
    new = head(c) - 1
    tamper(c, edit, new)
    clock.set(NOW + timedelta(hours=1))
    outcome = anchor_and_verify(c)
    assert outcome.plan.mode == "incremental" and not outcome.valid
    assert outcome.chain.first_bad_sequence == new and outcome.anchors.failed == 0
    assert c.breaker.get().state == "HALT"


def test_hourly_job_when_an_old_records_payload_is_edited_then_caught_by_the_next_full_run(c, clock):
    """The bounded delay of ADR 0506: an edit below the last verified sequence that leaves every stored hash as it
    was is invisible to anchors and to the incremental walk, and is found by the full walk at most
    PAULP_AUDIT_FULL_VERIFY_HOURS (+ one hourly slot) later."""
    old = append(c, 5) - 2
    assert anchor_and_verify(c).valid
    tamper(c, EDIT_EVENT, old)
    tamper(c, EDIT_CHAIN_PAYLOAD, old - 1)
    append(c, 2)
    clock.set(NOW + timedelta(hours=23))
    late = anchor_and_verify(c)
    assert late.valid and late.plan.mode == "incremental"  # not seen yet
    clock.set(NOW + timedelta(hours=24) - timedelta(minutes=3))  # the next daily slot, a little early
    due = anchor_and_verify(c)
    assert (due.plan.mode, due.plan.why) == ("full", "full verification due")
    assert not due.valid and due.chain.first_bad_sequence == old - 1
    assert {m.sequence for m in due.chain.event_mismatches} == {old - 1, old}  # both differ from their events
    assert c.breaker.get().state == "HALT"


def test_hourly_job_when_an_old_records_stored_hash_is_edited_then_the_anchors_catch_it_at_once(c, clock):
    verified = append(c, 6)
    assert anchor_and_verify(c).valid and append(c, 2)
    tamper(c, EDIT_STORED_HASH, 2)
    clock.set(NOW + timedelta(hours=1))
    outcome = anchor_and_verify(c)
    assert outcome.plan.mode == "incremental" and outcome.chain.valid  # the walk starts after it...
    assert not outcome.valid and outcome.anchors.failed >= 1  # ...the anchors' snapshot does not
    assert any("Snapshot mismatch" in (a.reason or "") for a in outcome.anchors.anchors)
    assert c.breaker.get().state == "HALT"
    assert verified > 2


def test_hourly_job_when_the_last_verified_records_hash_is_edited_then_the_link_and_anchors_catch_it(c, clock):
    verified = append(c, 4)
    assert anchor_and_verify(c).valid and append(c, 2)
    tamper(c, EDIT_STORED_HASH, verified)
    clock.set(NOW + timedelta(hours=1))
    outcome = anchor_and_verify(c)
    assert outcome.plan.start == verified + 1 and not outcome.valid
    assert [(b.sequence, b.kind) for b in outcome.chain.chain.broken_links] == [(verified + 1, "link")]
    assert outcome.anchors.failed >= 1


def test_hourly_job_when_the_last_run_was_invalid_then_the_next_run_is_full(c, clock):
    append(c, 2)
    assert anchor_and_verify(c).valid and append(c, 3)
    old = head(c) - 1
    tamper(c, EDIT_CHAIN_PAYLOAD, old)
    clock.set(NOW + timedelta(hours=1))
    assert not anchor_and_verify(c).valid
    tamper(c, "UPDATE audit_chain SET payload = rtrim(payload, ' ') WHERE chain_seq = %(seq)s", old)  # repaired
    clock.set(NOW + timedelta(hours=2))
    after = anchor_and_verify(c)
    assert (after.plan.mode, after.plan.why, after.valid) == ("full", "the last verification was invalid", True)
    assert after.chain.chain.events_checked == head(c)
    clock.set(NOW + timedelta(hours=3))
    assert anchor_and_verify(c).plan.mode == "incremental"


def test_hourly_job_when_the_tail_was_deleted_then_the_next_run_is_full_and_reports_the_break(c, clock):
    verified = append(c, 5)
    assert anchor_and_verify(c).valid
    tamper(c, "DELETE FROM audit_chain WHERE chain_seq >= %(seq)s", verified - 1)
    clock.set(NOW + timedelta(hours=1))
    outcome = anchor_and_verify(c)
    assert outcome.plan.mode == "full" and "beyond the head" in outcome.plan.why
    assert not outcome.valid and any("Last event not found" in (a.reason or "") for a in outcome.anchors.anchors)
    assert c.breaker.get().state == "HALT"


def test_hourly_job_when_full_verify_hours_is_zero_or_full_asked_then_every_run_walks_from_genesis(
    fresh_db, nats_url, namespace
):
    c = make_container(fresh_db, nats_url, namespace, FixedClock(NOW), PAULP_AUDIT_FULL_VERIFY_HOURS="0")
    try:
        assert append(c, 2) and anchor_and_verify(c).valid and append(c, 2)
        assert anchor_and_verify(c).plan.mode == "full"
        c.settings.PAULP_AUDIT_FULL_VERIFY_HOURS = 24
        assert anchor_and_verify(c).plan.mode == "incremental"
        forced = anchor_and_verify(c, full=True)
        assert (forced.plan.mode, forced.chain.chain.events_checked) == ("full", head(c))
    finally:
        c.close()


def test_verification_when_records_arrived_between_its_anchor_and_its_walk_then_the_next_run_walks_them_again(
    c, clock
):
    """Verified but not yet anchored: a later edit of such a record's stored hash would be pinned by the next
    anchor and, were the walk to resume after them, seen only by the next full run."""
    anchored = append(c, 3)
    write_anchor(c.database_url, c.anchor_url, clock.now())
    walked = append(c, 3)
    assert verify_all(c.database_url, c.anchor_url, clock.now(), timedelta(hours=24)).valid
    tamper(c, EDIT_STORED_HASH, anchored + 1)
    clock.set(NOW + timedelta(hours=1))
    outcome = anchor_and_verify(c)
    assert (outcome.plan.mode, outcome.plan.start) == ("incremental", anchored + 1) and walked > anchored + 1
    assert not outcome.valid and outcome.chain.first_bad_sequence == anchored + 1
    assert outcome.anchors.failed == 0  # the new anchor pinned the edited hash: only the walk sees it


def test_hourly_job_when_it_anchors_then_the_anchor_is_the_one_write_anchor_pins_and_the_run_verified_it(c, clock):
    """The job pins its anchor in the pass that checks the stored ones (ADR 0509): the stored row equals a
    separate ``write_anchor`` of the same chain but for its id and sequence, the run lists it last as valid and
    its verification row names it; an hourly run later checks it against the chain like any other."""
    length = append(c, 7)
    outcome = anchor_and_verify(c)
    alone = write_anchor(c.database_url, c.anchor_url, clock.now())  # nothing appended in between
    with psycopg.connect(c.anchor_url) as conn:
        rows = conn.execute("SELECT id, anchor_sequence, chain_head_hash, chain_length, first_event_id,"
                            " last_event_id, snapshot_hash FROM audit_anchor.anchors ORDER BY anchor_sequence"
                            ).fetchall()
        named = conn.execute("SELECT anchor_id FROM audit_anchor.anchor_verifications ORDER BY id").fetchall()
    job_row, alone_row = rows
    assert (job_row[0], job_row[1], alone_row[1]) == (outcome.anchors.anchors[-1].id, 1, 2)
    assert job_row[2:] == alone_row[2:] == (alone.chain_head_hash, length, alone.first_event_id, alone.last_event_id,
                                           alone.snapshot_hash)
    assert outcome.anchors.anchors[-1].valid and named == [(job_row[0],)]
    append(c, 2)
    clock.set(NOW + timedelta(hours=1))
    later = anchor_and_verify(c)
    assert later.valid and [a.id for a in later.anchors.anchors[:2]] == [job_row[0], alone_row[0]]
    assert later.anchors.verified == 3
