"""Inbound-mail sender simulators: a Mailgun route ``forward()`` and SendGrid Parse.

Mailgun (protocols.md §5.4): form fields plus ``timestamp``, a 50-character ``token``
and ``signature`` = hex HMAC-SHA256(signing key, timestamp + token); urlencoded, or
multipart when there are attachments; retried for 8 h on anything but 200/406.
SendGrid (§5.5): always multipart/form-data, Basic credentials from the Parse URL
(or a secret path), retried for 3 days on 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from urllib.parse import urlencode

from hub.simulate import Send, SimResponse, http_sender


@dataclass
class Email:
    """One message as the providers describe it."""

    from_: str = "Ada Lovelace <ada@example.com>"
    to: str = "support@acme.test"
    subject: str = "Where is my order?"
    text: str = "Hello, my order has not arrived."
    message_id: str = field(default_factory=lambda: make_msgid(domain="mail.example.com"))
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    date: datetime = field(default_factory=lambda: datetime.now(UTC))
    attachments: Sequence[tuple[str, str, bytes]] = ()  # (filename, content type, bytes)

    def headers(self) -> list[tuple[str, str]]:
        found = [
            ("From", self.from_),
            ("To", self.to),
            ("Subject", self.subject),
            ("Date", format_datetime(self.date)),
            ("Message-Id", self.message_id),
        ]
        if self.in_reply_to:
            found.append(("In-Reply-To", self.in_reply_to))
        if self.references:
            found.append(("References", " ".join(self.references)))
        return found


http_send = http_sender(timeout=30)  # the providers' generous deadline


def multipart(
    fields: Sequence[tuple[str, str]], files: Sequence[tuple[str, str, str, bytes]] = ()
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type (files: field, name, type, bytes)."""
    boundary = "----threadline" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value in fields:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8")
            + b"\r\n"
        )
    for name, filename, kind, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
        )
        chunks.append(head.encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class _Retrying:
    def __init__(
        self, send: Send | None, retries: int, delay: float, sleep: Callable[[float], None]
    ) -> None:
        self.send, self.retries, self.delay, self.sleep = send or http_send, retries, delay, sleep

    def deliver(
        self, url: str, body: bytes, headers: dict[str, str], retry: Callable[[int], bool]
    ) -> SimResponse:
        attempt = 0
        while True:
            attempt += 1
            status, answer, kind = self.send("POST", url, body, headers)
            if not retry(status) or attempt > self.retries:
                return SimResponse(status, answer, kind.split(";")[0], attempt)
            self.sleep(self.delay)


class MailgunSimulator(_Retrying):
    """Posts a route's ``forward()`` to ``url`` (``…/webhooks/<connector>/mailgun``)."""

    def __init__(
        self,
        signing_key: str,
        url: str,
        send: Send | None = None,
        *,
        retries: int = 0,
        retry_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(send, retries, retry_delay, sleep)
        self.signing_key, self.url = signing_key, url

    def signature_fields(
        self, *, at: datetime | None = None, token: str | None = None
    ) -> list[tuple[str, str]]:
        stamp = str(int((at or datetime.now(UTC)).timestamp()))
        token = token or "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(50)
        )
        mac = hmac.new(self.signing_key.encode(), (stamp + token).encode(), hashlib.sha256)
        return [("timestamp", stamp), ("token", token), ("signature", mac.hexdigest())]

    def forward(
        self, mail: Email, *, at: datetime | None = None, token: str | None = None
    ) -> SimResponse:
        """Sign and post ``mail``; Mailgun retries anything but 200 and 406."""
        fields = [
            ("recipient", mail.to),
            ("sender", mail.from_.split("<")[-1].rstrip(">")),
            ("from", mail.from_),
            ("subject", mail.subject),
            ("body-plain", mail.text),
            ("stripped-text", mail.text),
            ("Message-Id", mail.message_id),
            ("message-headers", json.dumps([list(h) for h in mail.headers()])),
            ("attachment-count", str(len(mail.attachments))),
            *self.signature_fields(at=at, token=token),
        ]
        if mail.attachments:
            files = [
                (f"attachment-{i + 1}", n, k, d) for i, (n, k, d) in enumerate(mail.attachments)
            ]
            body, kind = multipart(fields, files)
        else:
            body, kind = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        return self.deliver(self.url, body, {"Content-Type": kind}, lambda s: s not in (200, 406))


class SendGridSimulator(_Retrying):
    """Posts Inbound Parse requests to ``url`` (``…/webhooks/<connector>/sendgrid``)."""

    def __init__(
        self,
        url: str,
        send: Send | None = None,
        *,
        basic_auth: tuple[str, str] | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(send, retries, retry_delay, sleep)
        self.url, self.basic_auth = url, basic_auth

    def parse(self, mail: Email, *, raw: bool = False) -> SimResponse:
        """Post ``mail`` as Parse does (``raw``: the "send raw MIME" option)."""
        envelope = {"to": [mail.to], "from": mail.from_.split("<")[-1].rstrip(">")}
        headers_text = "".join(f"{k}: {v}\n" for k, v in mail.headers())
        fields = [
            ("to", mail.to),
            ("from", mail.from_),
            ("subject", mail.subject),
            ("envelope", json.dumps(envelope)),
            (
                "charsets",
                json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "utf-8"}),
            ),
            ("SPF", "pass"),
            ("sender_ip", "203.0.113.7"),
        ]
        if raw:
            fields.append(
                ("email", headers_text + "Content-Type: text/plain; charset=utf-8\n\n" + mail.text)
            )
        else:
            fields += [
                ("headers", headers_text),
                ("text", mail.text),
                ("attachments", str(len(mail.attachments))),
            ]
        files = [(f"attachment{i + 1}", n, k, d) for i, (n, k, d) in enumerate(mail.attachments)]
        body, kind = multipart(fields, files)
        headers = {"Content-Type": kind, "User-Agent": "Sendlib/1.0"}
        if self.basic_auth:
            pair = f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return self.deliver(self.url, body, headers, lambda s: s >= 500)
