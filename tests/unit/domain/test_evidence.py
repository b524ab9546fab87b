"""Evidence hashes, keys and the deterministic ids of api-and-security §4.7."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paulp.domain.evidence import (
    EMPTY_SHA256,
    REDACTED,
    InvalidDerivedIdInput,
    InvalidEvidenceHash,
    blob_relpath,
    canonical_market_id,
    evidence_key,
    fnv1a_32_utf16,
    idempotency_key,
    js_string,
    legacy_evidence_key,
    legacy_short_id,
    position_id,
    redact_params,
    sha256_hex,
)

H = "d9705bee21c58fc91f6525a48fbcad3f606b90f9033732907039c8bb04566e1d"


def test_sha256_hex_when_body_empty_then_well_known_digest() -> None:
    assert sha256_hex(b"") == EMPTY_SHA256


def test_sha256_hex_when_json_unparseable_then_still_hashes_exact_bytes() -> None:
    assert sha256_hex(b'{ "incomplete": true, "missing_bracket": ') == H


def test_evidence_key_when_hash_valid_then_content_addressed_with_fanout() -> None:
    assert evidence_key(H) == f"evidence/sha256/d9/{H}.gz"
    assert blob_relpath(H) == f"d9/{H}"


def test_legacy_evidence_key_when_fetched_at_iso_then_uses_date_prefix() -> None:
    key = legacy_evidence_key("kalshi_trade_api", "2026-03-01T12:00:00.000Z", H)
    assert key == f"evidence/kalshi_trade_api/2026-03-01/{H}.gz"


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", H.upper(), H[:-1], H + "0"])
def test_blob_relpath_when_not_lowercase_sha256_then_raises(bad: str) -> None:
    with pytest.raises(InvalidEvidenceHash) as err:
        blob_relpath(bad)
    assert err.value.code == "INVALID_EVIDENCE_HASH"


def test_idempotency_key_when_spec_vector_then_matches() -> None:
    key = idempotency_key("submit_order", "TICKER-123", "YES", "BUY")
    assert key == "ec0a5b913e5505d8b81ab6e101bf6678b25f42706e485be596c9ff6c5c1c23d8"


def test_idempotency_key_when_booleans_and_numbers_then_stringified_like_javascript() -> None:
    expected = hashlib.sha256(b"op|true|false|5|1.5|null").hexdigest()
    assert idempotency_key("op", True, False, 5, 1.5, None) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (-0.0, "0"),
        (1e20, "1" + "0" * 20),
    ],
)
def test_js_string_when_float_then_number_to_string_rules(value: float, text: str) -> None:
    assert js_string(value) == text


def test_position_id_when_side_lowercase_then_normalised_and_prefixed() -> None:
    digest = hashlib.sha256(b"position|0xabc|cond-1|YES").hexdigest()
    assert position_id("0xabc", "cond-1", "yes") == "pos_" + digest[:32]


def test_position_id_when_side_unknown_then_raises() -> None:
    with pytest.raises(InvalidDerivedIdInput):
        position_id("0xabc", "cond-1", "MAYBE")


def test_canonical_market_id_when_built_then_cm_prefix_and_32_hex() -> None:
    digest = hashlib.sha256(b"canonical_market|ev-1|kalshi|KX-1").hexdigest()
    assert canonical_market_id("ev-1", "kalshi", "KX-1") == "cm_" + digest[:32]


def test_fnv1a_32_utf16_when_known_inputs_then_standard_values() -> None:
    # FNV-1a 32 over ASCII equals the byte-wise function: published values for "" and "a".
    assert fnv1a_32_utf16("") == 0x811C9DC5
    assert fnv1a_32_utf16("a") == 0xE40C292C


def test_fnv1a_32_utf16_when_non_bmp_then_hashes_each_surrogate_unit() -> None:
    # "😀" is two UTF-16 code units; hash them one by one as JavaScript's charCodeAt loop does.
    h = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):
        h = ((h ^ unit) * 0x01000193) & 0xFFFFFFFF
    assert fnv1a_32_utf16("😀") == h


def test_legacy_short_id_when_null_parts_then_empty_and_two_hashes() -> None:
    h1 = fnv1a_32_utf16("a||1")
    h2 = fnv1a_32_utf16("a||1|3|evt")
    assert legacy_short_id("evt", ["a", None, 1]) == f"evt-{h1:08x}{h2:08x}"


@given(st.lists(st.text(max_size=8) | st.none() | st.integers(), max_size=5), st.text(min_size=1, max_size=5))
def test_legacy_short_id_when_any_parts_then_prefix_and_16_hex(parts: list[object], prefix: str) -> None:
    out = legacy_short_id(prefix, parts)
    head, _, tail = out.rpartition("-")
    assert head == prefix
    assert len(tail) == 16 and all(c in "0123456789abcdef" for c in tail)


def test_redact_params_when_secret_names_then_values_hidden() -> None:
    out = redact_params({"token": "s3cret", "apiKey": "k", "limit": 5})
    assert out == {"token": REDACTED, "apiKey": REDACTED, "limit": 5}
    assert redact_params(None) is None


def test_redact_params_when_bare_key_or_access_key_then_hidden_but_key_like_names_kept() -> None:
    """§4.6: Google's ``?key=`` and access/private keys are secrets; ``ticker``/``monkey`` are not."""
    out = redact_params({"key": "AIza-1", "KEY": "x", "access_key": "a", "privateKey": "p", "client_credential": "c",
                         "ticker": "T", "monkey": 1, "key_count": 2})
    assert out == {"key": REDACTED, "KEY": REDACTED, "access_key": REDACTED, "privateKey": REDACTED,
                   "client_credential": REDACTED, "ticker": "T", "monkey": 1, "key_count": 2}
