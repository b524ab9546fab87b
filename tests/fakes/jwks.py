"""Loopback fake of the Cloudflare Access certs URL: serves a JSON key document (or a status) and counts hits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.fakes.hostile import HostileBody
from tests.fakes.loopback import JsonHandler, LoopbackServer

CERTS_PATH = "/cdn-cgi/access/certs"


class FakeJwks(LoopbackServer):
    """Set ``document`` / ``status`` (or a ``hostile`` body) at any time; ``hits`` counts GETs of the certs path."""

    path = CERTS_PATH

    def __init__(self, document: Any = None, status: int = 200) -> None:
        self.document: Any = document if document is not None else {"keys": []}
        self.status = status
        self.hostile: HostileBody | None = None
        self.hits = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                with fake._lock:
                    fake.hits += 1
                    status, document, hostile = fake.status, fake.document, fake.hostile
                if self.path == CERTS_PATH and hostile is not None:
                    hostile.write_to(self, status)
                elif self.path == CERTS_PATH:
                    self.reply(status, document)
                else:
                    self.reply(404, {})

        super().__init__(Handler)


@contextmanager
def fake_jwks(document: Any = None, status: int = 200) -> Iterator[FakeJwks]:
    server = FakeJwks(document, status).start()
    try:
        yield server
    finally:
        server.stop()
