"""The data endpoint a HubSpot app card reads: Threadline's cross-channel context for
the CRM record the agent has open.

HubSpot facts: app cards are UI extensions (React) that call ``hubspot.fetch(url,
{method, body})``; HubSpot proxies the request from its servers, signs it with v3
(``X-HubSpot-Signature-v3`` over method + URL + body + timestamp with the app's client
secret) and appends ``userId``, ``userEmail``, ``appId`` and ``portalId`` to the query.
``hubspot.fetch`` gives up after 15 seconds (legacy CRM cards: 5 s), and legacy CRM
cards are deprecated as of 31 Oct 2026, so this serves app cards. There is no fixed
response schema: this is the contract between Threadline and its own card.

Request (the card passes the record it is on; ``context.crm.objectId`` in the card)::

    GET  /webhooks/<connector>/app-card?objectId=101[&objectTypeId=0-1]
    POST /webhooks/<connector>/app-card   {"objectId": "101", "objectTypeId": "0-1"}

Response 200 (``found: false`` when Threadline has no context for the record)::

    {"version": 1, "found": true, "portalId": 62515, "objectId": "101",
     "title": "Ada Lovelace", "contact": {"id", "display_name", "first_name",
     "last_name", "company", "language", "tier"},
     "channels": ["voice", "email"],
     "identities": [{"connector", "object_type", "external_id"}],
     "identifiers": [{"kind": "phone", "value": "+1555…"}],
     "interactions": [{"id", "channel", "direction", "occurred_at", "status",
                       "summary", "agent", "source"}],
     "message": "3 recent interactions across 2 channels"}

It only reads our own store (one query), never HubSpot, so it answers in milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr

from hub.plugin import AckResponse, InboundEndpoint, InboundEvent
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.hubspot import verify_hubspot

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotSettings
    from hub.context import ConnectorContext

OBJECT_TYPES = {"0-1": "contact", "contact": "contact", "0-2": "company", "company": "company"}


class AppCardEndpoint(InboundEndpoint):
    """``/webhooks/<connector>/app-card``: a query endpoint (stores nothing)."""

    methods: ClassVar[tuple[str, ...]] = ("GET", "POST")
    query: ClassVar[bool] = True

    def __init__(
        self,
        secret: SecretStr,
        settings: HubSpotSettings,
        context: Callable[[], ConnectorContext],
        name: str = "app-card",
    ) -> None:
        super().__init__(name)
        self._secret = secret.get_secret_value()
        self._settings = settings
        self._context = context

    def verify(self, raw: RawRequest) -> None:
        # hubspot.fetch requests are always signed with v3; v1/v2 are never accepted here.
        try:
            verify_hubspot(raw, self._secret, require_v3=True)
        except SignatureError:
            raise
        except Exception as exc:  # noqa: BLE001 - a verifier must be total: any failure is a 401
            raise SignatureError(f"unverifiable HubSpot request ({type(exc).__name__})") from None

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        return []  # a query endpoint: the hub calls ``answer`` instead

    def _target(self, raw: RawRequest) -> tuple[str, str]:
        query = raw.query
        body: Any = {}
        if raw.body:
            try:
                body = json.loads(raw.body)
            except (ValueError, UnicodeDecodeError):
                raise PayloadError("body is not valid JSON") from None
            if not isinstance(body, dict):
                raise PayloadError("body must be a JSON object with objectId")
        object_id = str(
            body.get("objectId") or query.get("objectId") or query.get("associatedObjectId") or ""
        ).strip()
        kind = (
            str(
                body.get("objectTypeId")
                or query.get("objectTypeId")
                or query.get("associatedObjectType")
                or "0-1"
            )
            .strip()
            .lower()
        )
        if not object_id.isdigit():
            raise PayloadError("objectId (the HubSpot record id) is required")
        object_type = OBJECT_TYPES.get(kind)
        if object_type is None:
            raise PayloadError(f"objectTypeId {kind!r} is not supported (use 0-1 or 0-2)")
        portal = query.get("portalId")
        if portal and portal != str(self._settings.portal_id):
            raise PayloadError("this card is configured for another HubSpot portal")
        return object_type, object_id

    def answer(self, raw: RawRequest) -> AckResponse:
        object_type, object_id = self._target(raw)
        limit = self._settings.pop.interactions
        found = self._context().contact_context(object_type, object_id, interactions=limit)
        body: dict[str, Any] = {
            "version": 1,
            "portalId": self._settings.portal_id,
            "objectId": object_id,
        }
        if not found:
            body.update(
                found=False,
                title="Threadline",
                message="No Threadline context for this record yet: no calls, "
                "chats or messages from this customer have reached us.",
                interactions=[],
                identities=[],
                identifiers=[],
                channels=[],
            )
        else:
            body.update(card_body(found))
        return AckResponse(body=json.dumps(body, default=str).encode())


def card_body(found: dict[str, Any]) -> dict[str, Any]:
    """The card's view of ``ConnectorContext.contact_context``."""
    interactions = [
        {
            k: item.get(k)
            for k in (
                "id",
                "channel",
                "direction",
                "occurred_at",
                "status",
                "summary",
                "agent",
                "source",
            )
        }
        for item in found.get("interactions", [])
    ]
    channels = list(dict.fromkeys(i["channel"] for i in interactions if i.get("channel")))
    contact = {
        k: found.get(k)
        for k in ("id", "display_name", "first_name", "last_name", "company", "language", "tier")
    }
    title = (
        contact["display_name"]
        or " ".join(p for p in (contact["first_name"], contact["last_name"]) if p)
        or "Unnamed contact"
    )
    return {
        "found": True,
        "title": title,
        "contact": contact,
        "channels": channels,
        "identities": [
            {k: i.get(k) for k in ("connector", "object_type", "external_id")}
            for i in found.get("identities", [])
            if not i.get("deleted")
        ],
        "identifiers": found.get("identifiers", []),
        "interactions": interactions,
        "message": f"{len(interactions)} recent interaction(s) across {len(channels)} channel(s)",
    }
