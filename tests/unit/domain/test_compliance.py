"""Compliance matrix (api-and-security §6.3): the seed, the fail-closed checks, the ingestion mapping, the ToS
review list, and the ComplianceSource aggregate's two-person status changes, events and violations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.checkpoints import resume
from paulp.domain.compliance import (
    PROPOSAL_TTL,
    ComplianceSource,
    IngestionBlocked,
    ProposalClosed,
    ProposalExpired,
    ProposalNotFound,
    ProposalPending,
    SameOperator,
    StatusUnchanged,
    ViolationAlreadyResolved,
    ViolationNotFound,
    split_id,
)
from paulp.domain.compliance_matrix import (
    NOT_IN_MATRIX,
    SEED,
    SEED_BY_NAME,
    InvalidComplianceRequest,
    SourceStatus,
    check_batch,
    check_source,
    ingestion_decision,
    ingestion_sources,
    tos_review_due,
    unreadable_decision,
)
from tests.support.hypothesis_scale import examples, steps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUSES = [s.value for s in SourceStatus]
NAMES = ["kalshi_trade_api", "noaa_cdo", "fred_api", "polymarket_analytics", "made_up_api"]


def kalshi(at: datetime = T0) -> ComplianceSource:
    return ComplianceSource.seed(SEED_BY_NAME["kalshi_trade_api"], at)


# ------------------------------------------------------------------------------------------------ seed


def test_seed_when_listed_then_spec_rows_with_bootstrap_terms() -> None:
    assert [s.source_name for s in SEED] == ["polymarket_gamma_api", "polymarket_clob_api", "polymarket_data_api",
                                             "kalshi_trade_api", "noaa_cdo", "noaa_weather_api", "fred_api",
                                             "polymarket_analytics"]
    blocked = [s for s in SEED if s.status is not SourceStatus.APPROVED]
    assert [(s.source_name, s.block_reason, s.prohibited_usage, s.allowed_usage) for s in blocked] == [
        ("polymarket_analytics", "ToS does not explicitly permit automated access", ("automated_access",), ())]
    terms = SEED_BY_NAME["kalshi_trade_api"].terms(T0)
    assert terms["retry_policy"] == {"max_retries": 3, "backoff_base_ms": 1000}
    assert terms["retention_rules"] == {"max_cache_duration_hours": 24, "raw_storage_allowed": True}
    assert (terms["tos_version"], terms["authentication_type"], terms["authentication_required"]) == (
        "bootstrap-v1", "rsa_pss", True)
    assert datetime.fromisoformat(terms["tos_next_review_date"]) == T0 + timedelta(days=90)
    assert terms["rate_limits"] == {"public_per_minute": 100, "trading_per_minute": 60, "cancels_per_minute": 120}
    assert SEED_BY_NAME["noaa_cdo"].terms(T0)["rate_limits"] == {"requests_per_second": 5, "requests_per_day": 1000}
    assert SEED_BY_NAME["noaa_weather_api"].terms(T0)["authentication_required"] is False
    assert all(s.terms(T0)["tos_url"].startswith("https://") for s in SEED)


def test_seeded_source_when_stored_and_read_back_then_same_terms() -> None:
    src = kalshi()
    (seeded,) = src.collect_events()
    mapper = make_mapper()
    back = mapper.to_domain_event(mapper.to_stored_event(seeded))
    assert back.__dict__ == seeded.__dict__
    assert ComplianceSource.create_id("kalshi_trade_api") == src.id != ComplianceSource.create_id("noaa_cdo")


# ------------------------------------------------------------------------------------------------ checks


def test_check_source_when_absent_or_present_then_spec_shapes() -> None:
    assert check_source("nope", None) == {"approved": False, "reason": NOT_IN_MATRIX}
    assert check_source("noaa_cdo", "approved", ["weather_history_read"]) == {
        "approved": True, "status": "approved", "allowedUsage": ["weather_history_read"]}
    assert check_source("x", "under_review")["approved"] is False


def test_check_batch_when_empty_then_not_allowed() -> None:
    decision = check_batch([], {"kalshi_trade_api": "approved"})
    assert not decision.allowed and decision.status == "unknown"


def test_check_batch_when_unknown_and_blocked_then_last_offending_status_and_count() -> None:
    statuses = {"a": "approved", "b": "blocked", "c": "under_review"}
    d = check_batch(["a", "b", "zz", "c"], statuses)
    assert d.as_dict() == {"allowed": False, "status": "under_review", "reason": "3 entities blocked or unknown",
                           "blockedEntities": ["b", "zz", "c"], "sources": ["a", "b", "zz", "c"]}
    assert check_batch(["c", "zz"], statuses).status == "unknown"  # the last offender is unknown
    assert check_batch(["a"], statuses).as_dict() == {"allowed": True, "status": "approved", "sources": ["a"]}


@given(st.lists(st.sampled_from(NAMES), max_size=6),
       st.dictionaries(st.sampled_from(NAMES), st.sampled_from(STATUSES)))
def test_check_batch_property_allowed_iff_nonempty_and_every_entity_approved(names: list[str],
                                                                             statuses: dict[str, str]) -> None:
    d = check_batch(names, statuses)
    assert d.allowed == (bool(names) and all(statuses.get(n) == "approved" for n in names))
    offenders = [n for n in names if statuses.get(n) != "approved"]
    assert list(d.blocked_entities) == offenders
    if offenders:
        assert d.reason == f"{len(offenders)} entities blocked or unknown"
        assert d.status == (statuses.get(offenders[-1]) or "unknown")


@pytest.mark.parametrize(("venue", "kind", "sources"), [
    ("polymarket", "fetch_markets", ("polymarket_gamma_api",)),
    ("polymarket", "fetch_orderbook", ("polymarket_clob_api",)),
    ("polymarket", "fetch_account", ("polymarket_data_api",)),
    ("polymarket", "fetch_leaderboard", ("polymarket_data_api",)),
    ("kalshi", "fetch_markets", ("kalshi_trade_api",)),
    ("kalshi", "fetch_orderbook", ("kalshi_trade_api",)),
    ("kalshi", "fetch_account", ("kalshi_trade_api",)),
    ("kalshi", "fetch_leaderboard", ("kalshi_trade_api",)),
    ("noaa", "fetch_station_history", ("noaa_cdo",)),
    ("noaa", "fetch_forecast", ("noaa_weather_api",)),
    ("noaa", "fetch_observations", ("noaa_weather_api",)),
])
def test_ingestion_mapping_when_known_type_then_its_sources(venue: str, kind: str, sources: tuple[str, ...]) -> None:
    assert ingestion_sources(venue, kind) == sources
    assert ingestion_decision(venue, kind, dict.fromkeys(sources, "approved")).allowed


@pytest.mark.parametrize(("venue", "kind"), [("ibkr", "fetch_markets"), ("kalshi", "submit_order"), ("", "")])
def test_ingestion_decision_when_no_mapping_then_blocked(venue: str, kind: str) -> None:
    d = ingestion_decision(venue, kind, {s.source_name: "approved" for s in SEED})
    assert not d.allowed and d.status == "unknown" and "No compliance source is mapped" in (d.reason or "")


def test_unreadable_decision_when_matrix_fails_then_blocked_naming_the_sources() -> None:
    d = unreadable_decision("kalshi", "fetch_markets", "OperationalError")
    assert (d.allowed, d.status, d.blocked_entities) == (False, "unknown", ("kalshi_trade_api",))
    assert d.reason == "Compliance matrix unreadable: OperationalError"


def test_tos_review_due_when_date_passed_then_listed_strictly() -> None:
    dates = [("a", T0 - timedelta(seconds=1)), ("b", T0), ("c", T0 + timedelta(days=1))]
    assert tos_review_due(dates, T0) == ["a"]


# ------------------------------------------------------------------------------------------------ aggregate


def test_status_change_when_second_operator_approves_then_changed_with_both_actors() -> None:
    src = kalshi()
    pid = src.propose_status("blocked", "ToS changed", None, "ops-ann", T0)
    assert pid == "kalshi_trade_api#p1" and src.status is SourceStatus.APPROVED  # nothing changes yet
    src.approve(pid, "ops-bob", T0 + timedelta(hours=1))
    assert (src.status, src.block_reason, src.changed_by) == (SourceStatus.BLOCKED, "ToS changed",
                                                              ["ops-ann", "ops-bob"])
    names = [type(e).__name__ for e in src.collect_events()]
    assert names == ["Seeded", "StatusChangeProposed", "SourceStatusChanged"]


def test_approve_when_same_operator_any_case_then_refused_and_no_event() -> None:
    src = kalshi()
    pid = src.propose_status("under_review", "check terms", None, "Ops-Ann", T0)
    src.collect_events()
    with pytest.raises(SameOperator):
        src.approve(pid, " ops-ann ", T0)
    assert src.collect_events() == [] and src.status is SourceStatus.APPROVED


def test_approve_when_expired_then_closed_and_a_new_proposal_may_start() -> None:
    src = kalshi()
    pid = src.propose_status("blocked", "why", "bad terms", "a", T0)
    with pytest.raises(ProposalExpired):
        src.approve(pid, "b", T0 + PROPOSAL_TTL + timedelta(seconds=1))
    assert src.pending is None and src.status is SourceStatus.APPROVED
    assert src.propose_status("blocked", "why", "bad terms", "a", T0 + 2 * PROPOSAL_TTL) == "kalshi_trade_api#p2"


def test_propose_when_one_pending_then_refused_until_rejected() -> None:
    src = kalshi()
    pid = src.propose_status("blocked", "why", None, "a", T0)
    with pytest.raises(ProposalPending):
        src.propose_status("under_review", "other", None, "b", T0)
    with pytest.raises(ProposalNotFound):
        src.approve("kalshi_trade_api#p9", "b", T0)
    src.reject(pid, "a", "typo", T0)
    with pytest.raises(ProposalClosed):  # closed, not unknown: a retried approve is told so (ADR 0517)
        src.approve(pid, "b", T0)
    with pytest.raises(ProposalClosed):
        src.reject(pid, "a", "typo", T0)
    assert src.propose_status("under_review", "other", None, "b", T0) == "kalshi_trade_api#p2"


@pytest.mark.parametrize(("status", "reason", "block", "actor"), [
    ("live", "r", None, "a"), ("", "r", None, "a"), (None, "r", None, "a"), ("blocked", " ", None, "a"),
    ("blocked", "r", None, ""), ("approved", "r", "not for approved", "a"), ("blocked", "r", "x" * 501, "a"),
])
def test_propose_when_input_bad_then_invalid_and_no_event(status: Any, reason: Any, block: Any, actor: Any) -> None:
    src = kalshi()
    src.collect_events()
    with pytest.raises(InvalidComplianceRequest):
        src.propose_status(status, reason, block, actor, T0)
    assert src.collect_events() == []


def test_propose_when_status_already_held_then_unchanged() -> None:
    with pytest.raises(StatusUnchanged):
        kalshi().propose_status("approved", "again", None, "a", T0)


def test_violation_when_recorded_then_resolved_once() -> None:
    src = kalshi()
    vid, duplicate = src.record_violation("rate_limit_exceeded", "critical", "429s for 5 min", "ops", T0)
    assert (vid, duplicate) == ("kalshi_trade_api#v1", False) and src.unresolved_violations == 1
    with pytest.raises(InvalidComplianceRequest):
        src.record_violation("x", "fatal", "d", "ops", T0)
    with pytest.raises(ViolationNotFound):
        src.resolve_violation("kalshi_trade_api#v7", "ops", None, T0)
    src.resolve_violation(vid, "ops-bob", "backed off", T0)
    assert src.unresolved_violations == 0
    with pytest.raises(ViolationAlreadyResolved):
        src.resolve_violation(vid, "ops-bob", None, T0)


def test_violation_when_recorded_again_while_unresolved_then_it_is_that_one() -> None:
    # Arrange: one violation recorded
    src = kalshi()
    first = src.record_violation("rate_limit", "critical", "429s for 5 min", "ops-ann", T0)
    src.collect_events()
    # Act: the same again (the actor in other case, spaces around), then others differing in one field each
    again = src.record_violation(" rate_limit", "critical", "429s for 5 min ", "OPS-ANN", T0 + timedelta(hours=1))
    repeated = src.collect_events()
    others = [src.record_violation(*fields, T0) for fields in (
        ("rate_limit_2", "critical", "429s for 5 min", "ops-ann"),
        ("rate_limit", "warning", "429s for 5 min", "ops-ann"),
        ("rate_limit", "critical", "429s for 6 min", "ops-ann"),
        ("rate_limit", "critical", "429s for 5 min", "ops-bob"))]
    # Assert: the repeat is the first one and recorded nothing; each other is a new violation
    assert first == ("kalshi_trade_api#v1", False) and again == ("kalshi_trade_api#v1", True) and repeated == []
    assert others == [(f"kalshi_trade_api#v{i}", False) for i in range(2, 6)]


def test_violation_when_resolved_and_recurring_then_a_new_one() -> None:
    src = kalshi()
    vid, _ = src.record_violation("rate_limit", "critical", "429s", "ops", T0)
    src.resolve_violation(vid, "ops-bob", None, T0)
    # Act
    recurred = src.record_violation("rate_limit", "critical", "429s", "ops", T0)
    # Assert: a new violation, itself the answer to the next repeat
    assert recurred == ("kalshi_trade_api#v2", False)
    assert src.record_violation("rate_limit", "critical", "429s", "ops", T0) == ("kalshi_trade_api#v2", True)


def test_violation_when_repeated_after_a_stored_checkpoint_then_still_that_one() -> None:
    # Arrange: an open and a resolved violation, then a checkpoint, stored and read back; a load resumes there
    src = kalshi()
    src.record_violation("rate_limit", "critical", "429s", "ops", T0)
    resolved, _ = src.record_violation("tos", "warning", "scraped", "ops", T0)
    src.resolve_violation(resolved, "ops", None, T0)
    assert src.checkpoint_if_due(1)
    mapper = make_mapper()
    stored = [mapper.to_domain_event(mapper.to_stored_event(ev)) for ev in src.collect_events()]
    resumed = resume(ComplianceSource, ComplianceSource.Checkpointed, stored[-1:])
    # Act
    repeat = resumed.record_violation("rate_limit", "critical", "429s", "ops", T0)
    recurred = resumed.record_violation("tos", "warning", "scraped", "ops", T0)
    # Assert
    assert (repeat, recurred) == (("kalshi_trade_api#v1", True), ("kalshi_trade_api#v3", False))


def test_record_event_when_type_unknown_then_invalid() -> None:
    src = kalshi()
    src.record_event("rate_limit_hit", "429 on /markets", "ops", T0)
    with pytest.raises(InvalidComplianceRequest):
        src.record_event("tos_ignored", "d", "ops", T0)


def test_split_id_when_malformed_then_invalid() -> None:
    assert split_id("kalshi_trade_api#p3") == ("kalshi_trade_api", "p3")
    for bad in ("kalshi_trade_api", "#p1", "kalshi#"):
        with pytest.raises(InvalidComplianceRequest):
            split_id(bad)


def test_ingestion_blocked_when_stored_then_round_trips() -> None:
    rec = IngestionBlocked(check_id="c1", job="ingest", message_type="fetch_markets", venue="kalshi",
                           status="blocked", reason="1 entities blocked or unknown",
                           blocked_entities=["kalshi_trade_api"], at=T0)
    (ev,) = rec.collect_events()
    mapper = make_mapper()
    assert mapper.to_domain_event(mapper.to_stored_event(ev)).__dict__ == ev.__dict__
    assert rec.id == IngestionBlocked.create_id("c1")


# ------------------------------------------------------------------------------------------------ stateful


def _decided(src: ComplianceSource) -> dict[str, Any]:
    """What the source decides with: everything but the library's version and times and the checkpoint's place."""
    return {k: v for k, v in vars(src).items() if k not in ("_version", "_modified_on", "checkpointed_at")}


class ComplianceSourceMachine(RuleBasedStateMachine):
    """Random proposals, approvals, rejections, violations (repeated, resolved, recurring), recorded events, ToS
    reviews, checkpoints and clock moves: a refused command records nothing, the status only ever changes through
    an approval by a second operator, a violation the same as an unresolved one is that one and records nothing
    (ADR 0527), a checkpoint changes nothing the source decides with, and replaying the stored events (through the
    transcoder) or resuming from the last stored checkpoint (ADR 0508) rebuilds the live aggregate."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.src = kalshi()
        self.history = list(self.src.collect_events())
        self.mapper = make_mapper()
        self.unresolved: dict[tuple[str, str, str], str] = {}  # the model: (severity, description, actor) -> id

    @rule(hours=st.integers(min_value=0, max_value=30))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(status=st.sampled_from([*STATUSES, "live"]), actor=st.sampled_from(["ann", "bob", "ANN", " "]),
          block=st.sampled_from([None, "bad terms"]))
    def propose(self, status: str, actor: str, block: str | None) -> None:
        before = self.src.status
        try:
            self.src.propose_status(status, "reason", block, actor, self.now)
        except (InvalidComplianceRequest, ProposalPending, StatusUnchanged):
            pass
        else:
            assert self.src.pending is not None and self.src.pending["proposed_by"] == actor.strip()
        assert self.src.status is before
        self._record()

    @rule(actor=st.sampled_from(["ann", "bob", "Bob", "cy"]), stale=st.booleans())
    def approve(self, actor: str, stale: bool) -> None:
        pending = self.src.pending
        pid = "kalshi_trade_api#p0" if stale or pending is None else pending["proposal_id"]
        try:
            self.src.approve(pid, actor, self.now)
        except (ProposalNotFound, ProposalExpired, SameOperator):
            if pending is not None and not stale and self.now <= pending["expires_at"]:
                assert actor.casefold() == pending["proposed_by"].casefold()
        else:
            assert pending is not None and self.src.status.value == pending["to_status"]
            assert self.src.changed_by[0].casefold() != self.src.changed_by[1].casefold()
        self._record()

    @rule(status=st.sampled_from(STATUSES))
    def two_person_change(self, status: str) -> None:
        """A proposal approved at once by a second operator, so checkpoints often follow an approval."""
        try:
            pid = self.src.propose_status(status, "reason", None, "dee", self.now)
        except (ProposalPending, StatusUnchanged):
            pass
        else:
            self.src.approve(pid, "eve", self.now)
            assert (self.src.status.value, self.src.changed_by, self.src.pending) == (status, ["dee", "eve"], None)
        self._record()

    @rule()
    def reject(self) -> None:
        if self.src.pending is not None:
            self.src.reject(self.src.pending["proposal_id"], "cy", "withdrawn", self.now)
            assert self.src.pending is None
        self._record()

    @rule(severity=st.sampled_from(["warning", "critical", "minor"]), description=st.sampled_from(["d", "e"]),
          actor=st.sampled_from(["ops", "OPS", "ann"]), resolve=st.booleans())
    def violation(self, severity: str, description: str, actor: str, resolve: bool) -> None:
        key, count = (severity, description, actor.casefold()), len(self.src.violations)
        try:
            vid, duplicate = self.src.record_violation("type", severity, description, actor, self.now)
        except InvalidComplianceRequest:
            assert severity == "minor"
        else:
            assert duplicate is (key in self.unresolved)
            if duplicate:  # that one, and nothing recorded
                assert vid == self.unresolved[key] and self.src.collect_events() == []
            else:
                assert vid == f"kalshi_trade_api#v{count + 1}"
                self.unresolved[key] = vid
            if resolve:
                self.src.resolve_violation(vid, "ops", None, self.now)
                del self.unresolved[key]
        self._record()

    @rule(kind=st.sampled_from(["api_error", "rate_limit_hit", "tos_ignored"]))
    def record_event(self, kind: str) -> None:
        try:
            self.src.record_event(kind, "calls failed", "job:marks", self.now)
        except InvalidComplianceRequest:
            assert kind == "tos_ignored"
        self._record()

    @rule(version=st.sampled_from([None, "2026-03", " "]))
    def review_tos(self, version: str | None) -> None:
        try:
            due = self.src.review_tos("ops", "read them", version, self.now)
        except InvalidComplianceRequest:
            assert version == " "
        else:
            assert self.src.tos_next_review_date == due and self.src.tos_version is not None
        self._record()

    @rule(every=st.integers(1, 6))
    def checkpoint(self, every: int) -> None:
        """A checkpoint restates the source and changes nothing it decides with."""
        before = _decided(self.src)
        due = self.src.version - self.src.checkpointed_at >= every
        assert self.src.checkpoint_if_due(every) is due
        assert _decided(self.src) == before
        self._record()
        if due:
            assert self.src.checkpointed_at == self.src.version

    def _record(self) -> None:
        self.history += self.src.collect_events()

    @invariant()
    def state_is_legal(self) -> None:
        s = self.src
        assert s.status in SourceStatus
        assert (s.block_reason is not None) == (s.status is SourceStatus.BLOCKED)
        assert s.unresolved_violations == sum(1 for resolved in s.violations.values() if not resolved)
        assert sorted(s.open_violations) == sorted(self.unresolved.values())
        changes = [e for e in self.history if isinstance(e, ComplianceSource.SourceStatusChanged)]
        assert all(c.proposed_by.casefold() != c.actor.casefold() for c in changes)
        if changes:
            assert changes[-1].to_status == s.status.value

    @invariant()
    def replay_equals_resumed_equals_live(self) -> None:
        stored = [self.mapper.to_domain_event(self.mapper.to_stored_event(ev)) for ev in self.history]
        rebuilt: Any = None
        for ev in stored:
            rebuilt = ev.mutate(rebuilt)
        assert vars(rebuilt) == vars(self.src)
        marks = [i for i, ev in enumerate(stored) if isinstance(ev, ComplianceSource.Checkpointed)]
        if marks:
            resumed = resume(ComplianceSource, ComplianceSource.Checkpointed, stored[marks[-1]:])
            assert vars(resumed) == vars(self.src)


TestComplianceSourceMachine = ComplianceSourceMachine.TestCase
TestComplianceSourceMachine.settings = settings(max_examples=examples(60), stateful_step_count=steps(25), deadline=None)
