"""Built-in verification suites (api-and-security §6.2 gate inputs): run the deployed domain code on
hand-worked cases and report one result per case.

A case passes when the code gives the verdict the case expects, fails with the difference when it does
not, and fails with the exception's text when the code raises: a run never raises because a case did.
Pure: no I/O, no clock; the caller passes the run time and a monotonic timer for case durations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from paulp.domain.errors import DomainError
from paulp.domain.verification_clv import CLV_CASES
from paulp.domain.verification_risk import RISK_CASES

CLV_SUITE = "clv"
RISK_SUITE = "risk_invariants"
MAX_ERROR_CHARS = 1000

Timer = Callable[[], float]  # seconds from any fixed origin (time.perf_counter at the edge)


class UnknownSuite(DomainError):
    """Raised when a run names a suite that has no case table."""

    code = "unknown_suite"


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # in the spec's vocabulary; no built-in case skips


class Case(Protocol):
    @property
    def name(self) -> str: ...

    def check(self) -> str | None:
        """None when the code gives the expected verdict, else what it gave instead."""
        ...


@dataclass(frozen=True)
class CaseResult:
    suite: str
    name: str
    status: Status
    duration_ms: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite, "name": self.name, "status": self.status.value,
                "duration_ms": self.duration_ms, "error": self.error}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CaseResult:
        return cls(str(doc["suite"]), str(doc["name"]), Status(doc["status"]), float(doc["duration_ms"]),
                   None if doc.get("error") is None else str(doc["error"]))


@dataclass(frozen=True)
class SuiteRun:
    """One suite run: when it started and what each case gave."""

    suite: str
    run_at: datetime
    results: tuple[CaseResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAILED)


SUITES: Mapping[str, Sequence[Case]] = {CLV_SUITE: CLV_CASES, RISK_SUITE: RISK_CASES}


def suite_names(selector: str) -> tuple[str, ...]:
    """``all`` or one suite name -> the suites to run, in a fixed order."""
    if selector == "all":
        return tuple(SUITES)
    if selector not in SUITES:
        raise UnknownSuite(f"Unknown suite {selector!r}; known: {', '.join(SUITES)} or all")
    return (selector,)


def run_cases(suite: str, cases: Iterable[Case], timer: Timer) -> tuple[CaseResult, ...]:
    """Each case once, in order; an exception from the code under test fails that case only."""
    out: list[CaseResult] = []
    for case in cases:
        started = timer()
        error: str | None
        try:
            mismatch = case.check()
        except Exception as exc:  # the code under test failing is the result being recorded
            status, error = Status.FAILED, f"{type(exc).__name__}: {exc}"
        else:
            status, error = (Status.PASSED, None) if mismatch is None else (Status.FAILED, mismatch)
        elapsed = max(0.0, (timer() - started) * 1000)
        out.append(CaseResult(suite, case.name, status, round(elapsed, 3),
                              None if error is None else error[:MAX_ERROR_CHARS]))
    return tuple(out)


def run_suite(suite: str, timer: Timer, now: datetime) -> SuiteRun:
    if suite not in SUITES:
        raise UnknownSuite(f"Unknown suite {suite!r}; known: {', '.join(SUITES)}")
    return SuiteRun(suite, now, run_cases(suite, SUITES[suite], timer))
