"""``reference*`` / ``recommended*`` expectations: which side of a spec deviation Paul P implements.

llm-routing.md line 9: "Where the recommendation changes observable behaviour, the held-out vectors record the
reference behaviour and note the recommendation"; llm-routing.json's meta note: "Fields prefixed
reference*/recommended* mark places where the spec recommends deviating from the reference". trading.md line 6:
where the source is ambiguous "the recommended resolution is normative".

An expected key ``referenceFoo`` / ``recommendedFoo`` that the actual result does not itself carry is read as
the expectation of ``foo`` on that side: the side Paul P implements is asserted against the actual ``foo``, the
other side documents the source (or the road not taken) and is not asserted. A plain ``foo`` beside exactly one
prefixed ``foo`` records the other side (the convention provider_wire's ``inputTokens`` already follows).
Registers nothing itself. Decision record: ADR 0257.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from typing import Any, Literal

Side = Literal["reference", "recommended"]
REFERENCE: Side = "reference"
RECOMMENDED: Side = "recommended"
_PREFIXED = re.compile(r"^(reference|recommended)([A-Z]\w*)$")

# THE table. Paul P implements the spec's recommendation everywhere (DEFAULT_SIDE) except where an ADR keeps the
# reference; every field a spec "Recommended" item changes is listed with the line and ADR that decide its side.
IMPLEMENTED_SIDE: dict[str, dict[str, Side]] = {
    "llm-routing.json": {
        # §1.1 (+ Appendix A.1): unknown run type rejected at the boundary, UNKNOWN_RUN_TYPE, retryable=false,
        # failed decision persisted, no provider called (ADR 0180). §3.2 item 4 (+ A.2): an invalid call-level
        # forceRouteClass is INVALID_FORCED_ROUTE_CLASS, not the reference's INVALID_FORCED_MODEL (ADR 0181).
        "errorCode": RECOMMENDED,
        "retryable": RECOMMENDED,  # §1.1 / §6.2 table row UNKNOWN_RUN_TYPE: retryable=false (ADR 0180)
        "success": RECOMMENDED,  # §1.1: a failed decision instead of the reference's crash (ADR 0180)
        "executorCalled": RECOMMENDED,  # §1.1: "call no provider" (ADR 0180)
        "attempted": RECOMMENDED,  # §1.1: no attempt for an unknown run type (ADR 0180)
        "routeClass": RECOMMENDED,  # §1.1: no silent cheap_enrichment fallback (ADR 0180)
        "budgetCategory": RECOMMENDED,  # §1.1: category null instead of a crashing lookup (ADR 0180)
        "failureReason": RECOMMENDED,  # §1.1 / §3.3: the persisted reason of the fail-closed decision (ADR 0180/0181)
        # §9.1 table row fallbacksAttempted (+ A.4): the models attempted before the final one, not [] (ADR 0182).
        "fallbacksAttempted": RECOMMENDED,
        # §9.1 (+ A.3): resolutionSource / routingReason persisted and read back (ADR 0182).
        "resolutionSource": RECOMMENDED,
        "routingReason": RECOMMENDED,
        # §6.5: Anthropic input normalised to total prompt tokens before §2.4 (ADR 0241).
        "inputTokens": RECOMMENDED,
        "costUsd": RECOMMENDED,  # §6.5: priced from the normalised input (ADR 0241)
        "actualCostUsd": RECOMMENDED,  # §6.5: same, as recorded on the decision (ADR 0241)
        # §6.4: Cloudflare gets the recommended 60 000 ms on the Python REST call (ADR 0183, 0241).
        "timeoutMs": RECOMMENDED,
        # §8.1 (+ A.10): template values substituted literally, no `$&` patterns (ADR 0188).
        "rendered": RECOMMENDED,
        # §10.2 (+ A.12): the /admin/routing endpoints exist (ADR 0272); admin_routing reads these itself.
        "status": RECOMMENDED,
        "body": RECOMMENDED,
        "topLevelKeys": RECOMMENDED,
        # §6.6 line 301: fence / <think> stripping is an opt-in deviation; the default parse stays strict, so
        # fenced JSON falls back (ADR 0187) — the reference side.
        "fallback": REFERENCE,
        "parsedOutput": REFERENCE,  # §6.6: the fallback object of the strict parse (ADR 0187)
        # §6.6 → §8.3: a fallback is flagged for human review (ADR 0187 "Consequences").
        "flaggedForHumanReview": REFERENCE,
    },
    # trading.md line 6: the recommended resolution is normative; no field keeps the source's behaviour.
    "trading.json": {},
}
DEFAULT_SIDE: Side = RECOMMENDED


def _other(side: Side) -> Side:
    return REFERENCE if side == RECOMMENDED else RECOMMENDED


def implemented_side(file: str, field: str) -> Side:
    return IMPLEMENTED_SIDE.get(file, {}).get(field, DEFAULT_SIDE)


def resolve_sides(expected: Mapping[str, Any], file: str, carried: Container[str] = ()) -> dict[str, Any]:
    """Expected facts with every prefixed key not in ``carried`` folded onto the side Paul P implements."""
    out: dict[str, Any] = {}
    prefixed: dict[str, dict[Side, Any]] = {}
    for key, value in expected.items():
        m = _PREFIXED.match(key)
        if m is None or key in carried:
            out[key] = value
            continue
        side: Side = REFERENCE if m.group(1) == REFERENCE else RECOMMENDED
        base = m.group(2)[0].lower() + m.group(2)[1:]
        prefixed.setdefault(base, {})[side] = value
    for base, sides in prefixed.items():
        if base in out:
            assert len(sides) == 1, f"{base!r} is given plain and as both reference*/recommended*: ambiguous"
            (given,) = sides
            sides = {given: sides[given], _other(given): out.pop(base)}
        wanted = implemented_side(file, base)
        if wanted in sides:
            out[base] = sides[wanted]
    return out


def trading_expected(expected: Any) -> Any:
    """A trading.json expected object with prefixed keys folded (trading's table: the recommendation)."""
    return resolve_sides(expected, "trading.json") if isinstance(expected, Mapping) else expected
