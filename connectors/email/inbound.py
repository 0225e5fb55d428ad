"""Inbound e-mail endpoints: Mailgun routes and SendGrid Inbound Parse.

``mailgun``: the ``timestamp``/``token``/``signature`` form fields (``webhooks/mailgun.py``)
prove the sender, but the signature covers only timestamp + token, never the mail: a
captured token could carry another body. So besides the freshness window a token is
accepted once (``seen_token``, durable state shared by every web process).

``sendgrid``: Inbound Parse is unsigned by default; SendGrid's advice is HTTP Basic
credentials in the Parse URL or a secret URL (protocols.md §5.5). Either configured
method admits a request.

Both answer 200 once stored; the idempotency key is the Message-ID, so a retried
delivery (Mailgun: 8 h; SendGrid: 3 days) of the same mail is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from connectors.email import mime
from connectors.twilio.redact import BodyPolicy, redact
from hub.plugin import InboundEndpoint, InboundEvent
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.mailgun import verify_mailgun
from webhooks.sendgrid import verify_sendgrid_basic_auth


def mail_event(
    raw: RawRequest, mail: mime.Mail, form: mime.Form, policy: BodyPolicy
) -> InboundEvent:
    """One stored event per mail; the body is redacted before it is queued."""
    message_id = mail.message_id
    if message_id is None:
        # No Message-ID (rare, but RFC 5322 only says SHOULD): a stable stand-in.
        seed = "\x00".join(
            str(v) for v in (mail.from_address, mail.subject, mail.sent_at, mail.text)
        )
        message_id = (
            hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest() + "@threadline.invalid"
        )
        mail = mime.Mail(**{**asdict(mail), "message_id": message_id})
    payload: dict[str, Any] = {
        "message_id": message_id,
        "thread": mail.thread,
        "in_reply_to": mail.in_reply_to,
        "references": list(mail.references[-20:]),
        "from_name": mail.from_name,
        "from_address": mail.from_address,
        "subject": (mail.subject or "")[:500] or None,
        "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
        "received_at": raw.received_at.isoformat(),
        "text": redact(mail.text, policy),
        "text_chars": len(mail.text or ""),
        "attachments": [{k: f[k] for k in ("filename", "type", "size")} for f in form.files[:50]],
    }
    return InboundEvent(f"message:{message_id}", "message.received", payload)


class MailgunEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>/mailgun``: a Mailgun route's ``forward()`` action."""

    def __init__(
        self,
        keys: Sequence[str],
        tolerance_seconds: int,
        seen_token: Callable[[str], bool],
        policy: BodyPolicy,
    ) -> None:
        super().__init__("mailgun")
        self._keys = tuple(keys)
        self._tolerance = timedelta(seconds=tolerance_seconds)
        self._seen_token = seen_token
        self._policy = policy

    def verify(self, raw: RawRequest) -> None:
        token = verify_mailgun(raw, self._keys, tolerance=self._tolerance)
        if self._seen_token(token):
            raise SignatureError("Mailgun token already used (a replay)")

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        form = mime.parse_form(raw)
        fields = form.fields
        if "body-mime" in fields:  # a route whose URL ends in "mime": the raw message
            message, text = mime.parse_mime(fields["body-mime"].encode("utf-8", "replace"))
            mail = mime.mail_from_headers(message, text, fields.get("from"))
        else:
            pairs = mime.json_field(form, "message-headers") or []
            if not isinstance(pairs, list):
                raise PayloadError("message-headers must be a JSON list of [name, value] pairs")
            headers = {
                str(p[0]).title(): str(p[1]) for p in pairs if isinstance(p, list) and len(p) == 2
            }
            headers.setdefault("Message-Id", fields.get("Message-Id", ""))
            headers.setdefault("Subject", fields.get("subject", ""))
            text = fields.get("stripped-text") or fields.get("body-plain")
            mail = mime.mail_from_headers(headers, text, fields.get("from") or fields.get("sender"))
        if mail.from_address is None:
            raise PayloadError("no sender address in from/sender")
        return [mail_event(raw, mail, form, self._policy)]


class SendGridEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>/sendgrid[/<url token>]``: SendGrid Inbound Parse."""

    def __init__(
        self,
        credentials: Sequence[tuple[str, str]],
        url_tokens: Sequence[str],
        policy: BodyPolicy,
    ) -> None:
        super().__init__("sendgrid")
        self._credentials = list(credentials)
        self._url_tokens = [t.encode() for t in url_tokens]
        self._policy = policy

    def verify(self, raw: RawRequest) -> None:
        if self._url_tokens and self._token_matches(raw):
            return
        if self._credentials:
            verify_sendgrid_basic_auth(raw, self._credentials)
            return
        raise SignatureError("missing or wrong SendGrid URL token")

    def _token_matches(self, raw: RawRequest) -> bool:
        from urllib.parse import urlsplit

        path = urlsplit(raw.url).path.rstrip("/")
        given = path.rpartition("/sendgrid/")[2] if "/sendgrid/" in path else ""
        found = False
        for token in self._url_tokens:
            found |= hmac.compare_digest(token, given.encode("utf-8", "surrogatepass"))
        return found

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        first = mime.parse_form(raw)
        charsets = mime.json_field(first, "charsets")
        form = mime.parse_form(raw, charsets) if isinstance(charsets, dict) and charsets else first
        fields = form.fields
        if "email" in fields:  # "POST the raw, full MIME message" enabled
            message, text = mime.parse_mime(fields["email"].encode("utf-8", "replace"))
            mail = mime.mail_from_headers(message, text, fields.get("from"))
        else:
            headers = mime.header_block(fields.get("headers", ""))
            if not headers.get("Subject") and fields.get("subject"):
                headers["Subject"] = fields["subject"]
            mail = mime.mail_from_headers(headers, fields.get("text"), fields.get("from"))
        if mail.from_address is None:
            raise PayloadError("no sender address in headers/from")
        return [mail_event(raw, mail, form, self._policy)]
