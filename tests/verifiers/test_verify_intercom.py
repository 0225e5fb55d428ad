"""Intercom X-Hub-Signature (sha1=, HMAC-SHA1 of the raw body)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.intercom import verify_intercom
from webhooks.raw import RawRequest

SECRET = "client-secret"
BODY = (
    b'{"type":"notification_event","app_id":"a86dr8yl","id":"notif_1","topic":"ping",'
    b'"data":{"type":"notification_event_data","item":{}},"delivery_attempts":1,'
    b'"first_sent_at":1571080403,"created_at":1571080403}'
)
FUZZ = settings(max_examples=200, deadline=None, database=None)


def sign(body: bytes = BODY, secret: str = SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post(signature: str | None, body: bytes = BODY) -> RawRequest:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "intercom-parrot-service-client/1.0",
    }
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    return RawRequest.build("POST", "https://hub.example.com/intercom", headers, body)


def test_accepts_signed_body() -> None:
    verify_intercom(post(sign()), SECRET)


def test_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError):
        verify_intercom(post(sign(), BODY.replace(b"ping", b"pong")), SECRET)


def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify_intercom(post(sign(secret="other")), SECRET)


def test_rejects_missing_header() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_intercom(post(None), SECRET)


@pytest.mark.parametrize(
    "signature",
    [sign()[len("sha1=") :], "sha256=" + "0" * 64, "sha1=é", "sha1="],
    ids=["no-prefix", "wrong-algorithm", "non-ascii", "empty-digest"],
)
def test_rejects_garbage_header(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_intercom(post(signature), SECRET)


def test_accepts_any_secret_of_a_rotation() -> None:
    verify_intercom(post(sign(secret="new")), ["old", "new"])


@pytest.mark.parametrize("secret", ["", "\t", []])
def test_refuses_a_missing_secret(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="client secret"):
        verify_intercom(post(sign()), secret)


@FUZZ
@given(signature=st.one_of(st.text(), st.text().map(lambda s: "sha1=" + s)), body=st.binary())
def test_never_raises_anything_but_webhook_errors(signature: str, body: bytes) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        verify_intercom(post(signature, body), SECRET)
