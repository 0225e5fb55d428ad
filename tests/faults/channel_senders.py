"""Every shipped webhook endpoint, with a sender that signs any body the way its vendor
does. Shared by the fault suite (clock skew, bodies) and the fuzz suite
(``from faults.channel_senders import ...``).

Each signer is written from the vendor's own scheme (the SDK where one ships:
``standardwebhooks``, ``twilio``'s RequestValidator, ``hubspot``'s Signature), never
with the hub code under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from helpers.config import REPO, TEST_SECRET
from hubspot.utils.signature import Signature
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook
from twilio.request_validator import RequestValidator

from connectors.email.simulator import multipart
from connectors.salesforce.sandbox import Credentials
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.store.models import InboxEvent, RawDelivery

BASE = "http://localhost"
CDC_SECRET = "whsec_" + base64.b64encode(b"threadline-cdc-relay-secret-32by").decode()
OM_TOKEN = "om-path-token-0123456789abcdefXYZ"
HS_SECRET = "app-client-secret-0123456789"
TW_TOKEN = "twilio-auth-token-0123456789abcdef"
WA_SECRET = "meta-app-secret-0123456789"
ZD_SECRET = "zendesk-signing-secret-0123456789"
MG_KEY = "key-mailgun-signing-0123456789"
SG_USER, SG_PASSWORD = "parse", "sendgrid-parse-password"
MAX_BODY = 8192


def register_all() -> None:
    from connectors.email.connector import EmailConnector
    from connectors.hubspot.connector import HubSpotConnector
    from connectors.salesforce.connector import SalesforceConnector
    from connectors.twilio.connector import TwilioConnector
    from connectors.whatsapp.connector import WhatsAppConnector
    from connectors.zendesk.connector import ZendeskConnector

    for kind in (
        EmailConnector,
        HubSpotConnector,
        SalesforceConnector,
        TwilioConnector,
        WhatsAppConnector,
        ZendeskConnector,
    ):
        register_connector_type(kind)


def all_connectors() -> list[dict[str, Any]]:
    """One instance of every shipped connector type with a webhook endpoint."""
    creds = Credentials()
    return [
        {"name": "events", "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}},
        {
            "name": "sf",
            "type": "salesforce",
            "settings": {
                "auth": "password",
                "username": creds.username,
                "password": creds.password,
                "security_token": creds.security_token,
                "sandbox_url": "http://127.0.0.1:9",  # never called: no vendor hydration here
                "org_id": creds.org_id,
                "outbound_message_token": OM_TOKEN,
                "cdc_secret": CDC_SECRET,
            },
        },
        {
            "name": "hs",
            "type": "hubspot",
            "settings": {
                "portal_id": 62515,
                "access_token": "pat-na1-00000000-0000-4000-8000-000000000000",
                "app_client_secret": HS_SECRET,
                "api_host": "http://127.0.0.1:9",
            },
        },
        {
            "name": "tw",
            "type": "twilio",
            "settings": {
                "auth_token": TW_TOKEN,
                "voice": {"mode": "redirect", "redirect_url": "https://flows.example.com/in"},
            },
        },
        {
            "name": "wa",
            "type": "whatsapp",
            "settings": {"app_secret": WA_SECRET, "verify_token": "verify-token-for-threadline"},
        },
        {"name": "zd", "type": "zendesk", "settings": {"signing_secret": ZD_SECRET}},
        {
            "name": "mail",
            "type": "email",
            "settings": {
                "mailgun": {"signing_key": MG_KEY},
                "sendgrid": {"basic_auth": [{"username": SG_USER, "password": SG_PASSWORD}]},
            },
        },
    ]


def channels_runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    register_all()
    return make_runtime(
        connectors=all_connectors(),
        hub={"mappings_dir": str(REPO / "mappings"), "intake": {"max_body_bytes": MAX_BODY}},
    )


def stored(runtime: Runtime) -> int:
    """Inbox events plus raw deliveries: unchanged means a request left no trace."""
    with runtime.read_sessions() as session:
        events = session.scalar(select(func.count()).select_from(InboxEvent)) or 0
        raws = session.scalar(select(func.count()).select_from(RawDelivery)) or 0
    return int(events) + int(raws)


# ----- signers: (body, unix seconds) -> (path, headers, body) ------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string, if any
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Endpoint:
    """One webhook URL. ``sign(body, at)`` signs ``body`` as the vendor would at ``at``
    (unix seconds); ``kind`` says what bodies it takes: json, form, multipart, query."""

    id: str
    kind: str
    sign: Callable[[bytes, int], Request]
    timestamped: bool = False
    answers_twiml: bool = False


def _standard(path: str, secret: str) -> Callable[[bytes, int], Request]:
    def sign(body: bytes, at: int) -> Request:
        msg_id = f"msg_{uuid.uuid4().hex}"
        when = datetime.fromtimestamp(at, UTC)
        signature = Webhook(secret).sign(msg_id, when, body.decode("utf-8", "replace"))
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(at),
            "webhook-signature": signature,
            "content-type": "application/json",
        }
        return Request("POST", path, headers, body)

    return sign


def _hubspot(path: str, method: str = "POST") -> Callable[[bytes, int], Request]:
    def sign(body: bytes, at: int) -> Request:
        stamp = str(at * 1000)
        text = body.decode("utf-8", "replace")
        signature = Signature.get_signature(
            HS_SECRET, text, "v3", http_uri=BASE + path, http_method=method, timestamp=stamp
        )
        headers = {
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": stamp,
            "Content-Type": "application/json",
        }
        return Request(method, path, headers, body if method == "POST" else b"")

    return sign


def _twilio(path: str) -> Callable[[bytes, int], Request]:
    """Form bodies: the signature covers the URL and the sorted parameters."""
    from urllib.parse import parse_qsl

    def sign(body: bytes, at: int) -> Request:
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        grouped: dict[str, list[str]] = {}
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)

        class _Params(dict[str, list[str]]):
            def getlist(self, name: str) -> list[str]:
                return self[name]

        signature = RequestValidator(TW_TOKEN).compute_signature(BASE + path, _Params(grouped))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        return Request("POST", path, headers, body)

    return sign


def _whatsapp(body: bytes, at: int) -> Request:
    digest = hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}
    return Request("POST", "/webhooks/wa", headers, body)


def _zendesk(body: bytes, at: int) -> Request:
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(ZD_SECRET.encode(), stamp.encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Id": "01GK8E6BKWMJZD2T8Y5AXJQMG5",
        "X-Zendesk-Webhook-Invocation-Id": str(uuid.uuid4().int)[:19],
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Signature": base64.b64encode(mac.digest()).decode(),
    }
    return Request("POST", "/webhooks/zd", headers, body)


def mailgun_fields(at: int) -> list[tuple[str, str]]:
    token = secrets.token_hex(25)
    mac = hmac.new(MG_KEY.encode(), f"{at}{token}".encode(), hashlib.sha256)
    return [("timestamp", str(at)), ("token", token), ("signature", mac.hexdigest())]


def _mailgun(body: bytes, at: int) -> Request:
    """The signature travels in the form: append fresh signature fields to ``body``."""
    extra = urlencode(mailgun_fields(at)).encode()
    joined = body + (b"&" if body else b"") + extra
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return Request("POST", "/webhooks/mail/mailgun", headers, joined)


def _sendgrid(body: bytes, at: int) -> Request:
    """Basic auth proves the sender; the body is a multipart form (``body`` = one field)."""
    form, kind = multipart([("text", body.decode("utf-8", "replace")), ("from", "a@b.example")], [])
    pair = base64.b64encode(f"{SG_USER}:{SG_PASSWORD}".encode()).decode()
    headers = {"Content-Type": kind, "Authorization": f"Basic {pair}"}
    return Request("POST", "/webhooks/mail/sendgrid", headers, form)


def _outbound(body: bytes, at: int) -> Request:
    """Salesforce Outbound Messages are proven by the secret path token."""
    path = f"/webhooks/sf/outbound-messages/{OM_TOKEN}"
    return Request("POST", path, {"Content-Type": "text/xml; charset=utf-8"}, body)


def _app_card(body: bytes, at: int) -> Request:
    """The HubSpot app card is a signed GET; ``body`` becomes the query's objectId."""
    from urllib.parse import quote

    path = "/webhooks/hs/app-card?objectId=" + quote(body.decode("utf-8", "replace"), safe="")
    return _hubspot(path, "GET")(b"", at)


ENDPOINTS: Sequence[Endpoint] = (
    Endpoint("standard_webhooks", "json", _standard("/webhooks/events", TEST_SECRET), True),
    Endpoint("salesforce-events", "json", _standard("/webhooks/sf/events", CDC_SECRET), True),
    Endpoint("salesforce-outbound-messages", "xml", _outbound),
    Endpoint("hubspot", "json", _hubspot("/webhooks/hs"), True),
    Endpoint("hubspot-app-card", "query", _app_card, True),
    Endpoint("twilio-voice", "form", _twilio("/webhooks/tw/voice"), answers_twiml=True),
    Endpoint("twilio-voice-status", "form", _twilio("/webhooks/tw/voice-status")),
    Endpoint("twilio-sms", "form", _twilio("/webhooks/tw/sms")),
    Endpoint("twilio-sms-status", "form", _twilio("/webhooks/tw/sms-status")),
    Endpoint("twilio-taskrouter", "form", _twilio("/webhooks/tw/taskrouter")),
    Endpoint("whatsapp", "json", _whatsapp),
    Endpoint("zendesk", "json", _zendesk, True),
    Endpoint("email-mailgun", "form", _mailgun, True),
    Endpoint("email-sendgrid", "multipart", _sendgrid),
)
BY_ID = {e.id: e for e in ENDPOINTS}


def send(client: Any, request: Request) -> Any:
    return client.open(
        request.path,
        method=request.method,
        data=request.body,
        headers=request.headers,
        base_url=BASE,
    )
