"""Evidence hashing, object keys and the deterministic ids of api-and-security §4.2, §4.6 and §4.7.

Everything here is a pure function of its inputs so an id or key computed today can be
recomputed by an auditor from the same inputs years later.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from paulp.domain.ids import format_number

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
# A bare ``key`` is Google's API-key parameter (``?key=``); ``access_key``/``private_key`` and credentials likewise.
_SECRET_PARAM_RE = re.compile(
    r"(token|secret|password|passwd|api[_-]?key|apikey|signature|auth|credential|access[_-]?key|private[_-]?key"
    r"|^key$)", re.IGNORECASE)
REDACTED = "[REDACTED]"


class InvalidEvidenceHash(ValueError):
    """Raised when a string is not a lowercase hex SHA-256, so it cannot name a blob."""

    code = "INVALID_EVIDENCE_HASH"


class InvalidDerivedIdInput(ValueError):
    """Raised when an input to a deterministic id is outside its allowed values."""

    code = "INVALID_DERIVED_ID_INPUT"


def sha256_hex(data: bytes) -> str:
    """Hash exactly the bytes given: no decoding, no canonicalisation."""
    return hashlib.sha256(data).hexdigest()


def is_sha256_hex(value: str) -> bool:
    """64 lowercase hex characters: the only form an evidence hash is stored and looked up in."""
    return _HASH_RE.fullmatch(value) is not None


def check_evidence_hash(value: str) -> str:
    """Refuse anything but 64 lowercase hex characters (it becomes part of a path)."""
    if not is_sha256_hex(value):
        raise InvalidEvidenceHash(f"not a lowercase hex sha256: {value!r:.80}")
    return value


def evidence_key(evidence_hash: str) -> str:
    """Content-addressed object key (§4.6 resolution): one key per hash, whatever the fetch date."""
    h = check_evidence_hash(evidence_hash)
    return f"evidence/sha256/{h[:2]}/{h}.gz"


def legacy_evidence_key(source: str, fetched_at: str, evidence_hash: str) -> str:
    """Reference key `evidence/{source}/{YYYY-MM-DD}/{hash}.gz`, kept to read objects it wrote."""
    return f"evidence/{source}/{fetched_at[:10]}/{check_evidence_hash(evidence_hash)}.gz"


def named_evidence(event: object) -> list[str]:
    """The evidence hashes an event names (``evidence_hashes`` then ``evidence_hash``), each once, in order: what
    lineage (``evidence_usage``) and postmortems read without knowing every event class."""
    named = getattr(event, "evidence_hashes", None)
    out: list[str] = []
    for h in [*(named if isinstance(named, list | tuple) else ()), getattr(event, "evidence_hash", None)]:
        if isinstance(h, str) and _HASH_RE.match(h) and h not in out:
            out.append(h)
    return out


# Aggregates whose events are declared on a shared base class, named by the aggregate they belong to.
_AGGREGATE_ALIASES = {"OrderRecord": "Order"}


def entity_type(event: object) -> str:
    """The naming aggregate as a lineage ``derived_entity_type``: ``Order.FillRecorded`` → ``order``,
    ``PositionExit.Filled`` → ``position_exit``."""
    name = type(event).__qualname__.split(".", 1)[0]
    name = _AGGREGATE_ALIASES.get(name, name)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def blob_relpath(evidence_hash: str) -> str:
    """Local blob layout `<aa>/<hash>`: two hex characters of fan-out keep directories small."""
    h = check_evidence_hash(evidence_hash)
    return f"{h[:2]}/{h}"


def redact_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Replace values of secret-looking parameter names so they never reach the index."""
    if params is None:
        return None
    return {k: (REDACTED if _SECRET_PARAM_RE.search(k) else v) for k, v in params.items()}


def js_string(value: Any) -> str:
    """Stringify like JavaScript's String(x), which the reference used to build hash inputs."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)  # ECMAScript Number::toString, shared with deterministic ids
    return str(value)


def idempotency_key(operation: str, *args: Any) -> str:
    """SHA-256 hex of `operation|arg1|arg2|…`, args stringified (booleans true/false)."""
    return sha256_hex("|".join([operation, *(js_string(a) for a in args)]).encode("utf-8"))


def position_id(wallet: str, condition_id: str, side: str) -> str:
    """`pos_` + 32 hex of SHA-256(`position|wallet|conditionId|YES|NO`)."""
    outcome = side.upper()
    if outcome not in ("YES", "NO"):
        raise InvalidDerivedIdInput(f"position side must be YES or NO, got {side!r}")
    digest = sha256_hex(f"position|{wallet}|{condition_id}|{outcome}".encode())
    return "pos_" + digest[:32]


def canonical_market_id(canonical_event_id: str, venue: str, venue_market_id: str) -> str:
    """`cm_` + 32 hex of SHA-256(`canonical_market|canonicalEventId|venue|venueMarketId`)."""
    digest = sha256_hex(f"canonical_market|{canonical_event_id}|{venue}|{venue_market_id}".encode())
    return "cm_" + digest[:32]


def fnv1a_32_utf16(text: str) -> int:
    """32-bit FNV-1a over UTF-16 code units, as JavaScript's charCodeAt loop computes it."""
    h = _FNV_OFFSET
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def legacy_short_id(prefix: str, parts: Iterable[Any]) -> str:
    """Reference `<prefix>-<16 hex>` id; only for reading legacy records (new ids are UUIDv7/SHA-256)."""
    items = ["" if p is None else js_string(p) for p in parts]
    joined = "|".join(items)
    h1 = fnv1a_32_utf16(joined)
    h2 = fnv1a_32_utf16(f"{joined}|{len(items)}|{prefix}")
    return f"{prefix}-{h1:08x}{h2:08x}"
