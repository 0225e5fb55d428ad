"""Twilio X-Twilio-Signature: twilio-python's vectors, its validator as signer, failures."""

from __future__ import annotations

import contextlib
import hashlib
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from webhooks.errors import PayloadError, SignatureError
from webhooks.raw import RawRequest
from webhooks.twilio import verify_twilio

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
URL_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
FORM = "application/x-www-form-urlencoded"
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_URL = URL + "&bodySHA256=" + hashlib.sha256(JSON_BODY).hexdigest()
FUZZ = settings(max_examples=200, deadline=None, database=None)


def form(
    signature: str | None,
    pairs: list[tuple[str, str]] = PARAMS,
    url: str = URL,
    extra: dict[str, str] | None = None,
) -> RawRequest:
    headers = {"Content-Type": FORM + "; charset=utf-8", **(extra or {})}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return RawRequest.build("POST", url, headers, urlencode(pairs).encode())


def signed(pairs: list[tuple[str, str]] = PARAMS, url: str = URL, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, MultiDict(pairs))


# --- twilio-python's own vectors (protocols.md §3.1) -----------------------------------


def test_form_vector() -> None:
    verify_twilio(form("RSOYDt4T1cUTdK1PDd93/VVr8B8="), TOKEN)


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (URL_443, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with the port, received with it
        (URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with the port, received without
        (URL_443, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # signed without, received with it
    ],
)
def test_tolerates_explicit_default_port(url: str, signature: str) -> None:
    verify_twilio(form(signature, url=url), TOKEN)


def test_json_vector() -> None:
    assert hashlib.sha256(JSON_BODY).hexdigest() == (
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    )
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4=",
    }
    verify_twilio(RawRequest.build("POST", JSON_URL, headers, JSON_BODY), TOKEN)


def test_repeated_params_vector() -> None:
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    verify_twilio(form("IK+Dwps556ElfBT0I3Rgjkr1wJU=", pairs), TOKEN)


def test_get_request_signs_the_url_only() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, {})
    verify_twilio(RawRequest.build("GET", URL, {"X-Twilio-Signature": signature}, b""), TOKEN)


# --- the SDK as the signer -------------------------------------------------------------


@FUZZ
@given(pairs=st.lists(st.tuples(st.text(), st.text()), max_size=8))
def test_accepts_any_form_the_sdk_signs(pairs: list[tuple[str, str]]) -> None:
    verify_twilio(form(signed(pairs), pairs), TOKEN)


def test_accepts_shared_key_hmac_sha256() -> None:
    secret = "shared-key-secret"
    signature = RequestValidator(secret).compute_signature(
        URL, MultiDict(PARAMS), algorithm="HMAC_SHA256"
    )
    settings_header = {"X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_SHA256"}
    verify_twilio(form(signature, extra=settings_header), [TOKEN, secret])


def test_rejects_unsupported_algorithm() -> None:
    settings_header = {"X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_MD5"}
    with pytest.raises(SignatureError, match="algorithm"):
        verify_twilio(form(signed(), extra=settings_header), TOKEN)


# --- one test per failure mode ---------------------------------------------------------


def test_rejects_tampered_form_body() -> None:
    with pytest.raises(SignatureError):
        verify_twilio(form(signed(), [*PARAMS[:-1], ("To", "+18005550000")]), TOKEN)


def test_rejects_tampered_json_body() -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": "a9nBmqA0ju/hNViExpshrM61xv4=",
    }
    raw = RawRequest.build("POST", JSON_URL, headers, JSON_BODY.replace(b"true", b"false"))
    with pytest.raises(SignatureError, match="bodySHA256"):
        verify_twilio(raw, TOKEN)


def test_rejects_unpinned_non_form_body() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, {})
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    with pytest.raises(SignatureError, match="bodySHA256"):
        verify_twilio(RawRequest.build("POST", URL, headers, JSON_BODY), TOKEN)


def test_rejects_wrong_token() -> None:
    with pytest.raises(SignatureError):
        verify_twilio(form(signed()), "54321")


def test_rejects_missing_header() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_twilio(form(None), TOKEN)


@pytest.mark.parametrize("signature", ["garbage", "é", "RSOYDt4T1cUTdK1PDd93/VVr8B8"])
def test_rejects_garbage_header(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify_twilio(form(signature), TOKEN)


@pytest.mark.parametrize("body", [b"Body=caf\xe9", b"Body=caf%E9"], ids=["raw-latin1", "escaped"])
def test_rejects_form_body_that_is_not_utf8(body: bytes) -> None:
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signed()}
    with pytest.raises(SignatureError, match="UTF-8"):
        verify_twilio(RawRequest.build("POST", URL, headers, body), TOKEN)


@pytest.mark.parametrize(
    "url", ["https://mycompany.com:99999/x", "https://[::1/x", "https://mycompany.com/\ud800"]
)
def test_rejects_malformed_url(url: str) -> None:
    with pytest.raises(SignatureError, match="URL"):
        verify_twilio(form(signed(), url=url), TOKEN)


def test_accepts_any_token_of_a_rotation() -> None:
    verify_twilio(form(signed(token="new-token")), [TOKEN, "new-token"])


@pytest.mark.parametrize("token", ["", " ", []])
def test_refuses_a_missing_token(token: str | list[str]) -> None:
    with pytest.raises(ValueError, match="Auth Token"):
        verify_twilio(form(signed()), token)


# --- totality --------------------------------------------------------------------------

HEADER_NAMES = ["x-twilio-signature", "x-twilio-webhooks-signature-settings", "content-type"]


@FUZZ
@given(
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), st.text()),
    body=st.binary(),
    url=st.one_of(st.text(), st.just(URL), st.just(JSON_URL)),
)
def test_never_raises_anything_but_webhook_errors(
    headers: dict[str, str], body: bytes, url: str
) -> None:
    raw = RawRequest.build("POST", url, headers, body)
    with contextlib.suppress(SignatureError, PayloadError):
        verify_twilio(raw, TOKEN)
