"""Source failures as compliance events (ADR 0400) and the one-operator ToS review (ADR 0401)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.compliance import ComplianceSource
from paulp.domain.compliance_matrix import SEED_BY_NAME, ComplianceEventType, InvalidComplianceRequest, tos_review_due
from paulp.domain.compliance_outcomes import (
    RATE_LIMIT_CODES,
    REFUSED_CODES,
    TRANSPORT_CODES,
    RunOutcomes,
    failure_event_type,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CODES = sorted(TRANSPORT_CODES | RATE_LIMIT_CODES | REFUSED_CODES | {"venue_not_found", "venue_conflict",
                                                                    "venue_request_rejected", "noaa_not_configured",
                                                                    "venue_evidence_write_failed", ""})
statuses = st.one_of(st.none(), st.integers(100, 599))


@given(statuses, st.sampled_from(CODES))
def test_failure_event_type_when_any_answer_then_status_decides_before_code(status: int | None, code: str) -> None:
    kind = failure_event_type(status, code)
    if status == 429:
        assert kind is ComplianceEventType.RATE_LIMIT_HIT
    elif status in (401, 403):
        assert kind is ComplianceEventType.BLOCKED_ACCESS
    elif status is not None and status >= 500:
        assert kind is ComplianceEventType.API_ERROR
    elif status is not None and not 200 <= status < 300:  # 404, 409, other 4xx: about our request, not the source
        assert kind is None
    elif code in TRANSPORT_CODES:
        assert kind is ComplianceEventType.API_ERROR
    elif status is None and code in RATE_LIMIT_CODES:
        assert kind is ComplianceEventType.RATE_LIMIT_HIT
    elif status is None and code in REFUSED_CODES:
        assert kind is ComplianceEventType.BLOCKED_ACCESS
    else:
        assert kind is None


def test_failure_event_type_when_ours_then_none() -> None:
    assert failure_event_type(None, "noaa_not_configured") is None
    assert failure_event_type(None, "venue_evidence_write_failed") is None
    assert failure_event_type(404, "venue_not_found") is None


@given(st.lists(st.tuples(st.sampled_from(["kalshi_trade_api", "noaa_cdo"]), statuses, st.sampled_from(CODES)),
                max_size=200))
def test_run_outcomes_when_many_failures_then_at_most_one_summary_per_source_and_type(
        notes: list[tuple[str, int | None, str]]) -> None:
    outcomes = RunOutcomes("ingest")
    kinds = [outcomes.note(source, status, code) for source, status, code in notes]
    summaries = outcomes.summaries()
    pairs = [(source, kind) for source, kind, _ in summaries]
    assert len(pairs) == len(set(pairs)) <= 2 * 3  # two sources, three failure kinds
    assert set(pairs) == {(source, k) for (source, _, _), k in zip(notes, kinds, strict=True) if k is not None}
    counted = sum(t.count for t in outcomes.seen.values())
    assert counted == sum(1 for k in kinds if k is not None)
    assert all(len(t.codes) <= 5 and len(t.statuses) <= 5 for t in outcomes.seen.values())


def test_run_outcomes_when_same_failure_twice_then_counted_in_one_description() -> None:
    outcomes = RunOutcomes("scan")
    outcomes.note("kalshi_trade_api", 429, "venue_rate_limited")
    outcomes.note("kalshi_trade_api", 429, "venue_rate_limited")
    assert outcomes.summaries() == [("kalshi_trade_api", ComplianceEventType.RATE_LIMIT_HIT,
                                     "scan: 2 calls failed with venue_rate_limited (HTTP 429)")]


# ----------------------------------------------------------------------------------------- ToS review


def kalshi() -> ComplianceSource:
    return ComplianceSource.seed(SEED_BY_NAME["kalshi_trade_api"], T0)


def test_review_tos_when_reviewed_then_next_review_in_90_days_and_replays() -> None:
    src = kalshi()
    later = T0 + timedelta(days=95)
    assert tos_review_due([("kalshi_trade_api", src.tos_next_review_date)], later) == ["kalshi_trade_api"]
    due = src.review_tos(" Ann ", "read the terms", "2026-06", later)
    assert due == src.tos_next_review_date == later + timedelta(days=90)
    assert (src.tos_version, src.status.value) == ("2026-06", "approved")
    assert tos_review_due([("kalshi_trade_api", src.tos_next_review_date)], later) == []
    events = src.collect_events()
    reviewed = events[-1]
    assert isinstance(reviewed, ComplianceSource.TosReviewed)
    assert (reviewed.reviewed_by, reviewed.previous_version, reviewed.tos_version) == ("Ann", "bootstrap-v1",
                                                                                      "2026-06")
    mapper = make_mapper()
    rebuilt = None
    for e in events:
        rebuilt = mapper.to_domain_event(mapper.to_stored_event(e)).mutate(rebuilt)
    assert rebuilt is not None and rebuilt.tos_next_review_date == due and rebuilt.tos_version == "2026-06"


def test_review_tos_when_no_version_given_then_version_kept() -> None:
    src = kalshi()
    src.review_tos("ann", "unchanged", None, T0)
    assert src.tos_version == "bootstrap-v1"


@pytest.mark.parametrize(("actor", "notes", "version"), [
    ("", "read", None), ("ann", " ", None), ("ann", "read", " "), ("ann", "x" * 4001, None), ("ann", "read", 7),
])
def test_review_tos_when_input_bad_then_refused_and_nothing_recorded(actor: object, notes: object,
                                                                     version: object) -> None:
    src = kalshi()
    src.collect_events()
    with pytest.raises(InvalidComplianceRequest):
        src.review_tos(actor, notes, version, T0)
    assert src.collect_events() == [] and src.tos_next_review_date == T0 + timedelta(days=90)
