"""Provider response bodies kept as evidence before they are parsed (api-and-security §4.1, §4.5, §4.6; ADR 0391).

Every HTTP answer a provider gives (2xx or not, parsable or not) is written to the content-addressed store and
its fetch indexed before the adapter looks inside it; if either fails the attempt fails (evidence-first is fail
closed) and the router moves on. Keys travel in request headers or the query string, never in a stored body;
a body that echoes one is stored with the key replaced, and the fetch row says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from paulp.adapters.evidence_store import EvidenceFetch, EvidenceStore
from paulp.adapters.http_bounds import CUT_OFF_PARAM
from paulp.adapters.redact import scrub as scrub  # re-exported: callers and tests read it here (ADR 0391)
from paulp.adapters.redact import scrub_for_evidence
from paulp.domain.executor import ProviderError
from paulp.domain.routing import ErrorCode, Provider

# §4.5: one evidence source id per LLM provider, in the vocabulary of the compliance ids (`<vendor>_api`).
EVIDENCE_SOURCES: Mapping[Provider, str] = {
    Provider.ANTHROPIC: "anthropic_api",
    Provider.MINIMAX: "minimax_api",
    Provider.MOONSHOT: "moonshot_api",
    Provider.GOOGLE: "google_ai_api",
    Provider.CLOUDFLARE: "cloudflare_workers_ai_api",
}

T = TypeVar("T")
FetchRecorder = Callable[[EvidenceFetch], None]


class EvidenceNotStored(ProviderError):
    """Raised when a provider's answer could not be stored or indexed: it is then not used (§4.1), and the route
    stops there (ADR 0516): the next model's answer could not be stored either. ``answered``: an answer came (the
    call is charged at its hold), not a store missing before any call."""

    code = ErrorCode.PROVIDER_SERVER_ERROR
    ends_route = True

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


def evidenced(error: ProviderError, evidence_hash: str) -> ProviderError:
    """The attempt's error, pointing at the stored body it was read from."""
    error.evidence_hash = evidence_hash
    return error


def parse_evidenced(evidence_hash: str, parse: Callable[[], T]) -> T:
    """Parse a stored body; a failure (bad JSON, a 200 that reports an error) names the stored body."""
    try:
        return parse()
    except ProviderError as exc:
        raise evidenced(exc, evidence_hash) from None


@dataclass(frozen=True)
class ProviderEvidence:
    """The store and the index one process's provider clients share; ``record`` None keeps blobs only."""

    store: EvidenceStore
    record: FetchRecorder | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def keep(self, provider: Provider, endpoint: str, model: str, status: int, body: bytes,
             *secrets: str, cut_off: str | None = None) -> str:
        """Store and index one answer; returns its hash. The endpoint never carries the query (Gemini's key).
        ``cut_off`` names why ``body`` is only the start of the answer (ADR 0513): marked in the fetch's params."""
        stored, params = scrub_for_evidence(body, secrets, {"model": model})
        if cut_off is not None:
            params[CUT_OFF_PARAM] = cut_off
        try:
            blob = self.store.put(stored)
            if self.record is not None:
                self.record(EvidenceFetch(
                    evidence_hash=blob.evidence_hash, source=EVIDENCE_SOURCES[provider], endpoint=endpoint,
                    fetched_at=self.now().astimezone(UTC).isoformat(timespec="milliseconds"),
                    size_bytes=len(stored), request_method="POST", request_params=params,
                    response_status=status))
        except Exception as exc:
            raise EvidenceNotStored(f"{provider} API response (HTTP {status}) could not be stored as evidence "
                                    f"({type(exc).__name__}); not used", answered=True) from None
        return blob.evidence_hash
