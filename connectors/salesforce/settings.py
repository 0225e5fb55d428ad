"""The Salesforce connector's settings: one auth flavour, the org, webhooks, pops, streams.

Secrets are ``SecretStr`` (never printed, never logged). A webhook endpoint exists only
when its secret is configured, so a missing secret can never mean "accept anything":
with no ``outbound_message_token`` there is no Outbound Message URL at all.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.salesforce.objects import BY_STREAM, FIELD_RE
from webhooks.standard import make_verifier

_ORG_ID = re.compile(r"^00D[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$")
_VERSION = re.compile(r"^\d{2}\.\d$")
_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamOptions(_Strict):
    """Per-stream options (``settings.streams.contacts``)."""

    #: Custom fields to query as well (``Loyalty_Tier__c``); map them with a mapping override.
    extra_fields: list[str] = Field(default_factory=list)
    #: Records per page, 200..2,000 (the REST query batch bounds).
    page_size: int = Field(2000, ge=200, le=2000)
    #: Records per query before keyset paging restarts it (several queryMore pages).
    query_limit: int = Field(10000, ge=200, le=50000)
    #: Minutes re-read on every run, covering clock skew and commit-order edges.
    lookback_minutes: int = Field(5, ge=0, le=24 * 60)
    #: Read the next batch while the hub stores this one (PostgreSQL; hub/sync.py).
    read_ahead: bool = False

    @field_validator("extra_fields")
    @classmethod
    def _field_names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not FIELD_RE.match(name)]
        if bad:
            raise ValueError(f"not a Salesforce field API name: {', '.join(bad)}")
        return value


class PopSettings(_Strict):
    """What a screen pop does in Salesforce."""

    create_task: bool = True
    #: Platform event API name to publish, or null for none.
    platform_event: str | None = "Threadline_Screen_Pop__e"
    #: Filterable Task text field holding the pop's idempotency key. ``CallObject`` (the
    #: CTI call identifier) exists in every org; a unique external-id custom field on
    #: Activity is better where you can add one.
    task_key_field: str = "CallObject"
    task_status: str = "Completed"

    @field_validator("platform_event")
    @classmethod
    def _event_name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z][A-Za-z0-9_]*__e$", value):
            raise ValueError("a platform event API name ends in __e (Threadline_Screen_Pop__e)")
        return value


class SalesforceSettings(_Strict):
    """Connection and behaviour of one Salesforce org."""

    #: ``password`` (SOAP login: username + password + security_token), ``refresh_token``
    #: (connected app: consumer key/secret + refresh token) or ``jwt`` (consumer key +
    #: username + private key PEM of the certificate uploaded to the connected app).
    auth: Literal["password", "refresh_token", "jwt"] = "password"
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    private_key: SecretStr | None = None
    #: ``login`` (production), ``test`` (sandboxes) or a My Domain (``acme.my``).
    domain: str = "login"
    #: ``https://acme.my.salesforce.com``; needed by the refresh-token flow only.
    instance_url: str | None = None
    api_version: str = "59.0"
    #: The org's id (``00D…``): Outbound Messages carrying another org are refused.
    org_id: str | None = None
    outbound_message_token: SecretStr | None = None
    cdc_secret: SecretStr | None = None
    pop: PopSettings = Field(default_factory=PopSettings)
    streams: dict[str, StreamOptions] = Field(default_factory=dict)
    #: The org's DailyApiRequests until ``Sforce-Limit-Info`` reports the real one.
    daily_api_limit: int = Field(15000, ge=1)
    #: Share of the daily allocation live work may use; backfills stop at 80 % of it.
    live_budget_share: float = Field(0.95, gt=0, le=1)
    #: Testing and demos: send every call to a Salesforce sandbox at this URL.
    sandbox_url: str | None = None
    client_id: str = "threadline"

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError("give the API version as 59.0 (no leading v)")
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not _DOMAIN.match(value) or value.endswith(".salesforce.com"):
            raise ValueError("use login, test or your My Domain label such as acme.my")
        return value

    @field_validator("org_id")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is not None and not _ORG_ID.match(value):
            raise ValueError("an org id is 15 or 18 characters starting with 00D")
        return value

    @field_validator("outbound_message_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            token = value.get_secret_value()
            if len(token) < 24 or not re.match(r"^[A-Za-z0-9_-]+$", token):
                raise ValueError("use at least 24 URL-safe random characters")
        return value

    @field_validator("cdc_secret")
    @classmethod
    def _cdc(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                make_verifier(value.get_secret_value())
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("streams")
    @classmethod
    def _streams(cls, value: dict[str, StreamOptions]) -> dict[str, StreamOptions]:
        unknown = sorted(set(value) - set(BY_STREAM))
        if unknown:
            raise ValueError(f"unknown stream(s) {unknown} (known: {', '.join(BY_STREAM)})")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SalesforceSettings:
        needed = {
            "password": ("username", "password", "security_token"),
            "refresh_token": ("consumer_key", "consumer_secret", "refresh_token", "instance_url"),
            "jwt": ("consumer_key", "username", "private_key"),
        }[self.auth]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"auth {self.auth!r} needs {', '.join(missing)}")
        if self.outbound_message_token is not None and self.org_id is None:
            raise ValueError("outbound_message_token needs org_id (messages are checked by org)")
        return self

    def stream(self, name: str) -> StreamOptions:
        return self.streams.get(name) or StreamOptions.model_validate({})
