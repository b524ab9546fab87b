"""Provider answers are stored with any echoed key replaced, and otherwise byte for byte (ADR 0391)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import assume, given
from hypothesis import strategies as st

from paulp.adapters.llm.evidence import scrub

KEYS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+/="), min_size=8,
               max_size=40)


@given(body=st.binary(max_size=300), key=KEYS, at=st.integers(0, 300), encoded=st.booleans())
def test_scrub_when_body_echoes_the_key_then_no_form_of_it_is_stored(body: bytes, key: str, at: int,
                                                                     encoded: bool) -> None:
    # Arrange: the key, as sent or percent-encoded, somewhere in the body
    echo = (quote(key, safe="") if encoded else key).encode()
    cut = min(at, len(body))
    answer = body[:cut] + echo + body[cut:]
    # Act
    stored, redacted = scrub(answer, (key,))
    # Assert
    assert redacted and key.encode() not in stored and quote(key, safe="").encode() not in stored


@given(body=st.binary(max_size=300), key=KEYS)
def test_scrub_when_body_has_no_key_then_stored_exactly(body: bytes, key: str) -> None:
    assume(key.encode() not in body and quote(key, safe="").encode() not in body)
    assert scrub(body, (key,)) == (body, False)
