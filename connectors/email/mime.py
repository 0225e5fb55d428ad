"""Read inbound-mail form posts and the messages in them, from raw bytes, safely.

Mailgun routes post ``application/x-www-form-urlencoded`` (``multipart/form-data``
with attachments); SendGrid Inbound Parse always posts multipart (protocols.md §5.4,
§5.5). Both are parsed here with the standard library's e-mail parser over the exact
bytes received: nothing is re-read from Flask, a part count cap bounds the work, a
body that is not the multipart it claims to be is a :class:`PayloadError`, and
attachment contents are never kept (only name, type and size).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import errors as email_errors
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from hub.transforms import parse_datetime
from webhooks import PayloadError, RawRequest

MAX_PARTS = 200
MAX_FIELD_CHARS = 200_000
_FATAL = (
    email_errors.StartBoundaryNotFoundDefect,
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.MultipartInvariantViolationDefect,
)
_MSGID = re.compile(r"<([^<>\s]{1,250})>")


@dataclass
class Form:
    """Text fields (first value wins) and attachment descriptions."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)


def parse_form(raw: RawRequest, charsets: dict[str, str] | None = None) -> Form:
    """The form fields of ``raw``; ``charsets`` names a field's charset (SendGrid)."""
    if raw.content_type == "application/x-www-form-urlencoded":
        text = raw.body.decode("utf-8", "replace")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARTS)
        form = Form()
        for name, value in pairs:
            form.fields.setdefault(name, value[:MAX_FIELD_CHARS])
        return form
    if raw.content_type == "multipart/form-data":
        return _multipart(raw, charsets or {})
    raise PayloadError("expected a form post (urlencoded or multipart/form-data)")


def _multipart(raw: RawRequest, charsets: dict[str, str]) -> Form:
    content_type = raw.header("content-type") or ""
    if "boundary=" not in content_type or not content_type.isascii() or "\n" in content_type:
        raise PayloadError("multipart/form-data without a usable boundary")
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    try:
        message = BytesParser(policy=compat32).parsebytes(head + raw.body)
    except RecursionError:
        raise PayloadError("multipart body nested too deeply") from None
    if not message.is_multipart() or any(isinstance(d, _FATAL) for d in message.defects):
        raise PayloadError("malformed multipart body")
    parts = message.get_payload()
    if not isinstance(parts, list) or len(parts) > MAX_PARTS:
        raise PayloadError("too many parts in the multipart body")
    form = Form()
    for part in parts:
        _add_part(form, part, charsets)
    return form


def _add_part(form: Form, part: Any, charsets: dict[str, str]) -> None:
    if not isinstance(part, Message) or part.is_multipart():
        return
    name = part.get_param("name", header="content-disposition")
    if not isinstance(name, str | tuple):
        return
    name = collapse_rfc2231_value(name)
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    filename = part.get_filename()
    if filename is not None:
        kind = part.get_content_type()
        form.files.append(
            {"field": name, "filename": filename[:255], "type": kind, "size": len(data)}
        )
        return
    charset = part.get_content_charset() or charsets.get(name) or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except LookupError:  # a charset name Python does not know
        text = data.decode("utf-8", "replace")
    form.fields.setdefault(name, text[:MAX_FIELD_CHARS])


def json_field(form: Form, name: str) -> Any:
    """A field holding JSON (SendGrid ``envelope``/``charsets``, Mailgun headers)."""
    try:
        return json.loads(form.fields.get(name) or "null")
    except (ValueError, RecursionError):
        raise PayloadError(f"field {name!r} is not valid JSON") from None


# ----- the message itself ---------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """What the timeline needs from one e-mail."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    from_name: str | None
    from_address: str | None
    subject: str | None
    sent_at: datetime | None
    text: str | None

    @property
    def thread(self) -> str | None:
        """The thread root: the first References id, else In-Reply-To, else itself
        (RFC 5322 §3.6.4: References lists the parent's ancestry, oldest first)."""
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.message_id


def message_ids(value: str | None) -> tuple[str, ...]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References header."""
    return tuple(_MSGID.findall(value or ""))[:100]


def mail_from_headers(
    headers: Message | dict[str, str], text: str | None, sender: str | None
) -> Mail:
    """Build a :class:`Mail` from parsed headers; ``sender`` is the form's ``from``."""
    pairs = getaddresses([str(headers.get("From") or sender or "")])
    name, address = pairs[0] if pairs else ("", "")
    ids = message_ids(str(headers.get("Message-ID") or headers.get("Message-Id") or ""))
    replied = message_ids(str(headers.get("In-Reply-To") or ""))
    sent: datetime | None
    try:
        sent = parse_datetime(parsedate_to_datetime(str(headers.get("Date") or "")))
    except (TypeError, ValueError, IndexError):
        sent = None
    return Mail(
        message_id=ids[0] if ids else None,
        in_reply_to=replied[0] if replied else None,
        references=message_ids(str(headers.get("References") or "")),
        from_name=name.strip() or None,
        from_address=address.strip().lower() if "@" in address else None,
        subject=str(headers.get("Subject") or "").strip() or None,
        sent_at=sent,
        text=text,
    )


def header_block(text: str) -> Message:
    """Parse a raw header block (SendGrid's ``headers`` field)."""
    return HeaderParser(policy=compat32).parsestr(text, headersonly=True)


def parse_mime(data: bytes) -> tuple[Message, str | None]:
    """A full MIME message (Mailgun ``body-mime``, SendGrid raw ``email``) and its text."""
    message = BytesParser(policy=compat32).parsebytes(data)
    for part in message.walk() if message.is_multipart() else [message]:
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                try:
                    return message, payload.decode(charset, "replace")[:MAX_FIELD_CHARS]
                except LookupError:
                    return message, payload.decode("utf-8", "replace")[:MAX_FIELD_CHARS]
    return message, None
