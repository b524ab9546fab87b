"""Loopback fake of Turnstile siteverify: answers a configurable JSON/status and records each form post."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

VERIFY_PATH = "/turnstile/v0/siteverify"


class FakeTurnstile:
    """``reply`` / ``status`` decide the answer; ``forms`` keeps every posted form (secret, response, remoteip)."""

    def __init__(self, reply: Any = None, status: int = 200) -> None:
        self.reply: Any = reply if reply is not None else {"success": True}
        self.status = status
        self.forms: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake.forms.append(form)
                body = json.dumps(fake.reply).encode()
                self.send_response(fake.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{VERIFY_PATH}"

    def start(self) -> FakeTurnstile:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@contextmanager
def fake_turnstile(reply: Any = None, status: int = 200) -> Iterator[FakeTurnstile]:
    server = FakeTurnstile(reply, status).start()
    try:
        yield server
    finally:
        server.stop()
