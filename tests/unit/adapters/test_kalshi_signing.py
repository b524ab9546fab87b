"""Kalshi RSA-PSS request signing (api-and-security §3.1). Keys are generated per test run, never stored."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from paulp.adapters.kalshi.signing import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiAuth,
    KalshiCredentialsError,
    KalshiSigner,
    auth_headers,
    credentials_from_env,
    load_credentials,
    requires_signature,
    sign_message,
    signing_message,
    verify_signature,
)

KEY_ID = "f5dab4a7-1cc5-437f-bc39-5cbf2351d613"


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat) -> str:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()


def test_signing_message_when_query_and_lowercase_method_then_path_only_uppercase_method() -> None:
    msg = signing_message("1703123456789", "get", "/trade-api/v2/portfolio/orders?limit=5")
    assert msg == "1703123456789GET/trade-api/v2/portfolio/orders"


def test_signing_message_when_full_url_then_host_dropped() -> None:
    msg = signing_message("1703123456789", "GET", "https://demo.example/trade-api/v2/portfolio/balance?x=1")
    assert msg == "1703123456789GET/trade-api/v2/portfolio/balance"


def test_signing_message_when_bare_path_has_hash_then_only_query_is_stripped() -> None:
    """§3.1: strip from the first '?', nothing more; the classifier then sees '/portfolio' after the '#'."""
    assert signing_message("1703123456789", "GET", "/trade-api/v2/portfolio/balance#x") == (
        "1703123456789GET/trade-api/v2/portfolio/balance#x"
    )
    assert signing_message("1703123456789", "GET", "/trade-api/v2/markets/A#B?x=1") == (
        "1703123456789GET/trade-api/v2/markets/A#B"
    )
    assert requires_signature("/trade-api/v2/markets#/portfolio") is True


@pytest.mark.parametrize("fmt", [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL])
def test_load_credentials_when_pkcs8_or_pkcs1_then_signatures_verify(
    private_key: rsa.RSAPrivateKey, fmt: serialization.PrivateFormat
) -> None:
    creds = load_credentials(KEY_ID, _pem(private_key, fmt))
    sig = sign_message(creds.private_key, "hello")
    assert verify_signature(private_key.public_key(), "hello", sig)


def test_sign_message_when_verified_with_spec_parameters_then_pss_sha256_salt_32(
    private_key: rsa.RSAPrivateKey,
) -> None:
    sig = base64.b64decode(sign_message(private_key, "m"), validate=True)
    strict = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    private_key.public_key().verify(sig, b"m", strict, hashes.SHA256())  # raises on mismatch


def test_verify_signature_when_message_differs_or_garbage_then_false(private_key: rsa.RSAPrivateKey) -> None:
    sig = sign_message(private_key, "a")
    assert not verify_signature(private_key.public_key(), "b", sig)
    assert not verify_signature(private_key.public_key(), "a", "not base64!!")


def test_auth_headers_when_key_id_padded_then_trimmed_and_three_headers(private_key: rsa.RSAPrivateKey) -> None:
    creds = load_credentials(f"  {KEY_ID} \n", _pem(private_key, serialization.PrivateFormat.PKCS8))
    headers = auth_headers(creds, "POST", "/trade-api/v2/portfolio/orders", "1772400000000")
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1772400000000"
    expected_msg = "1772400000000POST/trade-api/v2/portfolio/orders"
    assert verify_signature(private_key.public_key(), expected_msg, headers[HEADER_SIGNATURE])


def test_auth_headers_when_timestamp_in_seconds_then_raises(private_key: rsa.RSAPrivateKey) -> None:
    creds = load_credentials(KEY_ID, _pem(private_key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(ValueError, match="13 decimal digits"):
        auth_headers(creds, "GET", "/trade-api/v2/portfolio/balance", "1703123456")


def test_signer_when_clock_injected_then_timestamp_is_clock_ms(private_key: rsa.RSAPrivateKey) -> None:
    creds = load_credentials(KEY_ID, _pem(private_key, serialization.PrivateFormat.PKCS8))
    headers = KalshiSigner(creds, now_ms=lambda: 1703123456789).headers("GET", "/trade-api/v2/portfolio/balance")
    assert headers[HEADER_TIMESTAMP] == "1703123456789"


@pytest.mark.parametrize(
    ("api_key", "pem", "mentions"),
    [
        ("", "<pem>", "KALSHI_API_KEY"),
        ("   ", "<pem>", "KALSHI_API_KEY"),
        (None, "<pem>", "KALSHI_API_KEY"),
        (KEY_ID, "", "KALSHI_PRIVATE_KEY"),
        (KEY_ID, "not a pem", "KALSHI_PRIVATE_KEY"),
        ("not-a-uuid", "<pem>", "KALSHI_API_KEY"),
    ],
)
def test_load_credentials_when_missing_or_invalid_then_fails_closed_naming_variable(
    private_key: rsa.RSAPrivateKey, api_key: str | None, pem: str, mentions: str
) -> None:
    real_pem = pem.replace("<pem>", _pem(private_key, serialization.PrivateFormat.PKCS8))
    with pytest.raises(KalshiCredentialsError, match=mentions) as err:
        load_credentials(api_key, real_pem)
    assert err.value.code == "venue_credentials_invalid"
    assert "PRIVATE KEY-----" not in str(err.value)


def test_load_credentials_when_key_is_not_rsa_then_raises() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    with pytest.raises(KalshiCredentialsError, match="not an RSA"):
        load_credentials(KEY_ID, ec_pem)


def test_load_credentials_when_pem_has_escaped_newlines_then_parses(private_key: rsa.RSAPrivateKey) -> None:
    one_line = _pem(private_key, serialization.PrivateFormat.PKCS8).replace("\n", "\\n")
    assert load_credentials(KEY_ID, one_line).key_id == KEY_ID


@pytest.mark.parametrize("newline", ["\\r\\n", "\r\n"])
def test_load_credentials_when_pem_has_windows_line_ends_escaped_or_not_then_parses(
    private_key: rsa.RSAPrivateKey, newline: str
) -> None:
    pem = _pem(private_key, serialization.PrivateFormat.TraditionalOpenSSL).replace("\n", newline)
    creds = load_credentials(KEY_ID, pem)
    sig = sign_message(creds.private_key, "m")
    assert verify_signature(private_key.public_key(), "m", sig)


def test_load_credentials_when_padded_with_bom_then_trimmed_like_js_trim(private_key: rsa.RSAPrivateKey) -> None:
    """§3.1 "trimmed" is the source's trim(): a BOM pasted before the key id or the PEM goes (ADR 0464)."""
    pem = _pem(private_key, serialization.PrivateFormat.PKCS8)
    creds = load_credentials("\ufeff" + KEY_ID + "\u3000", "\ufeff" + pem)
    headers = auth_headers(creds, "GET", "/trade-api/v2/portfolio/balance", "1703123456789")
    assert headers[HEADER_KEY] == KEY_ID
    public = private_key.public_key()
    assert verify_signature(public, "1703123456789GET/trade-api/v2/portfolio/balance", headers[HEADER_SIGNATURE])
    with pytest.raises(KalshiCredentialsError, match="KALSHI_PRIVATE_KEY"):
        load_credentials(KEY_ID, "\ufeff\u2028")


@pytest.mark.parametrize("padded", [KEY_ID + "\x1c", "\x1f" + KEY_ID, KEY_ID + "\x85"])
def test_load_credentials_when_padded_with_chars_trim_keeps_then_refused(
    private_key: rsa.RSAPrivateKey, padded: str
) -> None:
    """Python's strip() also removes U+001C-U+001F and U+0085; trim() keeps them, so the key id is not a UUID."""
    with pytest.raises(KalshiCredentialsError, match="KALSHI_API_KEY"):
        load_credentials(padded, _pem(private_key, serialization.PrivateFormat.PKCS8))


def test_credentials_repr_when_printed_then_hides_key(private_key: rsa.RSAPrivateKey) -> None:
    creds = load_credentials(KEY_ID, _pem(private_key, serialization.PrivateFormat.PKCS8))
    assert "private_key" not in repr(creds)


@pytest.mark.parametrize(
    ("path", "signed"),
    [
        ("/trade-api/v2/markets", False),
        ("/trade-api/v2/markets/KX-1/orderbook", False),
        ("/trade-api/v2/series/KXHIGHNY", False),
        ("/trade-api/v2/historical/cutoff", False),
        ("/trade-api/v2/exchange/status", False),
        ("/trade-api/v2/portfolio/balance", True),
        ("/trade-api/v2/portfolio/orders?ticker=X", True),
        ("/trade-api/v2/something-new", True),
        ("/trade-api/v2/markets?x=/portfolio", False),
    ],
)
def test_requires_signature_when_path_classified_then_matches_rules(path: str, signed: bool) -> None:
    assert requires_signature(path) is signed


def _recording_client(auth: KalshiAuth, sent: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    return httpx.Client(base_url="https://kalshi.test", transport=httpx.MockTransport(handler), auth=auth)


def test_kalshi_auth_when_no_credentials_and_signed_path_then_raises_before_sending() -> None:
    sent: list[httpx.Request] = []
    with _recording_client(KalshiAuth(None), sent) as client:
        with pytest.raises(KalshiCredentialsError):
            client.get("/trade-api/v2/portfolio/balance")
        client.get("/trade-api/v2/markets")
    assert [r.url.path for r in sent] == ["/trade-api/v2/markets"]


def test_kalshi_auth_when_signer_then_request_carries_verifiable_signature_of_path(
    private_key: rsa.RSAPrivateKey,
) -> None:
    creds = load_credentials(KEY_ID, _pem(private_key, serialization.PrivateFormat.TraditionalOpenSSL))
    sent: list[httpx.Request] = []
    with _recording_client(KalshiAuth(KalshiSigner(creds, now_ms=lambda: 1772400000000)), sent) as client:
        client.post("/trade-api/v2/portfolio/orders", params={"a": "1"}, json={"ticker": "X"})
    [req] = sent
    msg = "1772400000000POST/trade-api/v2/portfolio/orders"
    assert verify_signature(private_key.public_key(), msg, req.headers[HEADER_SIGNATURE])


def test_credentials_from_env_when_both_missing_then_names_both() -> None:
    with pytest.raises(KalshiCredentialsError, match="KALSHI_API_KEY and KALSHI_PRIVATE_KEY"):
        credentials_from_env({})
