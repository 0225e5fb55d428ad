"""HubSpot v1/v2/v3: published vectors, the official SDK as signer, one test per failure."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hubspot.utils.signature import Signature
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.errors import PayloadError, SignatureError
from webhooks.hubspot import v3_uri, verify_hubspot
from webhooks.raw import RawRequest

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    '"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
TS_MS = 1700000000000
SENT_AT = datetime.fromtimestamp(TS_MS / 1000, UTC)
FUZZ = settings(max_examples=200, deadline=None, database=None)


def request(
    headers: dict[str, str], body: str | bytes = BODY, method: str = "POST", url: str = URI
) -> RawRequest:
    data = body.encode() if isinstance(body, str) else body
    return RawRequest.build(method, url, headers, data, received_at=SENT_AT)


def v1(signature: str) -> dict[str, str]:
    return {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v1"}


def v2(signature: str) -> dict[str, str]:
    return {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"}


def v3(signature: str, ts: int = TS_MS) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(ts)}


def sdk_v3(body: str = BODY, url: str = URI, ts: int = TS_MS, secret: str = SECRET) -> str:
    return Signature.get_signature(secret, body, "v3", url, "POST", str(ts))


# --- published vectors (protocols.md §1.2) ---------------------------------------------


def test_v1_vector() -> None:
    sig = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert verify_hubspot(request(v1(sig)), SECRET) == "v1"


def test_v2_vector_get_with_empty_body() -> None:
    sig = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert verify_hubspot(request(v2(sig), body=b"", method="GET"), SECRET) == "v2"


def test_v2_vector_post_with_body() -> None:
    sig = "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    raw = request(v2(sig), body='{"example_field":"example_value"}')
    assert verify_hubspot(raw, SECRET) == "v2"


def test_v3_vector() -> None:
    sig = "/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE="
    assert verify_hubspot(request(v3(sig)), SECRET) == "v3"


# --- the official SDK as the signer ----------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_accepts_sdk_signature_v1_v2(version: str) -> None:
    sig = Signature.get_signature(SECRET, BODY, version, URI, "POST")
    headers = {"X-HubSpot-Signature": sig, "X-HubSpot-Signature-Version": version}
    assert verify_hubspot(request(headers), SECRET) == version


@FUZZ
@given(body=st.text(), path=st.text(alphabet="abcXYZ019-_/%?=&"), secret=st.text(min_size=1))
def test_accepts_any_sdk_v3_signature(body: str, path: str, secret: str) -> None:
    if not secret.strip():
        return
    url = URI + "/" + path
    raw = request(v3(sdk_v3(body, url, secret=secret)), body=body, url=url)
    assert verify_hubspot(raw, secret) == "v3"


def test_v3_accepts_uri_signed_with_the_documented_decoding() -> None:
    url = "https://www.example.com/webhook_uri%3Aa%2Fb%40c%3bd?q=x%20y%26z%3D1%2c2"
    decoded = "https://www.example.com/webhook_uri:a/b@c;d?q=x%20y%26z%3D1,2"
    assert v3_uri(url) == decoded
    raw = request(v3(sdk_v3(url=decoded)), url=url)
    assert verify_hubspot(raw, SECRET) == "v3"


def test_v3_rejects_uri_with_an_escape_outside_the_documented_subset_decoded() -> None:
    url = URI + "?q=x%20y"
    raw = request(v3(sdk_v3(url=URI + "?q=x y")), url=url)
    with pytest.raises(SignatureError):
        verify_hubspot(raw, SECRET)


# --- the v3 window: five minutes both ways ---------------------------------------------


@pytest.mark.parametrize(("offset", "ok"), [(-299, True), (-301, False), (299, True), (301, False)])
def test_v3_window_edges(offset: int, ok: bool) -> None:
    ts = TS_MS + offset * 1000
    raw = request(v3(sdk_v3(ts=ts), ts=ts))
    if ok:
        assert verify_hubspot(raw, SECRET, now=SENT_AT) == "v3"
    else:
        with pytest.raises(SignatureError, match="timestamp"):
            verify_hubspot(raw, SECRET, now=SENT_AT)


def test_v3_rejects_a_timestamp_in_seconds() -> None:
    ts = TS_MS // 1000
    with pytest.raises(SignatureError, match="too old"):
        verify_hubspot(request(v3(sdk_v3(ts=ts), ts=ts)), SECRET)


# --- one test per failure mode ---------------------------------------------------------


def test_rejects_tampered_body() -> None:
    raw = request(v3(sdk_v3()), body=BODY.replace("123", "124"))
    with pytest.raises(SignatureError):
        verify_hubspot(raw, SECRET)


def test_rejects_wrong_secret() -> None:
    with pytest.raises(SignatureError):
        verify_hubspot(request(v3(sdk_v3())), "another-secret")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-HubSpot-Signature-Version": "v1"},
        {"X-HubSpot-Signature": "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"},
        {"X-HubSpot-Signature-v3": "/pXDSgWeGksQpwCsgqd43P0eY6gBIse9UX0tfkudUrE="},
        {"X-HubSpot-Signature-v3": "", "X-HubSpot-Request-Timestamp": str(TS_MS)},
    ],
    ids=["none", "version-only", "v1-without-version", "v3-without-timestamp", "v3-empty"],
)
def test_rejects_missing_headers(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_hubspot(request(headers), SECRET)


@pytest.mark.parametrize(
    "headers",
    [
        v3(sdk_v3(), ts=TS_MS) | {"X-HubSpot-Request-Timestamp": "1.7e12"},
        v3(sdk_v3(), ts=TS_MS) | {"X-HubSpot-Request-Timestamp": "+1700000000000"},
        v3("é" * 44),
        v1("not-hex") | {"X-HubSpot-Signature-Version": "v9"},
        v1("zz"),
    ],
    ids=["float-ts", "signed-ts", "non-ascii-sig", "unknown-version", "garbage-v1"],
)
def test_rejects_garbage_headers(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify_hubspot(request(headers), SECRET)


def test_prefers_v3_when_present() -> None:
    headers = v1("232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de")
    headers |= v3("AAAA")
    with pytest.raises(SignatureError, match="v3"):
        verify_hubspot(request(headers), SECRET)


def test_require_v3_refuses_a_valid_v1_request() -> None:
    raw = request(v1("232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"))
    with pytest.raises(SignatureError, match="v3"):
        verify_hubspot(raw, SECRET, require_v3=True)


def test_accepts_any_secret_of_a_rotation() -> None:
    assert verify_hubspot(request(v3(sdk_v3())), ["old-secret", SECRET]) == "v3"


@pytest.mark.parametrize("secret", ["", "   ", [], [SECRET, ""]])
def test_refuses_a_missing_secret(secret: str | list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        verify_hubspot(request(v3(sdk_v3())), secret)


def test_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_hubspot(request(v3(sdk_v3())), SECRET, now=datetime(2023, 11, 14))


# --- totality --------------------------------------------------------------------------

HEADER_NAMES = [
    "x-hubspot-signature",
    "x-hubspot-signature-version",
    "x-hubspot-signature-v3",
    "x-hubspot-request-timestamp",
]


@FUZZ
@given(
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.text()),
    body=st.binary(),
    method=st.text(),
    url=st.text(),
    require_v3=st.booleans(),
)
def test_never_raises_anything_but_webhook_errors(
    headers: dict[str, str], body: bytes, method: str, url: str, require_v3: bool
) -> None:
    raw = RawRequest.build(method or "POST", url, headers, body, received_at=SENT_AT)
    with contextlib.suppress(SignatureError, PayloadError):
        verify_hubspot(raw, SECRET, require_v3=require_v3, now=SENT_AT + timedelta(seconds=1))
