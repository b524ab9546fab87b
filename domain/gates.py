"""Phase-gate verification (api-and-security §6.1): facts in, gate result out, plus the facts that live in code.

The adapter gathers the facts a phase needs (database, evidence store, venue); ``evaluate`` is a pure
function of them and of the time and actor it is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paulp.domain.clock import iso_utc
from paulp.domain.execution_policy import ExecutionMode
from paulp.domain.gate_checks import CHECKS
from paulp.domain.gate_criteria import CRITERIA, target_phase
from paulp.domain.gate_facts import GateFacts
from paulp.domain.llm_corpus import REGRESSION_CORPUS, corpus_violations
from paulp.domain.llm_prompts import PromptLoadError, load_prompt
from paulp.domain.routing import PREMIUM_RUN_TYPES
from paulp.domain.strategies.bonding import BarbellConfig, InvalidBarbellConfig
from paulp.domain.strategies.weather import ForecastConfig


@dataclass(frozen=True)
class CriterionResult:
    criterion_id: str
    required: bool
    passed: bool
    actual_value: Any
    expected_value: Any
    message: str
    checked_at: str

    def as_json(self) -> dict[str, Any]:
        return {"criterionId": self.criterion_id, "passed": self.passed, "actualValue": self.actual_value,
                "expectedValue": self.expected_value, "message": self.message, "checkedAt": self.checked_at}


@dataclass(frozen=True)
class GateResult:
    phase: int
    target_phase: int
    checked_at: str
    checked_by: str
    results: tuple[CriterionResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Passed iff no required criterion failed (§6.1)."""
        return not self.blocking_failures

    @property
    def blocking_failures(self) -> tuple[CriterionResult, ...]:
        return tuple(r for r in self.results if r.required and not r.passed)

    def as_json(self) -> dict[str, Any]:
        required = [r for r in self.results if r.required]
        passed = sum(1 for r in self.results if r.passed)
        required_passed = sum(1 for r in required if r.passed)
        return {
            "phase": self.phase, "targetPhase": self.target_phase, "passed": self.passed,
            "checkedAt": self.checked_at, "checkedBy": self.checked_by,
            "results": [r.as_json() for r in self.results],
            "summary": {"total": len(self.results), "passed": passed, "failed": len(self.results) - passed,
                        "requiredPassed": required_passed, "requiredFailed": len(required) - required_passed},
            "blockingFailures": [r.as_json() for r in self.blocking_failures],
        }


def evaluate(phase: int, facts: GateFacts, checked_at: datetime, checked_by: str) -> GateResult:
    """Run every criterion of ``phase`` over ``facts``, in catalogue order."""
    stamp = iso_utc(checked_at)
    results = []
    for criterion in CRITERIA[phase]:
        check = CHECKS[criterion.id](facts)
        results.append(CriterionResult(criterion.id, criterion.required, check.passed, check.actual,
                                       check.expected, check.message, stamp))
    return GateResult(phase, target_phase(phase), stamp, checked_by, tuple(results))


# ----------------------------------------------------------------- facts that live in code

SEMVER = re.compile(r"^\d+\.\d+\.\d+\Z")


def prompt_template_problems() -> dict[str, str | None]:
    """Each scoring run type (llm-routing §8.1) has a loadable template with a semver version and a body."""
    out: dict[str, str | None] = {}
    for run_type in sorted(PREMIUM_RUN_TYPES):
        try:
            template = load_prompt(run_type)
        except PromptLoadError as err:
            out[str(run_type)] = err.message
            continue
        if not SEMVER.match(template.version):
            out[str(run_type)] = f"version {template.version!r} is not semver"
        elif not template.system_prompt.strip() or not template.user_prompt_template.strip():
            out[str(run_type)] = "empty prompt text"
        else:
            out[str(run_type)] = None
    return out


def _bonding_spec() -> str | None:
    try:
        config = BarbellConfig()
    except InvalidBarbellConfig as err:
        return err.message
    if abs(config.bond_pct + config.tail_pct - 100) > 1e-9:
        return "bond_pct + tail_pct must be 100"
    if not 0 < config.min_bond_probability < 1 or not 0 < config.max_herfindahl <= 1:
        return "probability bounds outside (0, 1)"
    return None


def _weather_spec() -> str | None:
    c = ForecastConfig()
    if c.lookback_years < 1 or c.min_sample_size < 2:
        return "lookback_years >= 1 and min_sample_size >= 2 required"
    if not 0 <= c.climate_adjustment < 1 or c.recent_weight_factor <= 0:
        return "climate_adjustment in [0, 1) and recent_weight_factor > 0 required"
    return None


SPEC_CHECKS = {"bonding": _bonding_spec, "weather": _weather_spec}


def strategy_spec_problems(modes: Mapping[str, ExecutionMode]) -> dict[str, str | None]:
    """Every strategy that may trade (``modes``: each one's mode now, not DISABLED) has a specification that
    loads and validates."""
    out: dict[str, str | None] = {}
    for strategy, mode in sorted(modes.items()):
        if mode is ExecutionMode.DISABLED:
            continue
        check = SPEC_CHECKS.get(strategy)
        out[strategy] = "no strategy specification" if check is None else check()
    return out


def regression_cases_defined() -> int:
    """Cases in the gold regression corpus, counted only when the corpus is well formed (§8.5)."""
    return 0 if corpus_violations(REGRESSION_CORPUS) else len(REGRESSION_CORPUS)
