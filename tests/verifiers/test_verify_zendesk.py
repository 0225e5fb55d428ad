"""Zendesk X-Zendesk-Webhook-Signature with its ISO-8601 timestamp."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.raw import RawRequest
from webhooks.zendesk import TEST_SECRET, verify_zendesk

# The vector from protocols.md §5.1, signed with Zendesk's static test secret.
TS = "2021-03-25T05:09:27Z"
BODY = b'{"event":"ticket.updated","id":123}'
SIGNATURE = "S/RDdU2ERmj7LHDDoWJ2onPYH+t7/f2+LTM4dL7UiLM="
NOW = datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC)
FUZZ = settings(max_examples=200, deadline=None, database=None)


def sign(ts: str = TS, body: bytes = BODY, secret: str = TEST_SECRET) -> str:
    digest = hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def post(headers: dict[str, str], body: bytes = BODY) -> RawRequest:
    return RawRequest.build("POST", "https://hub.example.com/zd", headers, body, received_at=NOW)


def signed(ts: str = TS, signature: str | None = None) -> dict[str, str]:
    return {
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
        "X-Zendesk-Webhook-Signature": signature or sign(ts),
    }


def test_vector() -> None:
    verify_zendesk(post(signed(signature=SIGNATURE)), TEST_SECRET)


def test_accepts_empty_body_of_a_get() -> None:
    raw = RawRequest.build(
        "GET", "https://hub.example.com/zd", signed(signature=sign(body=b"")), b""
    )
    verify_zendesk(raw, TEST_SECRET, now=NOW)


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_window_edges(offset: int, ok: bool) -> None:
    ts = (NOW + timedelta(seconds=offset)).isoformat().replace("+00:00", "Z")
    raw = post(signed(ts))
    if ok:
        verify_zendesk(raw, TEST_SECRET, now=NOW)
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify_zendesk(raw, TEST_SECRET, now=NOW)


def test_window_can_be_widened_or_switched_off() -> None:
    later = NOW + timedelta(days=3)
    verify_zendesk(post(signed()), TEST_SECRET, now=later, tolerance=timedelta(days=4))
    verify_zendesk(post(signed()), TEST_SECRET, now=later, tolerance=None)


def test_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError):
        verify_zendesk(post(signed(), BODY.replace(b"123", b"124")), TEST_SECRET)


def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify_zendesk(post(signed()), "real-signing-secret")


@pytest.mark.parametrize(
    "missing", ["X-Zendesk-Webhook-Signature-Timestamp", "X-Zendesk-Webhook-Signature"]
)
def test_rejects_missing_header(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        verify_zendesk(post(headers), TEST_SECRET)


def test_rejects_stale_timestamp() -> None:
    with pytest.raises(SignatureError, match="too old"):
        verify_zendesk(post(signed()), TEST_SECRET, now=NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    "headers",
    [
        signed("yesterday"),
        signed(signature="é"),
        signed(signature=SIGNATURE.rstrip("=")),
        {**signed(), "X-Zendesk-Webhook-Signature-Timestamp": "2021-03-25T05:09:28Z"},
    ],
    ids=["not-iso", "non-ascii", "unpadded", "timestamp-swapped"],
)
def test_rejects_garbage_header(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify_zendesk(post(headers), TEST_SECRET)


def test_naive_timestamp_is_taken_as_utc() -> None:
    verify_zendesk(post(signed("2021-03-25T05:09:27")), TEST_SECRET, now=NOW)


def test_accepts_any_secret_of_a_rotation() -> None:
    verify_zendesk(post(signed(signature=sign(secret="new"))), [TEST_SECRET, "new"])


@pytest.mark.parametrize("secret", ["", [], [" "]])
def test_refuses_a_missing_secret(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="signing secret"):
        verify_zendesk(post(signed()), secret)


@FUZZ
@given(
    ts=st.one_of(
        st.text(),
        st.datetimes().map(lambda d: d.isoformat() + "-14:00"),
        st.datetimes().map(lambda d: d.isoformat() + "Z"),
    ),
    signature=st.text(),
    body=st.binary(),
    window=st.booleans(),
)
def test_never_raises_anything_but_webhook_errors(
    ts: str, signature: str, body: bytes, window: bool
) -> None:
    headers = {
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
        "X-Zendesk-Webhook-Signature": signature,
    }
    tolerance = timedelta(minutes=5) if window else None
    with contextlib.suppress(SignatureError, PayloadError):
        verify_zendesk(post(headers, body), TEST_SECRET, tolerance=tolerance)
