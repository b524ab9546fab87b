"""OpenAPI declarations of the JSON bodies that routes read by hand (documentation only; ADR 0495).

The handlers read ``json_object(request)`` and validate field by field, in the spec's order and with the spec's
error bodies, so FastAPI never sees these fields. Each declaration here is built from the constants its parser
uses (a router passes its own), and tests/unit/api/test_body_docs.py checks that the declared property names
equal the names the handler reads. Like the query parameters of ADR 0493, they carry ``x-paulp-hand-read``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from paulp.api.query_docs import HAND_READ
from paulp.domain import compliance, llm_records, market_correlations, reviews
from paulp.domain.breaker_rules import BreakerState
from paulp.domain.budgets import PeriodType
from paulp.domain.compliance_matrix import SourceStatus
from paulp.domain.risk_correlation import DEFAULT_EDGE_WEIGHT
from paulp.domain.routing import BudgetCategory
from paulp.domain.strategy_registry import DEFAULT_REASON, StrategyStatus

Schema = dict[str, Any]


def body(properties: dict[str, Schema], required: Iterable[str] = (), example: dict[str, Any] | None = None,
         optional: bool = False, description: str = "", one_of: Iterable[str] = ()) -> dict[str, Any]:
    """The ``openapi_extra`` for a route decorator: a JSON-object body; ``optional`` for ``empty_is_object``
    routes (an empty body reads as ``{}``); ``one_of`` names fields of which exactly one is given. Unknown fields
    are ignored by every handler, so none is refused."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if one_of:
        schema["oneOf"] = [{"required": [name]} for name in one_of]
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    request_body: dict[str, Any] = {"required": not optional, "content": {"application/json": media}, HAND_READ: True}
    if description:
        request_body["description"] = description
    return {"requestBody": request_body}


def text(description: str, max_length: int | None = None, nullable: bool = False) -> Schema:
    """A string the parser trims; blank is refused unless the description says otherwise."""
    schema: Schema = {"type": ["string", "null"] if nullable else "string", "description": description}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def choice(values: Iterable[str], note: str = "") -> Schema:
    listed = [str(v) for v in values]
    return {"type": "string", "enum": listed, "description": f"One of {', '.join(listed)}{note}."}


def number(minimum: float, maximum: float, description: str, exclusive_minimum: bool = False,
           default: float | None = None) -> Schema:
    schema: Schema = {"type": "number", "maximum": maximum, "description": description}
    schema["exclusiveMinimum" if exclusive_minimum else "minimum"] = minimum
    if default is not None:
        schema["default"] = default
    return schema


NO_FIELDS = body({}, optional=True, description="Optional and read for its form only: an empty body or any JSON"
                                                " object (malformed JSON is a 400 invalid_json, JSON other than an"
                                                " object a 400 validation_error).")


def gate_signoff(notes_max: int) -> dict[str, Any]:
    return body({"notes": text("Why; required when force is true and the gate failed.", notes_max, nullable=True),
                 "force": {"type": ["boolean", "null"], "description": "Sign off a failed gate (default false)."}},
                example={"notes": "checked by hand", "force": False}, optional=True)


BUDGET_RESET = body({"category": choice(BudgetCategory), "periodType": choice(PeriodType),
                     "reason": text("Why the budget is reset (non-blank).")},
                    required=("category", "periodType", "reason"),
                    example={"category": str(BudgetCategory.RESEARCH_SCORING), "periodType": str(PeriodType.DAILY),
                             "reason": "new month"})
SCORING_OVERRIDE = body({"score": number(0, 1, "The human's score on the run type's 0..1 scale."),
                         "reason": text("Why (no NUL characters).", llm_records.REASON_MAX)},
                        required=("score", "reason"), example={"score": 0.4, "reason": "misread the filing"})

_COMPLIANCE_REASON = text("Why (trimmed, non-blank).", compliance.REASON_MAX)
COMPLIANCE_PROPOSE = body({"status": choice(SourceStatus), "reason": _COMPLIANCE_REASON,
                           "blockReason": text("Only with status blocked: what the block says.",
                                               compliance.REASON_MAX, nullable=True)},
                          required=("status", "reason"), example={"status": str(SourceStatus.BLOCKED),
                                                                  "reason": "terms changed", "blockReason": "tos"})
COMPLIANCE_REJECT = body({"reason": _COMPLIANCE_REASON}, required=("reason",), example={"reason": "not yet"})


def strategy_status(reason_max: int) -> dict[str, Any]:
    settable = [s for s in StrategyStatus if s is not StrategyStatus.LIVE]
    return body({"status": choice(settable, f" ({StrategyStatus.LIVE} is a 409 use_go_live: use go-live)"),
                 "reason": text(f"Why (non-blank); default {DEFAULT_REASON!r}.", reason_max, nullable=True)},
                required=("status",), example={"status": str(StrategyStatus.PAPER), "reason": "paused"})


def _review(person: str) -> dict[str, Any]:
    return body({person: text("Who reviewed (trimmed, non-blank).", reviews.NAME_MAX),
                 "notes": text("Notes.", reviews.NOTES_MAX, nullable=True)},
                required=(person,), example={person: "alice", "notes": "checked"})


RESOLVE_VIOLATION = _review("resolver")
APPROVE_PAIR = _review("reviewer")
GO_LIVE = body({"approver": text("First approver (trimmed, non-blank)."),
                "secondApprover": text("Second approver, a different person (case-insensitive)."),
                "capitalAllocationUsd": {"type": ["number", "string"], "description":
                                         "Dollars above 0, as a number or a decimal string."}},
               required=("approver", "secondApprover", "capitalAllocationUsd"),
               example={"approver": "alice", "secondApprover": "bob", "capitalAllocationUsd": 500})


def close_position(text_max: int, choices: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return body({"strategy": text("Strategy id.", text_max), "ticker": text("Market ticker.", text_max),
                 **{name: choice(values, " (any case)") for name, values in choices.items()},
                 "reason": text("Why the position is closed.", text_max),
                 "dryRun": {"type": "boolean", "default": False, "description": "Preview the exit only."}},
                required=("strategy", "ticker", *choices, "reason"),
                example={"strategy": "weather", "ticker": "KXHIGHNY-26NOV29-T50", "side": "YES", "mode": "PAPER",
                         "reason": "operator exit", "dryRun": True})


BREAKER_TRANSITION = body({"targetState": choice(BreakerState.__members__),
                           "reason": text("Why (non-blank, no NUL characters).")},
                          required=("targetState", "reason"), example={"targetState": "CAUTION", "reason": "drill"})


def alert(severities: tuple[str, ...], text_max: int) -> dict[str, Any]:
    return body({"severity": choice(severities, "; critical raises a breaker alert"),
                 "source": text("Who raises it (non-blank).", text_max),
                 "message": text("What happened (non-blank).", text_max)},
                required=("severity", "source", "message"),
                example={"severity": "info", "source": "cron", "message": "nightly backup done"})


_SEQ = {"type": ["integer", "null"], "minimum": 1}
AUDIT_VERIFY = body({"startSeq": {**_SEQ, "description": "First sequence number (default 1)."},
                     "endSeq": {**_SEQ, "description": "Last sequence number, not below startSeq (default the end)."}},
                    example={"startSeq": 1, "endSeq": 100}, optional=True)


def _ticker(description: str) -> Schema:
    return text(f"{description}: 1-100 upper-case letters, digits, '.', '_' or '-'.", 100)


def _correlation(reason_max: int, declare: bool) -> dict[str, Any]:
    fields: dict[str, Schema] = {"marketId": _ticker("Market ticker"),
                                 "relatedMarketId": _ticker("The other market's ticker (not the same)"),
                                 "reason": text("Why (non-blank).", reason_max)}
    example: dict[str, Any] = {"marketId": "KXA-1", "relatedMarketId": "KXB-1", "reason": "same storm"}
    if declare:
        fields["type"] = choice(market_correlations.EDGE_TYPES)
        fields["weight"] = _WEIGHT
        example = {**example, "type": market_correlations.EDGE_TYPES[0], "weight": 0.5}
    return body(fields, required=(*fields.keys() - {"weight"},), example=example)


def _rule(reason_max: int, declare: bool) -> dict[str, Any]:
    fields: dict[str, Schema] = {
        "category": text("The category as the venue spells it, trimmed and non-blank (exactly one of category or"
                         " series; a null one counts as not given).", market_correlations.CATEGORY_MAX),
        "series": _ticker("Series ticker (exactly one of category or series; a null one counts as not given)"),
        "reason": text("Why (non-blank).", reason_max)}
    example: dict[str, Any] = {"category": "Climate and Weather", "reason": "one storm moves them all"}
    if declare:
        fields["weight"], example = _WEIGHT, {**example, "weight": 0.5}
    return body(fields, required=("reason",), example=example, one_of=("category", "series"))


_WEIGHT = number(0, 1, "Correlation weight (not null).", exclusive_minimum=True, default=DEFAULT_EDGE_WEIGHT)


def correlations(reason_max: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Declare and withdraw a correlation, declare and withdraw a rule."""
    return (_correlation(reason_max, True), _correlation(reason_max, False), _rule(reason_max, True),
            _rule(reason_max, False))
