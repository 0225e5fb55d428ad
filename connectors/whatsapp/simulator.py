"""A Meta / WhatsApp Cloud API sender simulator.

Meta serialises notifications as unicode-escaped ASCII JSON and signs exactly those
bytes: ``X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, body)>``
(protocols.md §4, §7.5). Meta retries non-2xx deliveries "with decreasing frequency"
for up to 7 days; ``retries``/``retry_delays`` model that (no waiting by default).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from hub.simulate import Send, SimResponse, http_sender

http_send = http_sender(timeout=20)  # Meta's delivery deadline


def new_wamid() -> str:
    return "wamid.HBgL" + secrets.token_urlsafe(30)


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppSimulator:
    """Posts signed WhatsApp notifications to ``url`` (``…/webhooks/<connector>``)."""

    def __init__(
        self,
        app_secret: str,
        url: str,
        send: Send | None = None,
        *,
        phone_number_id: str = "106540352242922",
        display_number: str = "15550783881",
        waba_id: str = "102290129340398",
        retries: int = 0,
        retry_delays: Sequence[float] = (0.0,),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app_secret, self.url, self.send = app_secret, url, send or http_send
        self.metadata = {"display_phone_number": display_number, "phone_number_id": phone_number_id}
        self.waba_id = waba_id
        self.retries, self.retry_delays, self.sleep = retries, retry_delays, sleep

    def handshake(self, verify_token: str, challenge: str = "1158201444") -> SimResponse:
        """The GET Meta sends when the callback URL is saved in the App Dashboard."""
        query = urlencode(
            {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        )
        status, body, kind = self.send("GET", f"{self.url}?{query}", b"", {})
        return SimResponse(status, body, kind.split(";")[0])

    def post(self, document: Any, *, body: bytes | None = None) -> SimResponse:
        """Serialise as Meta does (ASCII-escaped), sign those bytes, deliver with retries."""
        raw = body if body is not None else json.dumps(document, ensure_ascii=True).encode("ascii")
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(self.app_secret, raw),
            "User-Agent": "facebookexternalua",
        }
        attempt = 0
        while True:
            attempt += 1
            status, answer, kind = self.send("POST", self.url, raw, headers)
            if 200 <= status < 300 or attempt > self.retries:
                return SimResponse(status, answer, kind.split(";")[0], attempt)
            self.sleep(self.retry_delays[min(attempt - 1, len(self.retry_delays) - 1)])

    def envelope(self, value: dict[str, Any]) -> dict[str, Any]:
        value = {"messaging_product": "whatsapp", "metadata": self.metadata, **value}
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"field": "messages", "value": value}]}],
        }

    @staticmethod
    def text_message(
        wa_id: str, text: str, *, wamid: str | None = None, at: datetime | None = None
    ) -> dict[str, Any]:
        return {
            "from": wa_id,
            "id": wamid or new_wamid(),
            "timestamp": str(int((at or datetime.now(UTC)).timestamp())),
            "type": "text",
            "text": {"body": text},
        }

    def messages(self, wa_id: str, name: str, *messages: dict[str, Any]) -> dict[str, Any]:
        """One notification holding ``messages`` from one customer (and their profile)."""
        contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
        return self.envelope({"contacts": contacts, "messages": list(messages)})

    def send_text(
        self,
        wa_id: str,
        name: str,
        text: str,
        *,
        wamid: str | None = None,
        at: datetime | None = None,
    ) -> tuple[str, SimResponse]:
        message = self.text_message(wa_id, text, wamid=wamid, at=at)
        return message["id"], self.post(self.messages(wa_id, name, message))

    def status(
        self, wamid: str, status: str, recipient: str, *, at: datetime | None = None
    ) -> SimResponse:
        """A delivery receipt for a message the business sent."""
        receipt = {
            "id": wamid,
            "status": status,
            "timestamp": str(int((at or datetime.now(UTC)).timestamp())),
            "recipient_id": recipient,
            "conversation": {"id": secrets.token_hex(16), "origin": {"type": "service"}},
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
        }
        return self.post(self.envelope({"statuses": [receipt]}))
