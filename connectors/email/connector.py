"""The ``email`` connector: inbound mail from Mailgun routes and SendGrid Inbound Parse.

Each mail becomes a ``message`` interaction (channel email) whose id is its
Message-ID and whose ``data.thread`` is the thread root (References / In-Reply-To),
on the contact found by the sender's address; a ``sender`` contact record carries the
display name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.email.inbound import MailgunEndpoint, SendGridEndpoint
from connectors.twilio.redact import BodyPolicy
from hub.plugin import Change, Connector, Ignored, InboundEndpoint, InboundEvent, SourceRecord
from hub.transforms import parse_datetime

REPLAY_KEY = "mailgun-tokens"


class MailgunSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The HTTP webhook signing key (Mailgun: Sending → Webhooks); older accounts: API key.
    signing_key: SecretStr = Field(min_length=8)
    previous_signing_keys: list[SecretStr] = Field(default_factory=list)
    #: How far ``timestamp`` may be from now; tokens are remembered twice as long.
    tolerance_seconds: int = Field(default=300, ge=30, le=3600)


class BasicCredential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=8)


class SendGridSettings(BaseModel):
    """Basic credentials put in the Parse URL, and/or a secret last path segment."""

    model_config = ConfigDict(extra="forbid")

    basic_auth: list[BasicCredential] = Field(default_factory=list)
    url_tokens: list[SecretStr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _protected(self) -> SendGridSettings:
        if not self.basic_auth and not self.url_tokens:
            raise ValueError("sendgrid needs basic_auth or url_tokens: Parse posts are unsigned")
        if any(len(t.get_secret_value()) < 16 for t in self.url_tokens):
            raise ValueError("sendgrid url_tokens must be at least 16 characters")
        return self


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailgun: MailgunSettings | None = None
    sendgrid: SendGridSettings | None = None
    body: BodyPolicy = "mask"

    @model_validator(mode="after")
    def _one_provider(self) -> EmailSettings:
        if self.mailgun is None and self.sendgrid is None:
            raise ValueError("configure mailgun, sendgrid or both")
        return self


class EmailConnector(Connector):
    type_name = "email"
    description = "Inbound e-mail: Mailgun routes and SendGrid Inbound Parse, threaded"
    settings_model = EmailSettings
    object_types = ("sender", "message")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, EmailSettings)
        self._endpoints: list[InboundEndpoint] = []
        if settings.mailgun is not None:
            mg = settings.mailgun
            keys = [k.get_secret_value() for k in (mg.signing_key, *mg.previous_signing_keys)]
            self._window = timedelta(seconds=2 * mg.tolerance_seconds)
            self._endpoints.append(
                MailgunEndpoint(keys, mg.tolerance_seconds, self._seen_token, settings.body)
            )
        if settings.sendgrid is not None:
            sg = settings.sendgrid
            credentials = [(c.username, c.password.get_secret_value()) for c in sg.basic_auth]
            tokens = [t.get_secret_value() for t in sg.url_tokens]
            self._endpoints.append(SendGridEndpoint(credentials, tokens, settings.body))

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return self._endpoints

    def _seen_token(self, token: str) -> bool:
        """Remember Mailgun tokens for twice the timestamp window; True for a replay.

        One state row holds the live tokens (pruned on every write), so the cache stays
        as small as the mail of the last few minutes and every web process shares it.
        """
        from hub.store.coltypes import utcnow

        now = utcnow()
        with self.context.locked_state(REPLAY_KEY) as state:
            tokens: dict[str, str] = dict((state.value or {}).get("tokens", {}))
            if token in tokens:
                return True
            horizon = now - self._window
            live = {t: at for t, at in tokens.items() if _after(at, horizon)}
            live[token] = now.isoformat()
            state.set({"tokens": live})
            return False

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        if event.event_type != "message.received":
            return [Ignored(f"no handler for {event.event_type!r}")]
        mail: dict[str, Any] = event.payload
        at = parse_datetime(mail.get("sent_at")) or parse_datetime(mail.get("received_at"))
        changes: list[Change] = []
        sender = mail.get("from_address")
        if sender:
            contact = {"email": sender, "name": mail.get("from_name")}
            changes.append(SourceRecord("sender", sender, contact, at))
        record = {**mail, "occurred_at": at.isoformat() if at else None, "direction": "inbound"}
        changes.append(SourceRecord("message", mail["message_id"], record, at))
        return changes


def _after(stamp: str, horizon: datetime) -> bool:
    parsed = parse_datetime(stamp)
    return parsed is not None and parsed >= horizon
