"""The test suite's server pair, resolved one way by every process that needs it (pytest's controller, the
checkers' runtime, the HTTP-case checker): the URLs in the environment when set, else the embedded servers
under ``.paulp/test`` (or ``PAULP_STATE_DIR``), started as a throwaway cluster without fsync (ADR 0474)."""

from __future__ import annotations

import os
from pathlib import Path

from paulp.adapters.services import Services, resolve_services

ROOT = Path(__file__).resolve().parents[2]


def suite_services() -> Services:
    return resolve_services(os.environ.get("PAULP_DATABASE_URL"), os.environ.get("PAULP_NATS_URL"), "test",
                            Path(os.environ.get("PAULP_STATE_DIR", str(ROOT / ".paulp" / "test"))), durable=False)
