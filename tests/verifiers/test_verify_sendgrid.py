"""SendGrid Inbound Parse: Basic credentials from the Parse URL, and ECDSA policies."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.raw import RawRequest
from webhooks.sendgrid import load_public_key, verify_sendgrid_basic_auth, verify_sendgrid_signature

CREDENTIALS = [("parse", "s3cret:with-colon")]
BODY = b'--b\r\nContent-Disposition: form-data; name="subject"\r\n\r\nHi\r\n--b--\r\n'
TS = 1700000000
NOW = datetime.fromtimestamp(TS, UTC)
FUZZ = settings(max_examples=200, deadline=None, database=None)
PRIVATE = ec.generate_private_key(ec.SECP256R1())
OTHER = ec.generate_private_key(ec.SECP256R1())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def post(headers: dict[str, str], body: bytes = BODY) -> RawRequest:
    headers = {"Content-Type": "multipart/form-data; boundary=b", **headers}
    return RawRequest.build("POST", "https://hub.example.com/parse", headers, body, received_at=NOW)


def public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def ecdsa(
    ts: int = TS, body: bytes = BODY, key: ec.EllipticCurvePrivateKey = PRIVATE
) -> dict[str, str]:
    signature = key.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(ts),
    }


KEYS = [load_public_key(public_b64(PRIVATE))]

# --- Basic credentials -----------------------------------------------------------------


def test_basic_accepts_configured_credentials() -> None:
    verify_sendgrid_basic_auth(post({"Authorization": basic(*CREDENTIALS[0])}), CREDENTIALS)


def test_basic_accepts_any_pair_of_a_rotation() -> None:
    raw = post({"Authorization": basic("parse", "new")})
    verify_sendgrid_basic_auth(raw, [*CREDENTIALS, ("parse", "new")])


@pytest.mark.parametrize(
    "header",
    [basic("parse", "wrong"), basic("other", "s3cret:with-colon"), basic("parse", "s3cret")],
    ids=["wrong-password", "wrong-user", "truncated-password"],
)
def test_basic_rejects_wrong_credentials(header: str) -> None:
    with pytest.raises(SignatureError, match="wrong"):
        verify_sendgrid_basic_auth(post({"Authorization": header}), CREDENTIALS)


def test_basic_rejects_missing_header() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_sendgrid_basic_auth(post({}), CREDENTIALS)


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic é"],
    ids=["bearer", "not-base64", "no-colon", "non-ascii"],
)
def test_basic_rejects_garbage_header(header: str) -> None:
    with pytest.raises(SignatureError):
        verify_sendgrid_basic_auth(post({"Authorization": header}), CREDENTIALS)


@pytest.mark.parametrize(
    "credentials", [[], [("parse", "")], [("", "x")], [*CREDENTIALS, (" ", "x")]]
)
def test_basic_refuses_missing_credentials(credentials: list[tuple[str, str]]) -> None:
    with pytest.raises(ValueError, match="credentials"):
        verify_sendgrid_basic_auth(post({"Authorization": basic("parse", "x")}), credentials)


# --- ECDSA -----------------------------------------------------------------------------


def test_ecdsa_accepts_signed_body() -> None:
    verify_sendgrid_signature(post(ecdsa()), KEYS)


def test_ecdsa_accepts_any_key_of_a_rotation() -> None:
    keys = [load_public_key(public_b64(OTHER)), *KEYS]
    verify_sendgrid_signature(post(ecdsa()), keys)


def test_ecdsa_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError):
        verify_sendgrid_signature(post(ecdsa(), BODY.replace(b"Hi", b"Ho")), KEYS)


def test_ecdsa_rejects_wrong_key() -> None:
    with pytest.raises(SignatureError):
        verify_sendgrid_signature(post(ecdsa(key=OTHER)), KEYS)


@pytest.mark.parametrize(
    "missing", ["X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"]
)
def test_ecdsa_rejects_missing_header(missing: str) -> None:
    headers = ecdsa()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify_sendgrid_signature(post(headers), KEYS)


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_ecdsa_window_edges_when_configured(offset: int, ok: bool) -> None:
    raw = post(ecdsa(TS + offset))
    five = timedelta(minutes=5)
    if ok:
        verify_sendgrid_signature(raw, KEYS, now=NOW, tolerance=five)
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify_sendgrid_signature(raw, KEYS, now=NOW, tolerance=five)


@pytest.mark.parametrize(
    "headers",
    [
        {**ecdsa(), "X-Twilio-Email-Event-Webhook-Signature": "!!!"},
        {**ecdsa(), "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(b"x" * 70).decode()},
        {**ecdsa(), "X-Twilio-Email-Event-Webhook-Timestamp": str(TS + 1)},
    ],
    ids=["not-base64", "not-der", "timestamp-swapped"],
)
def test_ecdsa_rejects_garbage_header(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify_sendgrid_signature(post(headers), KEYS)


def test_ecdsa_refuses_missing_keys() -> None:
    with pytest.raises(ValueError, match="public key"):
        verify_sendgrid_signature(post(ecdsa()), [])


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not base64!",
        base64.b64encode(b"not der").decode(),
        base64.b64encode(
            ed25519.Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode(),
    ],
    ids=["empty", "not-base64", "not-der", "ed25519"],
)
def test_load_public_key_refuses_bad_keys(key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        load_public_key(key)


# --- totality --------------------------------------------------------------------------


@FUZZ
@given(
    header=st.one_of(st.text(), st.binary().map(lambda b: "Basic " + base64.b64encode(b).decode()))
)
def test_basic_never_raises_anything_but_webhook_errors(header: str) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        verify_sendgrid_basic_auth(post({"Authorization": header}), CREDENTIALS)


@FUZZ
@given(
    signature=st.one_of(st.text(), st.binary().map(lambda b: base64.b64encode(b).decode())),
    ts=st.text(),
    body=st.binary(),
)
def test_ecdsa_never_raises_anything_but_webhook_errors(
    signature: str, ts: str, body: bytes
) -> None:
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
    }
    with contextlib.suppress(SignatureError, PayloadError):
        verify_sendgrid_signature(post(headers, body), KEYS, tolerance=timedelta(minutes=5))
