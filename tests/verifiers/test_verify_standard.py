"""Standard Webhooks through webhooks/standard.py, signed by the standardwebhooks package."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, tzinfo

import pytest
import standardwebhooks.webhooks as package
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from webhooks.errors import PayloadError, SignatureError
from webhooks.raw import RawRequest
from webhooks.standard import make_verifier, verify

# The vector from protocols.md §5.6.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SENT_AT = datetime.fromtimestamp(TS, UTC)
FUZZ = settings(max_examples=200, deadline=None, database=None)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freeze the package's clock (it calls ``datetime.now`` itself) at ``SENT_AT``."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(SENT_AT.timestamp(), tz)

    monkeypatch.setattr(package, "datetime", Frozen)


def headers(signature: str = SIGNATURE, ts: int = TS, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def post(hdrs: dict[str, str], body: str | bytes = BODY) -> RawRequest:
    data = body.encode() if isinstance(body, str) else body
    return RawRequest.build("POST", "https://hub.example.com/sw", hdrs, data)


def sign(ts: int = TS, body: str = BODY, secret: str = SECRET) -> str:
    return Webhook(secret).sign(MSG_ID, datetime.fromtimestamp(ts, UTC), body)


@pytest.mark.usefixtures("frozen_clock")
def test_vector_returns_the_webhook_id() -> None:
    assert sign() == SIGNATURE
    assert verify(post(headers()), make_verifier(SECRET)) == MSG_ID


@pytest.mark.usefixtures("frozen_clock")
def test_rotation_accepts_any_listed_signature() -> None:
    both = sign(secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY") + " " + SIGNATURE
    assert verify(post(headers(both)), make_verifier(SECRET)) == MSG_ID


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_window_edges(offset: int, ok: bool) -> None:
    ts = TS + offset
    raw = post(headers(sign(ts), ts))
    if ok:
        assert verify(raw, make_verifier(SECRET)) == MSG_ID
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify(raw, make_verifier(SECRET))


@pytest.mark.usefixtures("frozen_clock")
def test_rejects_tampered_body() -> None:
    with pytest.raises(SignatureError, match="No matching"):
        verify(post(headers(), BODY.replace("2", "3")), make_verifier(SECRET))


@pytest.mark.usefixtures("frozen_clock")
def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify(post(headers()), make_verifier("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"))


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_rejects_missing_header(missing: str) -> None:
    hdrs = headers()
    del hdrs[missing]
    with pytest.raises(SignatureError, match=missing):
        verify(post(hdrs), make_verifier(SECRET))


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize(
    "hdrs",
    [
        headers("v1" + SIGNATURE[3:]),  # no comma: the package raises a bare ValueError
        headers("v1,a,b"),
        headers("v1,!!!"),
        headers(SIGNATURE, msg_id="\ud800"),
        {**headers(), "webhook-timestamp": "soon"},
        {**headers(), "webhook-timestamp": "nan"},
        headers("v1a," + SIGNATURE[3:]),
    ],
    ids=["no-comma", "two-commas", "not-base64", "surrogate-id", "word-ts", "nan-ts", "v1a-only"],
)
def test_rejects_garbage_header(hdrs: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(post(hdrs), make_verifier(SECRET))


@pytest.mark.usefixtures("frozen_clock")
def test_rejects_body_that_is_not_utf8() -> None:
    with pytest.raises(SignatureError):
        verify(post(headers(), b"\xff"), make_verifier(SECRET))


@pytest.mark.parametrize("secret", ["", "   "])
def test_refuses_a_missing_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        make_verifier(secret)


def test_refuses_a_prefix_only_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        make_verifier("whsec_")


@FUZZ
@given(
    hdrs=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]),
        st.one_of(st.text(), st.text().map(lambda s: "v1," + s), st.integers().map(str)),
    ),
    body=st.binary(),
)
def test_never_raises_anything_but_webhook_errors(hdrs: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(SignatureError, PayloadError):
        verify(post(hdrs, body), make_verifier(SECRET))
