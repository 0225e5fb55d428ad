"""Mailgun signature fields inside JSON, form and multipart bodies."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.mailgun import verify_mailgun
from webhooks.raw import RawRequest

KEY = "key-signing-0123456789"
TS = 1700000000
TOKEN = "a" * 50
NOW = datetime.fromtimestamp(TS, UTC)
BOUNDARY = "XyZ-boundary"
FUZZ = settings(max_examples=200, deadline=None, database=None)


def sign(ts: str = str(TS), token: str = TOKEN, key: str = KEY) -> str:
    return hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()


def fields(ts: int = TS, signature: str | None = None) -> dict[str, str]:
    return {"timestamp": str(ts), "token": TOKEN, "signature": signature or sign(str(ts))}


def post(content_type: str, body: bytes) -> RawRequest:
    headers = {"Content-Type": content_type}
    return RawRequest.build("POST", "https://hub.example.com/mg", headers, body, received_at=NOW)


def event(signature: dict[str, Any]) -> RawRequest:
    document = {"signature": signature, "event-data": {"event": "delivered", "id": "ev1"}}
    return post("application/json", json.dumps(document).encode())


def form(values: dict[str, str]) -> RawRequest:
    values = {"recipient": "support@example.com", "subject": "Hi", **values}
    return post("application/x-www-form-urlencoded", urlencode(values).encode())


def multipart(values: dict[str, str]) -> RawRequest:
    chunks = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in {"subject": "Hi", **values}.items()
    ]
    attachment = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment-1"; '
        f'filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    )
    body = "".join(chunks).encode() + attachment.encode() + b"\xff\x00\r\n"
    body += f"--{BOUNDARY}--\r\n".encode()
    return post(f'multipart/form-data; boundary="{BOUNDARY}"', body)


@pytest.mark.parametrize("build", [event, form, multipart], ids=["json", "form", "multipart"])
def test_accepts_signed_fields_and_returns_the_token(build: Any) -> None:
    assert verify_mailgun(build(fields()), KEY) == TOKEN


def test_accepts_a_numeric_json_timestamp() -> None:
    assert verify_mailgun(event({**fields(), "timestamp": TS}), KEY) == TOKEN


def test_signature_covers_only_timestamp_and_token() -> None:
    """Mailgun's design: the event data is unsigned, hence the hub's token cache."""
    document = {"signature": fields(), "event-data": {"event": "failed"}}
    raw = post("application/json", json.dumps(document).encode())
    assert verify_mailgun(raw, KEY) == TOKEN


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_window_edges(offset: int, ok: bool) -> None:
    raw = event(fields(TS + offset))
    if ok:
        verify_mailgun(raw, KEY, now=NOW)
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify_mailgun(raw, KEY, now=NOW)


def test_window_can_be_switched_off() -> None:
    verify_mailgun(event(fields()), KEY, now=NOW + timedelta(days=1), tolerance=None)


def test_rejects_tampered_token() -> None:
    with pytest.raises(SignatureError):
        verify_mailgun(event({**fields(), "token": "b" * 50}), KEY)


def test_rejects_wrong_key() -> None:
    with pytest.raises(SignatureError):
        verify_mailgun(form(fields()), "another-key")


@pytest.mark.parametrize("missing", ["timestamp", "token", "signature"])
def test_rejects_missing_field(missing: str) -> None:
    values = fields()
    del values[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify_mailgun(multipart(values), KEY)


@pytest.mark.parametrize(
    "raw",
    [
        event({**fields(), "signature": 42}),
        event({**fields(), "token": "é" * 50}),
        form({**fields(), "timestamp": "17e8"}),
        post("application/json", b'{"signature": '),
        post("application/json", b"[" * 100_000),
        post("application/json", b'["signature"]'),
        post("application/x-www-form-urlencoded", b"timestamp=\xff"),
        post("multipart/form-data", b"no boundary"),
        post("text/plain", urlencode(fields()).encode()),
    ],
    ids=[
        "signature-not-text",
        "non-ascii-token",
        "float-ts",
        "truncated-json",
        "deep-json",
        "json-array",
        "form-not-utf8",
        "multipart-no-boundary",
        "unsupported-type",
    ],
)
def test_rejects_garbage(raw: RawRequest) -> None:
    with pytest.raises(SignatureError):
        verify_mailgun(raw, KEY)


def test_accepts_any_key_of_a_rotation() -> None:
    assert verify_mailgun(event(fields(signature=sign(key="new"))), [KEY, "new"]) == TOKEN


@pytest.mark.parametrize("key", ["", [], [KEY, " "]])
def test_refuses_a_missing_key(key: str | list[str]) -> None:
    with pytest.raises(ValueError, match="signing key"):
        verify_mailgun(event(fields()), key)


@FUZZ
@given(
    content_type=st.one_of(
        st.text(),
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                f"multipart/form-data; boundary={BOUNDARY}",
            ]
        ),
    ),
    body=st.one_of(
        st.binary(),
        st.dictionaries(st.sampled_from(["timestamp", "token", "signature"]), st.text()).map(
            lambda d: urlencode(d).encode()
        ),
        st.dictionaries(st.text(), st.text()).map(lambda d: json.dumps({"signature": d}).encode()),
    ),
)
def test_never_raises_anything_but_webhook_errors(content_type: str, body: bytes) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        verify_mailgun(post(content_type, body), KEY)
