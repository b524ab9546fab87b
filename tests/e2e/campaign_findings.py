"""What the by-hand campaigns (HTTP: fuzz_campaign, ADR 0490; command line: cli_fuzz_campaign, ADR 0499) collect:
counters, failures by signature (first example of each kept) and the event count that shows partial state."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from typing import Any

import psycopg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import create_database


class Findings:
    def __init__(self, db_url: str) -> None:
        self.db = psycopg.connect(db_url, autocommit=True)
        self.seen: Counter[str] = Counter()
        self.failures: dict[str, dict[str, Any]] = {}
        self.failure_counts: Counter[str] = Counter()

    def events(self) -> int:
        """Events in the log: a refused request or command must leave it unchanged."""
        row = self.db.execute("SELECT count(*) FROM paulp_events").fetchone()
        return int(row[0]) if row else 0

    def fail(self, kind: str, key: str, detail: dict[str, Any]) -> None:
        signature = f"{kind} | {key}"
        self.failure_counts[signature] += 1
        self.failures.setdefault(signature, detail)


def campaign_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """(name, url) of a new, migrated database for one campaign (outside pytest there is no template to clone);
    ``tests.conftest.drop_database`` removes it."""
    from paulp.adapters.migrate import migrate

    name = f"{prefix}_{secrets.token_hex(3)}"
    db_url = create_database(admin_url, name, migrated=False)
    migrate(db_url)
    return name, db_url


def venue_key() -> tuple[rsa.RSAPublicKey, str, str]:
    """The loopback Kalshi venue's key pair: (public key for the fake, key id, private PEM for the client)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return key.public_key(), str(uuid.uuid4()), pem
