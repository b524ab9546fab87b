"""Write-once records (one ``Created`` event, no commands, so no state machine): for any values their event may
carry, the record rebuilt from the event as the store's transcoder gives it back equals the one recorded."""

from __future__ import annotations

import inspect
import sys
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from paulp.adapters.eventstore.codec import make_mapper
from paulp.domain.backtest import BacktestRecord
from paulp.domain.compliance import IngestionBlocked
from paulp.domain.llm_records import DriftSweepRecord, RegressionSuiteRecord, ScoringRun
from paulp.domain.orchestration import ReconciliationReport
from paulp.domain.verification_run import VerificationRun
from tests.support.hypothesis_scale import examples

# ScoringRun's Created event is checked here too; its one command (the human override, ADR 0425) has its machine
# in test_scoring_review.py. EvidenceRecord is created only through ``record`` (validation, an id derived from its
# fields), not its constructor, so its property tests are in test_evidence_records.py.
RECORDS: list[tuple[type[Aggregate], type[Aggregate.Created]]] = [
    (ScoringRun, ScoringRun.Recorded), (DriftSweepRecord, DriftSweepRecord.Recorded),
    (RegressionSuiteRecord, RegressionSuiteRecord.Completed), (ReconciliationReport, ReconciliationReport.Completed),
    (VerificationRun, VerificationRun.Recorded), (BacktestRecord, BacktestRecord.Completed),
    (IngestionBlocked, IngestionBlocked.Recorded)]
MAPPER = make_mapper()
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | FLOATS | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                  max_size=3), max_leaves=8)


def _values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a field's declared type, JSON-shaped where the field is ``Any``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_values(a) for a in args])
    if origin is list:
        return st.lists(_values(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(_values(args[0]), _values(args[1]), max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=12), int: st.integers(-2**53, 2**53), float: FLOATS, bool: st.booleans(),
        type(None): st.none(), Any: JSON,
        datetime: st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES),
    }
    return simple[hint]


def _fields(record: type[Aggregate]) -> dict[str, Any]:
    """The arguments the record is created with (its event's fields), by declared type."""
    hints = typing.get_type_hints(inspect.unwrap(record.__init__), vars(sys.modules[record.__module__]))
    return {name: hint for name, hint in hints.items() if name != "return"}


@pytest.mark.parametrize(("record", "created"), RECORDS, ids=lambda r: getattr(r, "__qualname__", ""))
@settings(max_examples=examples(40), deadline=None)
@given(data=st.data())
def test_record_when_rebuilt_from_its_stored_event_then_equal(record: type[Aggregate],
                                                              created: type[Aggregate.Created],
                                                              data: st.DataObject) -> None:
    kwargs = {name: data.draw(_values(hint), label=name) for name, hint in _fields(record).items()}
    live = record(**kwargs)
    (event,) = live.collect_events()
    assert type(event) is created
    back = MAPPER.to_domain_event(MAPPER.to_stored_event(event))
    rebuilt = back.mutate(None)
    assert isinstance(rebuilt, record)
    assert vars(rebuilt) == vars(live)
