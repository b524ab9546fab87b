"""Loopback fake of Turnstile siteverify: answers a configurable JSON/status and records each form post."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.hostile import HostileBody
from tests.fakes.loopback import JsonHandler, LoopbackServer

VERIFY_PATH = "/turnstile/v0/siteverify"


class FakeTurnstile(LoopbackServer):
    """``reply`` / ``status`` (or a ``hostile`` body) decide the answer; ``forms`` keeps every posted form
    (secret, response, remoteip)."""

    path = VERIFY_PATH

    def __init__(self, reply: Any = None, status: int = 200) -> None:
        self.answer: Any = reply if reply is not None else {"success": True}
        self.status = status
        self.hostile: HostileBody | None = None
        self.forms: list[dict[str, str]] = []
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake.forms.append(form)
                if fake.hostile is not None:
                    fake.hostile.write_to(self, fake.status)
                else:
                    self.reply(fake.status, fake.answer)

        super().__init__(Handler)


@contextmanager
def fake_turnstile(reply: Any = None, status: int = 200) -> Iterator[FakeTurnstile]:
    server = FakeTurnstile(reply, status).start()
    try:
        yield server
    finally:
        server.stop()
