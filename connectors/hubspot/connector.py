"""The ``hubspot`` connector: CRM objects and engagements in, screen pops out.

Declarations only; the work lives beside it: ``client.py`` (budgets, retries, errors),
``auth.py`` (tokens), ``streams.py`` (pull), ``inbound.py`` (webhooks and their
interpretation), ``appcard.py`` (the app card's data endpoint), ``targets.py`` (pops).
Vendor-side setup is in this folder's README.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.hubspot.appcard import AppCardEndpoint
from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.inbound import HubSpotWebhooks, Interpreter
from connectors.hubspot.objects import OBJECTS
from connectors.hubspot.streams import ObjectStream, make_streams
from connectors.hubspot.targets import HubSpotPopTarget
from hub.plugin import (
    Change,
    CheckResult,
    Connector,
    InboundEndpoint,
    InboundEvent,
    PushTarget,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitSettings(_Model):
    """HubSpot's per-portal limits; defaults are a private app on Free/Starter
    (100/10 s, 250k/day; Pro/Enterprise 190/10 s; OAuth apps 110/10 s; search 5/s)."""

    per_ten_seconds: int = Field(default=100, ge=1)
    daily: int = Field(default=250_000, ge=1)
    search_per_second: int = Field(default=5, ge=1)
    max_retries: int = Field(default=4, ge=0, le=10)
    retry_base_seconds: float = Field(default=1.0, ge=0)
    max_wait_seconds: float = Field(default=20.0, ge=0)


class PopSettings(_Model):
    """What a pop leaves on the HubSpot contact: a note (default) or a call engagement."""

    engagement: Literal["note", "call"] = "note"
    interactions: int = Field(default=5, ge=0, le=50)


class HubSpotSettings(_Model):
    """One HubSpot portal. Give ``access_token`` (private app) or ``client_id`` +
    ``client_secret`` + ``refresh_token`` (public app, OAuth)."""

    portal_id: int = Field(ge=1)
    access_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    #: Signs webhooks and app-card fetches (v3). A public app signs with its client
    #: secret, which is the default; a private app has its own.
    app_client_secret: SecretStr | None = None
    require_v3: bool = True
    api_host: str = "https://api.hubapi.com"
    rate_limits: RateLimitSettings = RateLimitSettings()
    pop: PopSettings = PopSettings()
    #: Extra (custom) properties to read per object type: {contact: [loyalty_tier]}.
    properties: dict[str, list[str]] = Field(default_factory=dict)
    page_size: int = Field(default=100, ge=1, le=200)
    search_window: int = Field(default=0, ge=0, le=10_000)
    lookback_seconds: int = Field(default=0, ge=0, le=86_400)
    #: Read the next page while the hub stores this one (PostgreSQL; hub/sync.py).
    read_ahead: bool = False
    #: A full backfill gathers list pages (100 records at most each) until it holds this
    #: many records, then the hub stores them in one transaction (0: each list page).
    backfill_page_records: int = Field(default=0, ge=0, le=10_000)
    refresh_margin_seconds: float = Field(default=300, ge=0)
    timeout_seconds: float = Field(default=10, gt=0)
    hydration_cache_seconds: float = Field(default=30, ge=0)

    @model_validator(mode="after")
    def _one_auth(self) -> HubSpotSettings:
        oauth = [self.client_id, self.client_secret, self.refresh_token]
        if self.access_token is None and not all(oauth):
            raise ValueError(
                "give access_token (private app) or client_id, client_secret "
                "and refresh_token (OAuth)"
            )
        if self.access_token is not None and self.refresh_token is not None:
            raise ValueError("give access_token or refresh_token, not both")
        unknown = set(self.properties) - set(OBJECTS)
        if unknown:
            raise ValueError(
                f"properties: unknown object type(s) {sorted(unknown)}; known: {sorted(OBJECTS)}"
            )
        return self

    @property
    def signing_secret(self) -> SecretStr | None:
        return self.app_client_secret or self.client_secret


class HubSpotConnector(Connector):
    type_name = "hubspot"
    description = "HubSpot CRM: contacts, companies and engagements; webhooks, app card, pops"
    settings_model = HubSpotSettings
    object_types = ("contact", "company", "call", "email", "note", "meeting")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, HubSpotSettings)
        self.hs_settings = settings
        self.api = HubSpotApi(settings, name, lambda: self.context)
        self._streams = make_streams(self.api)
        self._interpreter = Interpreter(self.api)
        self._target = HubSpotPopTarget(self.api, lambda: self.context)

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        # Declared only with a signing secret: an unverifiable endpoint must not exist.
        secret = self.hs_settings.signing_secret
        if secret is None:
            return ()
        return (
            HubSpotWebhooks(secret, self.hs_settings),
            AppCardEndpoint(secret, self.hs_settings, lambda: self.context),
        )

    def streams(self) -> Sequence[ObjectStream]:
        return self._streams

    def push_targets(self) -> Sequence[PushTarget]:
        return (self._target,)

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        return self._interpreter.interpret(event)

    def check(self) -> CheckResult:
        """One cheap authenticated read (a contact page of one)."""
        from hub.errors import ConnectorError

        try:
            self.api.call(
                lambda c: c.crm.contacts.basic_api.get_page_with_http_info(limit=1), what="check"
            )
        except ConnectorError as exc:
            return CheckResult(ok=False, detail=str(exc))
        webhooks = "on" if self.hs_settings.signing_secret else "off (no app_client_secret)"
        return CheckResult(
            ok=True,
            detail=f"portal {self.hs_settings.portal_id} reachable; "
            f"webhooks and app card {webhooks}",
        )
