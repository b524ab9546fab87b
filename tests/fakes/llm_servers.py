"""Loopback LLM provider fakes speaking each real wire format (llm-routing §11).

One `FakeLlmServer` per wire format (`anthropic`, `openai` for MiniMax and Moonshot, `gemini`,
`cloudflare`) listens on 127.0.0.1 at a free port (starlette + uvicorn in a daemon thread). It checks
credentials exactly where the real API expects them, answers real-shaped bodies with usage, can be
scripted per request (status, body, raw bytes, delay, a hostile body), can answer from the prompt it was sent
(``respond``: user prompt text -> reply text, wrapped in the wire's own success body) and records every
request it saw.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.hostile import HostileBody

WIRES = ("anthropic", "openai", "gemini", "cloudflare")
MINIMAX_PATH = "/v1/text/chatcompletion_v2"
MOONSHOT_PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer: `body=None` means the wire's own success (2xx) or error (non-2xx) shape."""

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    delay_s: float = 0.0
    release: threading.Event | None = None  # when set, ends the delay early: the test says when the answer goes
    hostile: HostileBody | None = None  # a dripped, flooding or over-declared body instead (ADR 0513)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Usage:
    input_tokens: int = 120
    output_tokens: int = 30
    cache_read: int = 0
    cache_creation: int = 0


_ANTHROPIC_ERROR = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                    404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
_GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                  500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


@dataclass
class FakeLlmServer:
    wire: str
    api_key: str
    account_id: str = "acct-test"
    content: str = "fake reply"
    respond: Callable[[str], str] | None = None  # reply text from the user prompt (instead of ``content``)
    usage: Usage = field(default_factory=Usage)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.wire not in WIRES:
            raise ValueError(f"unknown wire format {self.wire!r}")
        self._script: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        self._stopping = False
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeLlmServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "GET"])])
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake {self.wire} server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- programming -----------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The base URL the matching provider client is configured with."""
        suffix = {"anthropic": "", "openai": "/v1", "gemini": "/v1beta", "cloudflare": "/client/v4"}[self.wire]
        return self.root + suffix

    def enqueue(self, *replies: FakeReply) -> None:
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget the script and the recorded requests; back to the default content and usage."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
        self.usage = Usage()
        self.content = "fake reply"
        self.respond = None

    def _next_reply(self) -> FakeReply:
        with self._lock:
            return self._script.popleft() if self._script else FakeReply()

    # --- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        recorded = RecordedRequest(request.method, request.url.path, dict(request.query_params),
                                   {k.lower(): v for k, v in request.headers.items()}, body)
        with self._lock:
            self.requests.append(recorded)
        denied = self._check_auth(recorded)
        if denied is not None:
            return denied
        reply = self._next_reply()
        await self._sleep(reply.delay_s, reply.release)
        if reply.hostile is not None:
            return reply.hostile.response(reply.status)
        if reply.raw is not None:
            return Response(reply.raw, status_code=reply.status, media_type="application/json")
        payload = reply.body
        if payload is None:
            payload = self._success(recorded) if reply.status < 300 else self._error(reply.status, "scripted failure")
        return self._json(payload, reply.status)

    async def _sleep(self, seconds: float, release: threading.Event | None = None) -> None:
        end = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < end and not (release and release.is_set()):
            await asyncio.sleep(min(0.02, end - time.monotonic()))

    @staticmethod
    def _json(payload: Any, status: int) -> Response:
        return Response(json.dumps(payload), status_code=status, media_type="application/json")

    def _check_auth(self, req: RecordedRequest) -> Response | None:
        h = req.headers
        if self.wire == "anthropic":
            if req.path != "/v1/messages":
                return self._json(self._error(404, f"Not found: {req.path}"), 404)
            if h.get("x-api-key") != self.api_key or "authorization" in h:
                return self._json(self._error(401, "invalid x-api-key"), 401)
            if h.get("anthropic-version") != "2023-06-01":
                return self._json(self._error(400, "anthropic-version: unsupported or missing"), 400)
            return None
        if self.wire == "openai":
            if req.path not in (MINIMAX_PATH, MOONSHOT_PATH):
                return self._json(self._error(404, f"Not found: {req.path}"), 404)
            if h.get("authorization") == f"Bearer {self.api_key}":
                return None
            if req.path == MINIMAX_PATH:  # MiniMax reports a bad key inside a 200 body
                return self._json({"id": "", "choices": None, "base_resp": {
                    "status_code": 1004, "status_msg": "login fail: Please carry the API secret key"}}, 200)
            return self._json(self._error(401, "Invalid Authentication"), 401)
        if self.wire == "gemini":
            if not (req.path.startswith("/v1beta/models/") and req.path.endswith(":generateContent")):
                return self._json(self._error(404, f"Not found: {req.path}"), 404)
            key = req.query.get("key")
            if key is None:
                return self._json(self._error(403, "Method doesn't allow unregistered callers."), 403)
            if key != self.api_key:
                body = self._error(400, "API key not valid. Please pass a valid API key.")
                body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                             "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
                return self._json(body, 400)
            return None
        prefix = f"/client/v4/accounts/{self.account_id}/ai/run/"
        if not req.path.startswith(prefix):
            return self._json(self._error(404, "No route for that URI"), 404)
        if h.get("authorization") != f"Bearer {self.api_key}":
            return self._json(self._error(401, "Authentication error"), 401)
        return None

    def _error(self, status: int, message: str) -> dict[str, Any]:
        if self.wire == "anthropic":
            return {"type": "error", "error": {"type": _ANTHROPIC_ERROR.get(status, "api_error"), "message": message}}
        if self.wire == "openai":
            return {"error": {"message": message, "type": "fake_error", "code": status}}
        if self.wire == "gemini":
            return {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "UNKNOWN")}}
        return {"result": None, "success": False, "errors": [{"code": 10000 if status == 401 else 7000 + status,
                                                                "message": message}], "messages": []}

    def _user_text(self, sent: Any) -> str:
        """The user turn of a request, read where each wire carries it."""
        if not isinstance(sent, dict):
            return ""
        if self.wire == "gemini":
            parts = (sent.get("contents") or [{}])[0].get("parts") or []
            return "".join(str(p.get("text", "")) for p in parts)
        turns = [m for m in sent.get("messages") or [] if m.get("role") == "user"]
        return str(turns[-1].get("content", "")) if turns else ""

    def _success(self, req: RecordedRequest) -> dict[str, Any]:
        u = self.usage
        sent = req.json() if req.body else {}
        text = self.respond(self._user_text(sent)) if self.respond is not None else self.content
        if self.wire == "anthropic":
            return {"id": f"msg_fake_{len(self.requests)}", "type": "message", "role": "assistant",
                    "model": sent.get("model"), "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                              "cache_read_input_tokens": u.cache_read,
                              "cache_creation_input_tokens": u.cache_creation}}
        if self.wire == "openai":
            body: dict[str, Any] = {
                "id": f"chatcmpl-fake-{len(self.requests)}", "object": "chat.completion", "created": 1764028800,
                "model": sent.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                          "total_tokens": u.input_tokens + u.output_tokens}}
            if req.path == MINIMAX_PATH:
                body["base_resp"] = {"status_code": 0, "status_msg": ""}
            return body
        if self.wire == "gemini":
            meta: dict[str, Any] = {"promptTokenCount": u.input_tokens, "candidatesTokenCount": u.output_tokens,
                                    "totalTokenCount": u.input_tokens + u.output_tokens}
            if u.cache_read:
                meta["cachedContentTokenCount"] = u.cache_read
            return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                                    "finishReason": "STOP", "index": 0}],
                    "usageMetadata": meta, "modelVersion": req.path.rsplit("/", 1)[-1].split(":")[0]}
        return {"result": {"response": text,
                           "usage": {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens}},
                "success": True, "errors": [], "messages": []}
