"""Shared helpers of the security tests: isolated settings, an app client from a loopback proxy, JWTs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from paulp.api.app import create_app
from paulp.api.wiring import Container, build
from tests.support.settings import IsolatedSettings

TEAM = "team.example.cloudflareaccess.com"
AUDIENCE = "aud-test-123"
LOOPBACK_PEER = ("127.0.0.1", 50000)




@contextmanager
def app_client(db_url: str, nats_url: str, namespace: str, peer: tuple[str, int] = LOOPBACK_PEER,
               **config: Any) -> Iterator[tuple[TestClient, Container]]:
    settings = IsolatedSettings(PAULP_DATABASE_URL=db_url, PAULP_NATS_URL=nats_url, PAULP_NAMESPACE=namespace,
                                **{"ENVIRONMENT": "test", **config})
    container = build(settings, db_url, nats_url)
    app = create_app(container)
    try:
        with TestClient(app, client=peer, raise_server_exceptions=False) as client:
            yield client, container
    finally:
        container.close()


class Signer:
    """An RSA key pair standing in for Cloudflare's; issues RS256 Access JWTs."""

    def __init__(self, kid: str = "test-kid-1") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def private_pem(self) -> str:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()

    def token(self, email: str | None = "operator@example.com", kid: str | None = "default", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"aud": [AUDIENCE], "iss": f"https://{TEAM}", "sub": "user-1", "iat": now,
                                  "exp": now + 600}
        if email is not None:
            claims["email"] = email
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {} if kid is None else {"kid": self.kid if kid == "default" else kid}
        return jwt.encode(claims, self.key, algorithm="RS256", headers=headers)


def access_headers(token: str, email: str = "operator@example.com", **extra: str) -> dict[str, str]:
    return {"cf-access-authenticated-user-email": email, "cf-access-jwt-assertion": token, **extra}
