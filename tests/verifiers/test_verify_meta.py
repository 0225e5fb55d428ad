"""Meta X-Hub-Signature-256 and the hub.challenge handshake."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.meta import meta_handshake, verify_meta
from webhooks.raw import RawRequest

SECRET = "app-secret"
# Meta signs unicode-escaped ASCII JSON: "äöå" travels as "\u00e4\u00f6\u00e5".
BODY = json.dumps({"object": "whatsapp_business_account", "name": "äöå"}).encode()
URL = "https://hub.example.com/meta"
FUZZ = settings(max_examples=200, deadline=None, database=None)


def sign(body: bytes = BODY, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(signature: str | None, body: bytes = BODY) -> RawRequest:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return RawRequest.build("POST", URL, headers, body)


def handshake(query: str) -> RawRequest:
    return RawRequest.build("GET", URL + "?" + query, {}, b"")


def test_accepts_signed_body() -> None:
    assert b"\\u00e4" in BODY
    verify_meta(post(sign()), SECRET)


def test_accepts_upper_case_hex_and_prefix() -> None:
    verify_meta(post(sign().upper()), SECRET)


def test_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError):
        verify_meta(post(sign(), BODY.replace(b"whatsapp", b"messenger")), SECRET)


def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify_meta(post(sign(secret="other")), SECRET)


def test_rejects_missing_header() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_meta(post(None), SECRET)


@pytest.mark.parametrize(
    "signature",
    [
        "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
        sign()[len("sha256=") :],
        "sha256=zz",
        "sha256=é",
    ],
    ids=["legacy-sha1", "no-prefix", "not-hex", "non-ascii"],
)
def test_rejects_garbage_header(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_meta(post(signature), SECRET)


def test_accepts_any_secret_of_a_rotation() -> None:
    verify_meta(post(sign(secret="new")), [SECRET, "new"])


@pytest.mark.parametrize("secret", ["", [], ["  "]])
def test_refuses_a_missing_secret(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="App Secret"):
        verify_meta(post(sign()), secret)


# --- handshake -------------------------------------------------------------------------


def test_handshake_returns_the_challenge_verbatim() -> None:
    raw = handshake("hub.mode=subscribe&hub.challenge=0158201444&hub.verify_token=tok%26en")
    assert meta_handshake(raw, "tok&en") == "0158201444"


@pytest.mark.parametrize(
    "query",
    [
        "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=token",
        "hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "hub.mode=subscribe&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=token",
        "",
    ],
    ids=["wrong-mode", "wrong-token", "no-token", "no-challenge", "empty"],
)
def test_handshake_refuses(query: str) -> None:
    with pytest.raises(SignatureError):
        meta_handshake(handshake(query), "token")


def test_handshake_refuses_a_missing_verify_token() -> None:
    with pytest.raises(ValueError, match="verify token"):
        meta_handshake(handshake("hub.mode=subscribe&hub.challenge=1&hub.verify_token="), "")


# --- totality --------------------------------------------------------------------------


@FUZZ
@given(signature=st.one_of(st.text(), st.text().map(lambda s: "sha256=" + s)), body=st.binary())
def test_verify_never_raises_anything_but_webhook_errors(signature: str, body: bytes) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        verify_meta(post(signature, body), SECRET)


@FUZZ
@given(url=st.text())
def test_handshake_never_raises_anything_but_webhook_errors(url: str) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        meta_handshake(RawRequest.build("GET", url, {}, b""), "token")
