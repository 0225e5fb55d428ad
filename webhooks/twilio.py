"""Twilio ``X-Twilio-Signature`` verification on top of twilio's own ``RequestValidator``.

Twilio signs the URL it posted to plus every form parameter (sorted by name), or, for
JSON bodies, the URL alone with a ``bodySHA256`` query parameter that pins the body.
The vendor validator already knows Twilio's quirks (it tries the URL with and without
the default port, sorts repeated values); this wrapper feeds it parameters parsed from
the raw bytes and makes it total: any malformed input is a :class:`SignatureError`.
"""

# Vendor docs (protocols.md §3.1 and §8):
#   https://www.twilio.com/docs/usage/webhooks/webhooks-security
#   https://www.twilio.com/docs/api/errors/57012 (bodySHA256 mismatch)
#   twilio-python 9.13.0 twilio/request_validator.py

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import parse_qs, parse_qsl, urlsplit

from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    RequestValidator,
    get_signature_algorithm,
)

from webhooks.errors import SignatureError
from webhooks.hmac_utils import constant_time_equals, require_secrets, required_header
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
FORM_TYPE = "application/x-www-form-urlencoded"


class _Params(dict[str, list[str]]):
    """Repeated form fields in the shape ``RequestValidator.get_values`` understands."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def verify_twilio(raw: RawRequest, auth_token: str | Sequence[str]) -> None:
    """Verify ``X-Twilio-Signature`` over ``raw.url`` and the raw body.

    With ``X-Twilio-Webhooks-Signature-Settings: ...,algorithm=HMAC_SHA256`` the
    request was signed with a SharedKey: pass that key's secret among ``auth_token``.

    Args:
        raw: the request as received; ``raw.url`` must be the public URL configured in
            Twilio, query string included.
        auth_token: the Auth Token (or SharedKey secret), or several during a rotation.

    Raises:
        ValueError: when no token is configured.
        SignatureError: missing or non-matching signature, a body hash that does not
            match ``bodySHA256``, a form body that is not UTF-8, or a non-form body
            without ``bodySHA256`` (nothing would pin it).
    """
    tokens = require_secrets(auth_token, "a Twilio Auth Token")
    signature = required_header(raw.header(SIGNATURE_HEADER), "X-Twilio-Signature")
    algorithm = get_signature_algorithm(raw.header(SETTINGS_HEADER) or "").upper()
    if algorithm not in (HMAC_SHA1, HMAC_SHA256):
        raise SignatureError("unsupported Twilio signature algorithm")
    try:
        raw.url.encode("utf-8")  # lone surrogates: not a URL Twilio can have signed
        query = parse_qs(urlsplit(raw.url).query)
    except ValueError:  # bad IPv6 literal or port; UnicodeError is a ValueError
        raise SignatureError("malformed request URL") from None
    params: _Params
    if "bodySHA256" in query:
        # JSON webhook: the URL signature covers the hash, the hash covers the bytes.
        if not constant_time_equals(hashlib.sha256(raw.body).hexdigest(), query["bodySHA256"][0]):
            raise SignatureError("body does not match bodySHA256")
        params = _Params()
    else:
        params = _form_params(raw)
    valid = False
    for token in tokens:
        validator = RequestValidator(token.decode("utf-8", "surrogatepass"))
        try:
            valid |= validator.validate(raw.url, params, signature, algorithm)
        except ValueError:  # malformed port in the URL, and the like
            raise SignatureError("malformed request URL") from None
    if not valid:
        raise SignatureError("Twilio signature does not match")


def _form_params(raw: RawRequest) -> _Params:
    """Parse an ``application/x-www-form-urlencoded`` body, keeping repeated names."""
    params = _Params()
    if not raw.body:
        return params
    if raw.content_type not in (FORM_TYPE, ""):
        raise SignatureError("body is neither a form nor pinned by bodySHA256")
    try:
        pairs = parse_qsl(
            raw.body.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        # Twilio signs UTF-8 text: bytes that are not UTF-8 cannot carry its signature.
        raise SignatureError("form body is not UTF-8") from None
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params
