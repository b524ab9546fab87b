"""The built-in verification suites: coverage of the governor's invariants, every case passing against the
deployed code, a runner that can fail (wrong expectation, raising code), and the run's record."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from paulp.domain.risk_invariants import INVARIANTS
from paulp.domain.risk_results import SEVERITY, InvariantId, Severity
from paulp.domain.verification import (
    CLV_SUITE,
    RISK_SUITE,
    SUITES,
    CaseResult,
    Status,
    UnknownSuite,
    run_cases,
    run_suite,
    suite_names,
)
from paulp.domain.verification_clv import CLV_CASES, ClvCase
from paulp.domain.verification_risk import CLEAN, RISK_CASES, RiskCase, blocked, warned
from paulp.domain.verification_run import InvalidVerificationRun, VerificationRun

T0 = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)


def ticking(step_s: float = 0.002):
    counter = itertools.count()
    return lambda: next(counter) * step_s


def _case(name: str) -> RiskCase:
    [found] = [c for c in RISK_CASES if c.name == name]
    return found


# ------------------------------------------------------------------ case tables


def test_risk_cases_when_collected_then_each_governor_invariant_is_blocked_or_warned_by_exactly_itself():
    governor_ids = [iid for iid, _ in INVARIANTS]  # the governor's own list, not a hard-coded 18
    assert governor_ids
    for iid in governor_ids:
        mine = [c for c in RISK_CASES if c.invariant is iid]
        alone = warned(iid) if SEVERITY[iid] is Severity.WARNING else blocked(iid)
        assert any(c.expected == alone for c in mine), f"no case blocked/warned by exactly {iid}"
        assert any(c.expected == CLEAN for c in mine), f"no case inside the limit of {iid}"


def test_case_tables_when_listed_then_names_unique_and_clv_covers_both_sides_and_all_signs():
    for cases in SUITES.values():
        names = [c.name for c in cases]
        assert len(names) == len(set(names))
    rows = [c for c in CLV_CASES if isinstance(c, ClvCase)]
    assert len(CLV_CASES) >= 8
    for side in ("YES", "NO"):
        signs = {(c.expected_cents > 0) - (c.expected_cents < 0) for c in rows if c.side == side and c.expected_valid}
        assert signs == {-1, 0, 1}, side
    assert any(not c.expected_valid for c in rows)


@pytest.mark.parametrize("suite", list(SUITES))
def test_suite_when_run_against_the_deployed_code_then_every_case_passes(suite: str):
    run = run_suite(suite, ticking(), T0)
    assert (run.suite, run.run_at) == (suite, T0)
    assert [(f.name, f.error) for f in run.failures] == []
    assert run.count(Status.PASSED) == len(SUITES[suite])
    assert all(r.suite == suite and r.duration_ms == 2.0 and r.error is None for r in run.results)


def test_suite_counts_when_run_then_enough_for_the_phase_gates():
    assert run_suite(CLV_SUITE, ticking(), T0).count(Status.PASSED) >= 5  # P1_CLV_SIGN_VALIDATION
    assert run_suite(RISK_SUITE, ticking(), T0).count(Status.PASSED) >= 17  # P2_17_INVARIANTS_TESTED


# ------------------------------------------------------------------ the runner can fail


def test_run_cases_when_an_expectation_is_wrong_then_that_case_failed_with_the_difference():
    honest = _case("I1 blocks 501 USD on 10000 (5.01%)")
    wrong = replace(honest, name="I1 wrongly expected to approve 5.01%", expected=CLEAN)
    wrong_clv = ClvCase("NO wrongly expected on YES basis", "NO", 0.30, 0.38, None, -8.0, True)
    results = run_cases(RISK_SUITE, [honest, wrong, wrong_clv], ticking())
    assert [r.status for r in results] == [Status.PASSED, Status.FAILED, Status.FAILED]
    assert results[1].error == ("expected approved, violations [], warnings []; "
                                "got blocked, violations [I1_MAX_POSITION_SIZE], warnings []")
    assert results[2].error is not None and results[2].error.startswith("expected -8 cents valid=True; got +8.0")


def test_run_cases_when_the_code_raises_then_failed_with_its_text_and_the_run_goes_on():
    raising = replace(_case("baseline order inside every limit is approved without warnings"), name="bad state",
                      breaker_state="SIDEWAYS")
    results = run_cases(RISK_SUITE, [raising, _case("I17 blocks when the system is unhealthy")], ticking())
    assert results[0].status is Status.FAILED
    assert results[0].error == "UnknownBreakerState: Unknown circuit breaker state 'SIDEWAYS'"
    assert results[1].status is Status.PASSED


def test_suite_names_when_all_or_one_then_listed_else_unknown_suite():
    assert suite_names("all") == (CLV_SUITE, RISK_SUITE)
    assert suite_names("clv") == ("clv",)
    with pytest.raises(UnknownSuite):
        suite_names("regression")
    with pytest.raises(UnknownSuite):
        run_suite("regression", ticking(), T0)


# ------------------------------------------------------------------ the run's record


def test_record_when_valid_then_one_event_with_every_case_and_a_deterministic_id():
    run = run_suite(CLV_SUITE, ticking(), T0)
    record = VerificationRun.record("run-1", CLV_SUITE, run.results, "ops", "0.1.0+gabc", T0)
    assert record.id == VerificationRun.create_id("run-1", CLV_SUITE) != VerificationRun.create_id("run-1", RISK_SUITE)
    [event] = record.collect_events()
    assert (event.run_id, event.suite, event.run_at, event.triggered_by, event.code_version) == (
        "run-1", CLV_SUITE, T0, "ops", "0.1.0+gabc")
    assert [CaseResult.from_json(d) for d in event.results] == list(run.results)
    assert record.count(Status.PASSED) == len(CLV_CASES)


@pytest.mark.parametrize("suite,results,by", [
    ("clv", (), "ops"),
    ("regression", (CaseResult("regression", "x", Status.PASSED, 1.0),), "ops"),
    ("clv", (CaseResult("risk_invariants", "x", Status.PASSED, 1.0),), "ops"),
    ("clv", (CaseResult("clv", "x", Status.PASSED, 1.0), CaseResult("clv", "x", Status.FAILED, 1.0, "e")), "ops"),
    ("clv", (CaseResult("clv", "x", Status.PASSED, 1.0),), " "),
])
def test_record_when_malformed_then_invalid_verification_run(suite, results, by):
    with pytest.raises(InvalidVerificationRun):
        VerificationRun.record("run-1", suite, results, by, None, T0)


def test_invariant_ids_when_compared_then_the_enum_and_the_governor_agree():
    assert {iid for iid, _ in INVARIANTS} == set(InvariantId)
