"""The app behind uvicorn on a loopback socket, as ``paulp serve`` runs it, for tests that need real HTTP
(client address, headers as sent, the server's own answers)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from paulp.api.app import create_app
from paulp.api.runtime import HTTP_OPTIONS
from paulp.api.wiring import Container, build
from tests.support.settings import IsolatedSettings


@contextmanager
def serve_container(container: Container) -> Iterator[str]:
    """Yield the base URL of ``container``'s app served on 127.0.0.1 (an ephemeral port); stopped on exit.
    The container stays the caller's to close."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, timeout_graceful_shutdown=1, **HTTP_OPTIONS))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "API server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_config(db_url: str, nats_url: str, namespace: str, **config: Any) -> Iterator[str]:
    """A container built from exactly ``config`` (isolated from the environment; ``ENVIRONMENT`` is ``test``
    unless given), served as ``serve_container`` serves it, and closed on exit."""
    settings = IsolatedSettings(PAULP_DATABASE_URL=db_url, PAULP_NATS_URL=nats_url, PAULP_NAMESPACE=namespace,
                                **{"ENVIRONMENT": "test", **config})
    container = build(settings, db_url, nats_url)
    try:
        with serve_container(container) as base:
            yield base
    finally:
        container.close()
