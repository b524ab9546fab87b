"""The sources registry (api-and-security §4.8; ADR 0432): where a fact came from, and which claims cite it.

Two records, both in the log so provenance is tamper-evident like every other change:

- ``Source``: one per fetch or derivation, with a type and a quality, the evidence it rests on (a stored blob,
  or for a computed source the hash of its parents' ids), an optional expiry and its lineage (parent sources).
  Expiry is an event: nothing is deleted, and the content-addressed blob stays (other fetches may share it).
- ``Citation``: one per factual claim (``SR-001``…). A claim is labelled FACT only with an evidence pointer: a
  stored blob's hash, or for a computation the hashes of its inputs. Its status moves active → expired /
  retracted / unverified by events; re-verification records its outcome.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from paulp.domain.canonical import NonCanonicalValue, canonical_json
from paulp.domain.clock import iso_utc
from paulp.domain.errors import DomainError
from paulp.domain.evidence import InvalidEvidenceHash, check_evidence_hash
from paulp.domain.namespace import PAULP_NAMESPACE
from paulp.domain.texts import bounded_text

TEXT_MAX = 2000
NAME_MAX = 200
URL_MAX = 2000
LINEAGE_MAX = 10  # nodes a trace visits (§4.8: breadth-first, at most 10, cycle-safe)
_SOURCE_ID = re.compile(r"^src-[0-9a-f]{32}\Z")
_CITATION_ID = re.compile(r"^SR-(\d{3,})\Z")


class SourceType(StrEnum):
    API_RESPONSE = "api_response"
    WEBSOCKET_MESSAGE = "websocket_message"
    WEBHOOK_PAYLOAD = "webhook_payload"
    MANUAL_ENTRY = "manual_entry"
    COMPUTED = "computed"


class SourceQuality(StrEnum):
    AUTHORITATIVE = "authoritative"
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"


class CitationType(StrEnum):
    API_RESPONSE = "api_response"
    PAPER_SNAPSHOT = "paper_snapshot"
    ARTICLE_SNAPSHOT = "article_snapshot"
    SCREENSHOT = "screenshot"
    COMPUTATION = "computation"
    ON_CHAIN = "on_chain"


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class CitationStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    RETRACTED = "retracted"
    UNVERIFIED = "unverified"


class InvalidSource(DomainError):
    """Raised when a source or citation cannot be recorded as given; nothing is recorded."""

    code = "INVALID_SOURCE"


class SourceNotFound(DomainError):
    code = "SOURCE_NOT_FOUND"


def _text(value: object, field: str, limit: int = TEXT_MAX) -> str:
    return bounded_text(value, field, limit, InvalidSource)


def _optional_text(value: object, field: str, limit: int = TEXT_MAX) -> str | None:
    return None if value is None or (isinstance(value, str) and not value.strip()) else _text(value, field, limit)


def _choice(enum: type[StrEnum], value: object, field: str) -> str:
    try:
        return enum(value.strip() if isinstance(value, str) else "").value
    except ValueError:
        raise InvalidSource(f"{field} must be one of {', '.join(e.value for e in enum)}, got {value!r}") from None


def _hash(value: object, field: str) -> str:
    try:
        return check_evidence_hash(value.strip() if isinstance(value, str) else "")
    except InvalidEvidenceHash:
        raise InvalidSource(f"{field} must be a lowercase hex SHA-256, got {value!r:.80}") from None


def _aware(at: datetime, field: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidSource(f"{field} must carry a time zone")
    return at


def source_id(source_type: str, vendor: str, url: str, fetched_at: datetime) -> str:
    """``src-`` + 32 hex of SHA-256 over what the source is: the same fetch always gets the same id (§4.7: new
    ids are SHA-256-derived where determinism is needed, never the legacy 64-bit FNV scheme)."""
    text = f"source|{source_type}|{vendor}|{url}|{iso_utc(fetched_at)}"
    return "src-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def check_source_id(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _SOURCE_ID.match(text):
        raise InvalidSource(f"a source id is src- and 32 lowercase hex, got {value!r:.80}")
    return text


def computed_evidence_hash(parent_ids: Sequence[str]) -> str:
    """§4.8: a computed source without a blob rests on its parents: SHA-256 of their ids joined by ':'."""
    return hashlib.sha256(":".join(parent_ids).encode()).hexdigest()


def entry_evidence_hash(url: str, now: datetime) -> str:
    """§4.8: a source with neither blob nor parents (a manual entry): SHA-256 of ``<url>:<now>``."""
    return hashlib.sha256(f"{url}:{iso_utc(now)}".encode()).hexdigest()


def trace_lineage(start: str, parents_of: Callable[[str], Sequence[str] | None],
                  limit: int = LINEAGE_MAX) -> list[str]:
    """Breadth-first from ``start`` through parents, each source once (cycles end), at most ``limit`` nodes;
    an unknown parent is listed but not followed."""
    seen: list[str] = []
    queue = deque([start])
    while queue and len(seen) < limit:
        node = queue.popleft()
        if node in seen:
            continue
        seen.append(node)
        queue.extend(p for p in parents_of(node) or () if p not in seen)
    return seen


class Source(Aggregate):
    """One registered source; write-once apart from its expiry."""

    class Registered(Aggregate.Created):
        source_id: str
        source_type: str
        source_url: str
        vendor: str
        quality: str
        evidence_hash: str
        blob_stored: bool  # True: the evidence hash names a blob in the evidence store
        fetched_at: datetime
        expires_at: datetime | None
        metadata: dict[str, Any]
        lineage: list[str]
        actor: str

    class Expired(Aggregate.Event):
        source_id: str
        reason: str
        at: datetime

    @staticmethod
    def create_id(source_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"source/{source_id}")

    @classmethod
    def register(cls, *, source_type: object, url: object, vendor: object, quality: object,
                 fetched_at: datetime, actor: object, evidence_hash: object = None,
                 lineage: Iterable[object] = (), ttl_seconds: object = None,
                 metadata: Mapping[str, Any] | None = None) -> Source:
        """Validate everything first: refused input records nothing. The evidence is the blob's hash when given;
        otherwise a computed source's parents' hash, else the manual entry's ``<url>:<time>`` hash."""
        kind = _choice(SourceType, source_type, "source type")
        where, who = _text(url, "url", URL_MAX), _text(vendor, "vendor", NAME_MAX)
        grade, by = _choice(SourceQuality, quality, "quality"), _text(actor, "actor", NAME_MAX)
        at = _aware(fetched_at, "fetched_at")
        parents = [check_source_id(p) for p in lineage]
        if len(set(parents)) != len(parents):
            raise InvalidSource("lineage names a parent twice")
        if kind == SourceType.COMPUTED and not parents and evidence_hash is None:
            raise InvalidSource("a computed source needs its parent sources (lineage) or its evidence")
        expires = None
        if ttl_seconds is not None:
            if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
                raise InvalidSource(f"ttl must be a positive whole number of seconds, got {ttl_seconds!r}")
            try:
                expires = at + timedelta(seconds=ttl_seconds)
            except OverflowError:  # past datetime's range: an OverflowError and a traceback (ADR 0499)
                raise InvalidSource(f"ttl of {ttl_seconds} seconds runs past the calendar") from None
        try:  # stored as JSON with the event: NaN/Infinity (``1e999``) or a lone surrogate cannot be (ADR 0499)
            canonical_json(dict(metadata or {}))
        except NonCanonicalValue as e:
            raise InvalidSource(f"metadata cannot be stored: {e}") from None
        if evidence_hash is not None:
            digest, blob = _hash(evidence_hash, "evidence hash"), True
        elif parents:
            digest, blob = computed_evidence_hash(parents), False
        else:
            digest, blob = entry_evidence_hash(where, at), False
        sid = source_id(kind, who, where, at)
        if sid in parents:
            raise InvalidSource("a source cannot be its own parent")
        source: Source = cls(source_id=sid, source_type=kind, source_url=where, vendor=who, quality=grade,
                             evidence_hash=digest, blob_stored=blob, fetched_at=at, expires_at=expires,
                             metadata=dict(metadata or {}), lineage=parents, actor=by)
        return source

    @event(Registered)
    def __init__(self, source_id: str, source_type: str, source_url: str, vendor: str, quality: str,
                 evidence_hash: str, blob_stored: bool, fetched_at: datetime, expires_at: datetime | None,
                 metadata: dict[str, Any], lineage: list[str], actor: str) -> None:
        self.source_id, self.source_type, self.source_url, self.vendor = source_id, source_type, source_url, vendor
        self.quality, self.evidence_hash, self.blob_stored = quality, evidence_hash, blob_stored
        self.fetched_at, self.expires_at, self.metadata = fetched_at, expires_at, metadata
        self.lineage, self.actor = lineage, actor
        self.expired_at: datetime | None = None

    def due_to_expire(self, now: datetime) -> bool:
        return self.expired_at is None and self.expires_at is not None and self.expires_at <= now

    def expire(self, reason: str, now: datetime) -> bool:
        """Mark expired (once); False when it already was. The blob is kept: the store is content-addressed."""
        if self.expired_at is not None:
            return False
        self._expired(self.source_id, reason, now)
        return True

    @event(Expired)
    def _expired(self, source_id: str, reason: str, at: datetime) -> None:
        self.expired_at = at


def citation_number(citation_id: str) -> int:
    found = _CITATION_ID.match(citation_id)
    if not found:
        raise InvalidSource(f"a citation id is SR- and at least 3 digits, got {citation_id!r:.80}")
    return int(found.group(1))


def citation_id(number: int) -> str:
    return f"SR-{number:03d}"


class Citation(Aggregate):
    """One claim and the evidence it cites; its status changes are events."""

    class Recorded(Aggregate.Created):
        citation_id: str
        claim_text: str
        source_type: str
        url: str | None
        title: str | None
        author: str | None
        publication_date: str | None
        retrieved_at: datetime
        evidence_hash: str | None
        computation_code_ref: str | None
        input_evidence_hashes: list[str]
        auto_reverify_days: int | None
        expires_at: datetime | None
        confidence_level: str
        actor: str

    class Verified(Aggregate.Event):
        citation_id: str
        passed: bool
        detail: str
        actor: str
        at: datetime

    class StatusChanged(Aggregate.Event):
        citation_id: str
        status: str
        reason: str
        actor: str
        at: datetime

    @staticmethod
    def create_id(citation_id: str) -> UUID:
        return uuid5(PAULP_NAMESPACE, f"citation/{citation_id}")

    @classmethod
    def record(cls, *, number: int, claim: object, source_type: object, retrieved_at: datetime, actor: object,
               confidence: object = Confidence.MEDIUM.value, evidence_hash: object = None,
               input_evidence_hashes: Iterable[object] = (), computation_code_ref: object = None,
               url: object = None, title: object = None, author: object = None, publication_date: object = None,
               auto_reverify_days: object = None, expires_at: datetime | None = None) -> Citation:
        """§4.8's rule: no claim is a FACT without an evidence pointer — a blob, or a computation's inputs (and
        the code that computed it)."""
        kind = _choice(CitationType, source_type, "citation type")
        text, by = _text(claim, "claim"), _text(actor, "actor", NAME_MAX)
        digest = None if evidence_hash is None else _hash(evidence_hash, "evidence hash")
        inputs = [_hash(h, "input evidence hash") for h in input_evidence_hashes]
        code_ref = _optional_text(computation_code_ref, "computation code ref", NAME_MAX)
        if kind == CitationType.COMPUTATION:
            if not inputs or code_ref is None:
                raise InvalidSource("a computation cites its input evidence hashes and the code that computed it")
        elif digest is None:
            raise InvalidSource("no claim is a FACT without an evidence pointer: give the evidence hash")
        days = auto_reverify_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650):
            raise InvalidSource(f"auto re-verify days must be 1 to 3650, got {days!r}")
        if expires_at is not None:
            _aware(expires_at, "expires_at")
        citation: Citation = cls(
            citation_id=citation_id(number), claim_text=text, source_type=kind,
            url=_optional_text(url, "url", URL_MAX), title=_optional_text(title, "title", NAME_MAX),
            author=_optional_text(author, "author", NAME_MAX),
            publication_date=_optional_text(publication_date, "publication date", 40),
            retrieved_at=_aware(retrieved_at, "retrieved_at"), evidence_hash=digest, computation_code_ref=code_ref,
            input_evidence_hashes=inputs, auto_reverify_days=days, expires_at=expires_at,
            confidence_level=_choice(Confidence, confidence, "confidence"), actor=by)
        return citation

    @event(Recorded)
    def __init__(self, citation_id: str, claim_text: str, source_type: str, url: str | None, title: str | None,
                 author: str | None, publication_date: str | None, retrieved_at: datetime,
                 evidence_hash: str | None, computation_code_ref: str | None, input_evidence_hashes: list[str],
                 auto_reverify_days: int | None, expires_at: datetime | None, confidence_level: str,
                 actor: str) -> None:
        self.citation_id, self.claim_text, self.source_type = citation_id, claim_text, source_type
        self.url, self.title, self.author, self.publication_date = url, title, author, publication_date
        self.retrieved_at, self.evidence_hash = retrieved_at, evidence_hash
        self.computation_code_ref = computation_code_ref
        self.input_evidence_hashes, self.auto_reverify_days = input_evidence_hashes, auto_reverify_days
        self.expires_at, self.confidence_level, self.actor = expires_at, confidence_level, actor
        self.status = CitationStatus.ACTIVE.value
        self.verified_current_at: datetime | None = None

    @property
    def closed(self) -> bool:
        """Retracted or expired: final, never re-verified."""
        return self.status in (CitationStatus.RETRACTED.value, CitationStatus.EXPIRED.value)

    @property
    def evidence(self) -> list[str]:
        """Every hash the claim rests on."""
        return [*([self.evidence_hash] if self.evidence_hash else []), *self.input_evidence_hashes]

    def reverify_due(self, now: datetime) -> bool:
        if self.closed or not self.auto_reverify_days:
            return False
        last = self.verified_current_at or self.retrieved_at
        return now - last >= timedelta(days=self.auto_reverify_days)

    def verify(self, missing: Sequence[str], actor: object, now: datetime) -> bool:
        """Record a re-verification: every cited blob present and intact → active, else unverified, naming the
        hashes that failed. A retracted or expired claim is not re-verified."""
        if self.closed:
            raise InvalidSource(f"{self.citation_id} is {self.status}; it is not re-verified")
        by = _text(actor, "actor", NAME_MAX)
        passed = not missing
        detail = "every cited blob present and intact" if passed else "failed: " + ", ".join(missing)
        self._verified(self.citation_id, passed, detail, by, now)
        target = CitationStatus.ACTIVE if passed else CitationStatus.UNVERIFIED
        if self.status != target.value:
            self._status_changed(self.citation_id, target.value, detail, by, now)
        return passed

    @event(Verified)
    def _verified(self, citation_id: str, passed: bool, detail: str, actor: str, at: datetime) -> None:
        if passed:
            self.verified_current_at = at

    def retract(self, reason: object, actor: object, now: datetime) -> None:
        self._close(CitationStatus.RETRACTED, reason, actor, now)

    def expire(self, reason: object, actor: object, now: datetime) -> None:
        self._close(CitationStatus.EXPIRED, reason, actor, now)

    def _close(self, status: CitationStatus, reason: object, actor: object, now: datetime) -> None:
        why, by = _text(reason, "reason"), _text(actor, "actor", NAME_MAX)
        if self.closed:
            raise InvalidSource(f"{self.citation_id} is already {self.status}")
        self._status_changed(self.citation_id, status.value, why, by, now)

    @event(StatusChanged)
    def _status_changed(self, citation_id: str, status: str, reason: str, actor: str, at: datetime) -> None:
        self.status = status
