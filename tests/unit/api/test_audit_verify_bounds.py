"""POST /admin/audit/verify bounds (api-and-security §5.5: integers >= 1). JSON has one number type and the
reference (JavaScript) reads ``1000000.0`` as the integer 1000000, so an integral float is that integer; a
fraction, a bool, a string or a value below 1 is still refused (ADR 0488)."""

from __future__ import annotations

from typing import Any

import pytest

from paulp.api.errors import ApiError
from paulp.api.routers.audit import _positive_int


@pytest.mark.parametrize(("value", "read"), [(3, 3), (1000000.0, 1000000), (1.0, 1), (None, None)])
def test_audit_bound_when_an_integer_json_number_then_read_as_int(value: Any, read: int | None) -> None:
    got = _positive_int({"startSeq": value}, "startSeq")
    assert got == read and type(got) is type(read)


@pytest.mark.parametrize("value", [1.5, 0, 0.0, -2.0, True, "3", float("inf"), float("nan"), [1]])
def test_audit_bound_when_not_a_positive_integer_then_400(value: Any) -> None:
    with pytest.raises(ApiError) as err:
        _positive_int({"endSeq": value}, "endSeq")
    assert err.value.status == 400
