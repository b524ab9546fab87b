"""Loopback fake of the Cloudflare Access certs URL: serves a JSON key document (or a status) and counts hits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CERTS_PATH = "/cdn-cgi/access/certs"


class FakeJwks:
    """Set ``document`` / ``status`` at any time; ``hits`` counts GETs of the certs path."""

    def __init__(self, document: Any = None, status: int = 200) -> None:
        self.document: Any = document if document is not None else {"keys": []}
        self.status = status
        self.hits = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with fake._lock:
                    fake.hits += 1
                    status, document = fake.status, fake.document
                body = json.dumps(document).encode() if self.path == CERTS_PATH else b"{}"
                self.send_response(status if self.path == CERTS_PATH else 404)
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
        return f"http://{host!s}:{port}{CERTS_PATH}"

    def start(self) -> FakeJwks:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@contextmanager
def fake_jwks(document: Any = None, status: int = 200) -> Iterator[FakeJwks]:
    server = FakeJwks(document, status).start()
    try:
        yield server
    finally:
        server.stop()
