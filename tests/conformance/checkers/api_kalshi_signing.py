"""api.json::kalshi_signing — RSA-PSS composition, verification, credentials and path classification."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from paulp.adapters.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiAuth,
    KalshiCredentialsError,
    KalshiSigner,
    auth_headers,
    credentials_from_env,
    is_valid_key_id,
    load_credentials,
    load_public_key,
    requires_signature,
    sign_message,
    signing_message,
    verify_signature,
)
from tests.conformance.registry import checker

SAMPLE_KEY_ID = "f5dab4a7-1cc5-437f-bc39-5cbf2351d613"
# key_id_trimmed is one object in the sample; a fuller set may list several, each its own case.
_LIST_SECTIONS = {
    "composition",
    "credential_failures",
    "key_formats_accepted",
    "api_key_format",
    "requires_signature",
    "key_id_trimmed",
}


def _label(item: Any) -> str:
    if not isinstance(item, dict):
        return f"-{item}"
    for k in ("id", "path", "value", "error_mentions"):
        if item.get(k):
            return f"-{item[k]}"
    return ""


def split(data: Any) -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield "unrecognised", {"section": "unknown", "data": data}
        return
    for key, value in data.items():
        if key in _LIST_SECTIONS and isinstance(value, list):
            for i, item in enumerate(value):
                yield f"{key}/{i:03d}{_label(item)}", {"section": key, "data": item}
        elif key == "headers" and isinstance(value, list):
            for name in value:
                yield f"headers/{name}", {"section": "headers", "data": name}
        elif key == "verification" and isinstance(value, dict):
            yield from _verification(value, "verification")
        elif key == "verification" and isinstance(value, list):  # more keys, each with its own cases
            for n, block in enumerate(value):
                if isinstance(block, dict):
                    yield from _verification(block, f"verification/{n:03d}")
                else:
                    yield f"verification/{n:03d}", {"section": "unknown", "key": "verification", "data": block}
        else:
            yield key, {"section": key, "data": value}


def _verification(value: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """One public key and the signatures to verify against it."""
    pem = value.get("public_key_pem")
    for sub, sub_value in value.items():
        if sub == "cases" and isinstance(sub_value, list):
            for i, vc in enumerate(sub_value):
                yield f"{prefix}/cases/{i:03d}", {"section": "verify", "data": vc, "pem": pem}
        elif sub == "public_key_pem":
            yield f"{prefix}/public_key_pem", {"section": "public_key", "data": sub_value}
        elif sub != "note":
            yield f"{prefix}/{sub}", {"section": "unknown", "key": f"verification.{sub}", "data": sub_value}


@cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(fmt: serialization.PrivateFormat) -> str:
    return _key().private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


_NOT_RSA = re.compile(r"\b(ec|ecdsa|ed25519|secp256r1|p-256|dsa)\b")
_BROKEN = ("invalid", "truncated", "corrupt", "malformed", "garbage")
TRUNCATED_PEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"


def _resolve_pem(value: Any) -> Any:
    """Vectors write a placeholder such as `<valid PEM>` for a key they cannot publish; substitute a key of the
    kind it names: an RSA private key (PKCS#1 when it says so, else PKCS#8), or, for failure cases, a public key,
    an encrypted key, a non-RSA key or a truncated PEM. A placeholder naming none of these fails the case."""
    if not (isinstance(value, str) and value.startswith("<") and value.endswith(">")):
        return value
    text = value.lower()
    if "pem" not in text and "key" not in text:
        raise AssertionError(f"unknown key placeholder {value!r}")
    if "public" in text:
        return (
            _key()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
    if any(w in text for w in ("encrypt", "password", "passphrase")):
        return (
            _key()
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"placeholder"),
            )
            .decode()
        )
    if _NOT_RSA.search(text):
        other = ed25519.Ed25519PrivateKey.generate() if "ed25519" in text else ec.generate_private_key(ec.SECP256R1())
        return other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    if any(w in text for w in _BROKEN):
        return TRUNCATED_PEM
    if "valid" in text:
        pkcs1 = any(w in text for w in ("pkcs#1", "pkcs1", "rsa private key"))
        return _pem(serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8)
    raise AssertionError(f"unknown key placeholder {value!r}")


def _check_composition(case: dict[str, Any]) -> None:
    ts, method, path = str(case["timestamp"]), case["method"], case["url_path"]
    message = signing_message(ts, method, path)
    assert message == case["expected_message"], f"message {message!r} != {case['expected_message']!r}"
    body = case.get("body")
    if body:
        assert body not in message, "request body must not be signed"
    creds = load_credentials(SAMPLE_KEY_ID, _pem(serialization.PrivateFormat.PKCS8))
    if not re.fullmatch(r"[0-9]{13}", ts):
        # A message may be composed over any timestamp text; a request header only ever carries 13 digits of ms.
        try:
            auth_headers(creds, method, path, ts)
        except ValueError:
            return
        raise AssertionError(f"headers were signed with a timestamp that is not 13 digits of ms: {ts!r}")
    headers = auth_headers(creds, method, path, ts)
    assert set(headers) == {HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE}, f"headers {sorted(headers)}"
    assert headers[HEADER_KEY] == SAMPLE_KEY_ID and headers[HEADER_TIMESTAMP] == ts, f"header values {headers}"
    public = _key().public_key()
    assert verify_signature(public, case["expected_message"], headers[HEADER_SIGNATURE]), "signature does not verify"
    if case.get("reference_message") and case["reference_message"] != case["expected_message"]:
        assert not verify_signature(public, case["reference_message"], headers[HEADER_SIGNATURE]), (
            "signature also verifies over the reference (body/query) message"
        )


def _check_algorithm(alg: dict[str, Any]) -> None:
    known = {"scheme": "RSA-PSS", "hash": "SHA-256", "mgf": "MGF1-SHA-256"}
    salt = 32
    for key, value in alg.items():
        if key in known:
            assert value == known[key], f"algorithm {key}: vector says {value!r}, implementation uses {known[key]!r}"
        elif key == "salt_length_bytes":
            salt = int(value)
        elif key == "signature_encoding":
            assert "base64" in value and "url" not in value.lower(), f"unsupported encoding {value!r}"
        elif key == "note" and isinstance(value, str):
            continue  # commentary (the verification block carries one in the sample)
        else:
            raise AssertionError(f"unknown algorithm property {key!r}")
    sig_b64 = sign_message(_key(), "probe")
    raw = base64.b64decode(sig_b64, validate=True)
    assert base64.b64encode(raw).decode() == sig_b64, "signature is not standard padded base64"
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
    _key().public_key().verify(raw, b"probe", pss, hashes.SHA256())


def _check_credential_failure(case: dict[str, Any]) -> None:
    env = {k: _resolve_pem(v) for k, v in case.items() if k.startswith("KALSHI_") and v is not None}
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    error: KalshiCredentialsError | None = None
    try:
        auth = KalshiAuth(KalshiSigner(credentials_from_env(env)))
        with httpx.Client(base_url="https://kalshi.test", transport=httpx.MockTransport(handler), auth=auth) as c:
            c.get("/trade-api/v2/portfolio/balance")
    except KalshiCredentialsError as exc:
        error = exc
    expected = str(case.get("expected", "error"))
    assert expected.startswith("error"), f"cannot interpret expected {expected!r}"
    assert error is not None, f"credentials {sorted(env)} were accepted"
    assert sent == [], "a request was sent despite bad credentials"
    if case.get("error_mentions"):
        assert case["error_mentions"] in str(error), f"error {error} does not mention {case['error_mentions']}"


def as_written(pem: str, label: str) -> str:
    """The PEM spelled as the label says it was pasted: CRLF line ends, escaped `\\n` on one line, padded."""
    text = label.lower()
    if "crlf" in text or "windows" in text:
        pem = pem.replace("\n", "\r\n")
    if any(w in text for w in ("escaped", "one line", "one-line", "single line", "single-line", "\\n")):
        pem = pem.replace("\r\n", "\\r\\n").replace("\n", "\\n")
    if any(w in text for w in ("padded", "whitespace", "bom")):
        pem = "\ufeff \n" + pem + "\n\t"
    return pem


def _check_key_format(label: str) -> None:
    if "PKCS#8" in label:
        fmt = serialization.PrivateFormat.PKCS8
    elif "PKCS#1" in label:
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        raise AssertionError(f"unknown key format {label!r}")
    pem = _pem(fmt)
    marker = "BEGIN PRIVATE KEY" if fmt is serialization.PrivateFormat.PKCS8 else "BEGIN RSA PRIVATE KEY"
    assert marker in pem, f"generated key is not {label}"
    creds = load_credentials(SAMPLE_KEY_ID, as_written(pem, label))
    headers = auth_headers(creds, "GET", "/trade-api/v2/portfolio/balance", "1703123456789")
    msg = "1703123456789GET/trade-api/v2/portfolio/balance"
    assert verify_signature(_key().public_key(), msg, headers[HEADER_SIGNATURE])


def _check_headers(name: Any) -> None:
    """The signer makes exactly the three §3.1 headers, and a signed request carries the one named, whatever its
    spelling (HTTP field names are case-insensitive), with its value: the key id, the 13-digit ms timestamp, or a
    signature that verifies over the path without its query (ADR 0477)."""
    assert isinstance(name, str), f"header name must be a string, got {name!r}"
    creds = load_credentials(SAMPLE_KEY_ID, _pem(serialization.PrivateFormat.PKCS8))
    signer = KalshiSigner(creds, now_ms=lambda: 1703123456789)
    headers = signer.headers("GET", "/trade-api/v2/portfolio/balance")
    assert set(headers) == {HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE}, f"headers {sorted(headers)}"
    canonical = {h.lower(): h for h in headers}.get(name.lower())
    assert canonical is not None, f"header {name} is not one the signer sends: {sorted(headers)}"
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(handler)
    with httpx.Client(base_url="https://kalshi.test", transport=transport, auth=KalshiAuth(signer)) as client:
        client.get("/trade-api/v2/portfolio/balance", params={"limit": "5"})
    assert len(sent) == 1 and name in sent[0].headers, f"request sent without {name}: {dict(sent[0].headers)}"
    value = sent[0].headers[name]
    if canonical == HEADER_KEY:
        assert value == SAMPLE_KEY_ID, f"{name}: {value!r}"
    elif canonical == HEADER_TIMESTAMP:
        assert value == "1703123456789", f"{name}: {value!r}"
    else:
        message = "1703123456789GET/trade-api/v2/portfolio/balance"
        assert verify_signature(_key().public_key(), message, value), f"{name} does not verify over {message!r}"


def _signed_timestamp(epoch_ms: int) -> str:
    creds = load_credentials(SAMPLE_KEY_ID, _pem(serialization.PrivateFormat.PKCS8))
    return KalshiSigner(creds, now_ms=lambda: epoch_ms).headers("GET", "/trade-api/v2/portfolio/balance")[
        HEADER_TIMESTAMP
    ]


@checker("api.json", "kalshi_signing", split=split)
def check(case: dict[str, Any], ctx: Any) -> None:
    section, data = case["section"], case["data"]
    if section == "composition":
        _check_composition(data)
    elif section == "verify":
        got = verify_signature(case["pem"], data["message"], data["signature_b64"])
        assert got is bool(data["expected_valid"]), f"verify({data['message']!r}) = {got}"
    elif section == "public_key":
        load_public_key(data)
    elif section == "algorithm":
        _check_algorithm(data)
    elif section == "headers":
        _check_headers(data)
    elif section == "timestamp_pattern":
        from paulp.adapters.kalshi.signing import wall_clock_ms

        ts = _signed_timestamp(wall_clock_ms())
        assert re.fullmatch(data, ts), f"timestamp {ts!r} does not match {data!r}"
    elif section == "timestamp_unit":
        assert "millisecond" in data, f"cannot interpret timestamp unit {data!r}"
        assert _signed_timestamp(1703123456789) == "1703123456789"
    elif section == "credential_failures":
        _check_credential_failure(data)
    elif section == "key_formats_accepted":
        _check_key_format(data)
    elif section == "key_id_trimmed":
        creds = load_credentials(data["input"], _pem(serialization.PrivateFormat.PKCS8))
        headers = auth_headers(creds, "GET", "/trade-api/v2/portfolio/balance", "1703123456789")
        assert headers[HEADER_KEY] == data["header_value"], f"{headers[HEADER_KEY]!r} != {data['header_value']!r}"
    elif section == "api_key_format":
        valid = bool(data["valid"])
        assert is_valid_key_id(data["value"]) is valid, f"key id {data['value']!r} validity should be {valid}"
        try:
            load_credentials(data["value"], _pem(serialization.PrivateFormat.PKCS8))
            accepted = True
        except KalshiCredentialsError:
            accepted = False
        assert accepted is valid, f"load_credentials accepted={accepted} for {data['value']!r}"
    elif section == "requires_signature":
        got = requires_signature(data["path"])
        assert got is bool(data["signed"]), f"requires_signature({data['path']!r}) = {got}"
    else:
        raise AssertionError(f"kalshi_signing: cannot interpret section {case.get('key', section)!r}: {data!r:.200}")
