"""Scale Hypothesis example counts for a long campaign without changing what CI runs (ADR 0492).

CI runs every property and state-machine test at the counts written in the test. A campaign multiplies them:

    PAULP_HYPOTHESIS_SCALE=30 nice -n 19 .venv/bin/python -m pytest -n 0 -p no:randomly tests/unit/domain/test_orders.py

- ``examples(n)`` is ``n * PAULP_HYPOTHESIS_SCALE``: every explicit ``max_examples=`` goes through it, since an
  explicit setting overrides any profile.
- ``steps(n)`` is ``n * PAULP_HYPOTHESIS_STEP_SCALE`` for explicit ``stateful_step_count=`` (longer command
  sequences cost more per example, so they scale separately; default 1).
- Importing this module (tests/conftest.py does, before any test module) loads the ``paulp-campaign`` profile when
  either scale is above 1: tests with no explicit count get 100 * scale examples and 50 * step scale steps, and no
  test has a deadline (a loaded machine makes per-example times meaningless). At scale 1 nothing is loaded and
  every derived setting equals the one written in the test. The example database stays the default
  (``.hypothesis/`` in the working directory), so a failure found in a campaign replays on the next plain run.
"""

from __future__ import annotations

import os

from hypothesis import settings

SCALE_VAR = "PAULP_HYPOTHESIS_SCALE"
STEP_SCALE_VAR = "PAULP_HYPOTHESIS_STEP_SCALE"
PROFILE = "paulp-campaign"


def _scale(var: str) -> int:
    raw = os.environ.get(var, "1")
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{var} must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{var} must be a positive integer, not {raw!r}")
    return value


SCALE = _scale(SCALE_VAR)
STEP_SCALE = _scale(STEP_SCALE_VAR)


def examples(n: int) -> int:
    """A test's ``max_examples``: n in CI, n * PAULP_HYPOTHESIS_SCALE in a campaign."""
    return n * SCALE


def steps(n: int) -> int:
    """A state machine's ``stateful_step_count``: n in CI, n * PAULP_HYPOTHESIS_STEP_SCALE in a campaign."""
    return n * STEP_SCALE


def campaign() -> bool:
    return SCALE > 1 or STEP_SCALE > 1


if campaign():
    _base = settings.get_profile("default")
    settings.register_profile(PROFILE, max_examples=examples(_base.max_examples),
                              stateful_step_count=steps(_base.stateful_step_count), deadline=None)
    settings.load_profile(PROFILE)
