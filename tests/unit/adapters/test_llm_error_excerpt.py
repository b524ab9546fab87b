"""A provider error's body excerpt never carries any part of the key (llm-routing §6.2; ADR 0514).

The excerpt was cut to 400 characters first and the key replaced after: a key the cut split in two was no longer
the key, and its first part stayed in the message, which is persisted on the attempt event (so the audit chain,
the decisions view and the API). Measured: a body that echoes the key eight times kept 20 of its 50 characters.
"""

from __future__ import annotations

import pytest

from paulp.adapters.llm.base import status_error
from paulp.domain.executor import BODY_EXCERPT_CHARS
from paulp.domain.routing import Provider

KEY = "sk-ant-api03-" + "Q" * 27 + "Z" * 10  # 50 characters


@pytest.mark.parametrize("offset", range(14, 40, 5))
def test_status_error_when_the_excerpt_cut_splits_an_echoed_key_then_no_part_of_it_remains(offset: int) -> None:
    # Arrange: seven whole echoes, then one that the 400-character cut falls inside, `offset` characters in
    head = (KEY + " ") * 7
    body = head + "x" * (2 * BODY_EXCERPT_CHARS - len(head) - offset) + KEY + " trailing"
    # Act
    error = status_error(Provider.ANTHROPIC, 401, body, KEY)
    # Assert
    assert KEY[:offset] not in str(error), str(error)
    assert str(error).startswith("anthropic API authentication failed (HTTP 401): *** *** ***")
