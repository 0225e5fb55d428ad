"""Slack v0 request signing with its five-minute window."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.raw import RawRequest
from webhooks.slack import verify_slack

# The vector from protocols.md §5.3 (Slack's docs, recomputed with slack_sdk).
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TS = 1531420618
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = datetime.fromtimestamp(TS, UTC)
FUZZ = settings(max_examples=200, deadline=None, database=None)


def sign(ts: int = TS, body: bytes = BODY, secret: str = SECRET) -> str:
    message = b"v0:" + str(ts).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post(headers: dict[str, str], body: bytes = BODY) -> RawRequest:
    return RawRequest.build("POST", "https://hub.example.com/slack", headers, body, received_at=NOW)


def signed(ts: int = TS, signature: str | None = None) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": signature or sign(ts)}


def test_vector() -> None:
    assert sign() == SIGNATURE
    verify_slack(post(signed(signature=SIGNATURE)), SECRET)


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_window_edges(offset: int, ok: bool) -> None:
    raw = post(signed(TS + offset))
    if ok:
        verify_slack(raw, SECRET, now=NOW)
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify_slack(raw, SECRET, now=NOW)


def test_window_defaults_to_received_at() -> None:
    raw = RawRequest.build(
        "POST",
        "https://hub.example.com/slack",
        signed(),
        BODY,
        received_at=NOW + timedelta(minutes=6),
    )
    with pytest.raises(SignatureError, match="too old"):
        verify_slack(raw, SECRET)


def test_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError):
        verify_slack(post(signed(), BODY + b"&x=1"), SECRET)


def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify_slack(post(signed(signature=sign(secret="other"))), SECRET)


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_rejects_missing_header(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify_slack(post(headers), SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        signed(signature=SIGNATURE[3:]),
        signed(signature="v1=" + SIGNATURE[3:]),
        signed(signature="v0=é"),
        {**signed(), "X-Slack-Request-Timestamp": "1531420618.0"},
        {**signed(), "X-Slack-Request-Timestamp": "١٥٣١٤٢٠٦١٨"},
    ],
    ids=["no-prefix", "wrong-version", "non-ascii", "float-ts", "non-ascii-digits"],
)
def test_rejects_garbage_header(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify_slack(post(headers), SECRET)


def test_accepts_any_secret_of_a_rotation() -> None:
    verify_slack(post(signed(signature=sign(secret="new"))), ["old", "new"])


@pytest.mark.parametrize("secret", ["", [], ["ok", ""]])
def test_refuses_a_missing_secret(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="signing secret"):
        verify_slack(post(signed()), secret)


@FUZZ
@given(
    ts=st.one_of(st.text(), st.integers().map(str)),
    signature=st.one_of(st.text(), st.text().map(lambda s: "v0=" + s)),
    body=st.binary(),
)
def test_never_raises_anything_but_webhook_errors(ts: str, signature: str, body: bytes) -> None:
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
    with contextlib.suppress(SignatureError, PayloadError):
        verify_slack(post(headers, body), SECRET)
