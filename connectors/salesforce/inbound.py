"""Webhooks in: Outbound Messages (SOAP) and Change Data Capture relayed with a signature.

**Outbound Messages** (protocols.md §2.6) carry no signature. Authenticity is an
unguessable token in the URL (``/webhooks/<name>/outbound-messages/<token>``, compared in
constant time) plus the ``OrganizationId`` in the body, which must be this org's. The
body is SOAP with 1-100 ``Notification`` elements, each keyed by its ``Id`` (Salesforce
retries for 24 h, out of order, and may duplicate: "check the notification IDs").
Salesforce counts anything but the exact SOAP ``Ack`` as a failure and retries.

**CDC / Platform Events** (protocols.md §2.7) reach the hub through a relay (a Pub/Sub or
CometD subscriber, or middleware) that signs each POST with Standard Webhooks. The body is
the CometD ``data`` object (``{"schema", "payload": {"ChangeEventHeader": …}, "event":
{"replayId"}}``), the bare ``payload``, or a JSON list of those. The key is
``transactionKey:sequenceNumber``, else the ``replayId``, else ``webhook-id``.

No DTDs are accepted in SOAP (SOAP 1.1 §3 forbids them), which also shuts out entity
expansion attacks without depending on ``defusedxml`` (not installed here).
"""

from __future__ import annotations

import hmac
import json
import xml.etree.ElementTree as ET  # DTDs are refused before parsing (see parse_soap)
from typing import Any
from urllib.parse import unquote, urlsplit

from standardwebhooks.webhooks import Webhook

from connectors.salesforce.objects import ID_RE
from hub.plugin import AckResponse, InboundEndpoint, InboundEvent, IntakeResult
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.standard import verify as verify_standard

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
    b" <soapenv:Body>\n"
    b'  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    b"<Ack>true</Ack></notificationsResponse>\n"
    b" </soapenv:Body>\n"
    b"</soapenv:Envelope>\n"
)
CHANGE_TYPES = {
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_soap(body: bytes) -> ET.Element:
    """Parse a SOAP body safely; PayloadError on anything that is not plain XML."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the SOAP body is not UTF-8") from None
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        raise PayloadError("a SOAP message must not contain a DTD")
    try:
        return ET.fromstring(body)  # noqa: S314 - no DTD, so no entities to expand
    except ET.ParseError:
        raise PayloadError("the body is not well-formed XML") from None


def _notifications(root: ET.Element) -> ET.Element:
    if _local(root.tag) != "Envelope" or root.tag != f"{{{SOAP_NS}}}Envelope":
        raise PayloadError("not a SOAP 1.1 envelope")
    found = root.find(f"{{{SOAP_NS}}}Body/{{{OM_NS}}}notifications")
    if found is None:
        raise PayloadError("no outbound message notifications in the SOAP body")
    return found


def _sobject(element: ET.Element) -> tuple[str, dict[str, Any]]:
    kind = element.get(f"{{{XSI_NS}}}type", "")
    sobject = kind.rsplit(":", 1)[-1]
    fields: dict[str, Any] = {}
    for child in element:
        nil = child.get(f"{{{XSI_NS}}}nil") == "true"
        fields[_local(child.tag)] = None if nil else (child.text or "")
    return sobject, fields


class OutboundMessageEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>/outbound-messages/<token>``."""

    def __init__(self, token: str, org_id: str, name: str = "outbound-messages") -> None:
        super().__init__(name)
        self._token = token.encode()
        self._org15 = org_id[:15]

    def _path_token(self, raw: RawRequest) -> str:
        segments = [unquote(s) for s in urlsplit(raw.url).path.split("/")]
        try:
            at = segments.index(self.name)
        except ValueError:
            return ""
        rest = [s for s in segments[at + 1 :] if s]
        return rest[0] if len(rest) == 1 else ""

    def verify(self, raw: RawRequest) -> None:
        token = self._path_token(raw).encode()
        if not hmac.compare_digest(token, self._token):
            raise SignatureError("missing or wrong path token in the outbound message URL")
        try:
            org = _notifications(parse_soap(raw.body)).findtext(f"{{{OM_NS}}}OrganizationId")
        except PayloadError:
            return  # authentic URL, broken body: parse() answers 400
        if not org or not hmac.compare_digest(org.strip()[:15].encode(), self._org15.encode()):
            raise SignatureError("OrganizationId is not this connector's org")

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        root = _notifications(parse_soap(raw.body))
        org = (root.findtext(f"{{{OM_NS}}}OrganizationId") or "").strip()
        action = (root.findtext(f"{{{OM_NS}}}ActionId") or "").strip()
        items = root.findall(f"{{{OM_NS}}}Notification")
        if not items:
            raise PayloadError("an outbound message holds 1 to 100 notifications; found none")
        if len(items) > MAX_NOTIFICATIONS:
            raise PayloadError(
                f"an outbound message holds at most {MAX_NOTIFICATIONS} "
                f"notifications; found {len(items)}"
            )
        parsed = []
        for index, item in enumerate(items):
            notification_id = (item.findtext(f"{{{OM_NS}}}Id") or "").strip()
            element = item.find(f"{{{OM_NS}}}sObject")
            if not ID_RE.match(notification_id) or element is None:
                raise PayloadError(f"Notification[{index}] needs an Id and an sObject")
            sobject, fields = _sobject(element)
            if not sobject or not ID_RE.match(str(fields.get("Id") or "")):
                raise PayloadError(f"Notification[{index}].sObject needs xsi:type and an Id")
            parsed.append((notification_id, sobject, fields))
        batch: dict[str, list[str]] = {}
        for _, sobject, fields in parsed:
            batch.setdefault(sobject, []).append(str(fields["Id"]))
        return [
            InboundEvent(
                key=notification_id,
                event_type=f"outbound_message.{sobject}",
                payload={
                    "kind": "outbound_message",
                    "organization_id": org,
                    "action_id": action,
                    "notification_id": notification_id,
                    "sobject": sobject,
                    "fields": fields,
                    "batch_ids": batch[sobject],
                },
            )
            for notification_id, sobject, fields in parsed
        ]

    def ack(self, raw: RawRequest, result: IntakeResult) -> AckResponse:
        """The SOAP Ack Salesforce requires once the notifications are durable."""
        return AckResponse(status=200, body=ACK, content_type="text/xml")


def _header(payload: dict[str, Any], where: str) -> dict[str, Any]:
    header = payload.get("ChangeEventHeader")
    if not isinstance(header, dict):
        raise PayloadError(f"{where}.ChangeEventHeader must be an object")
    entity, change = header.get("entityName"), header.get("changeType")
    ids = header.get("recordIds")
    if not isinstance(entity, str) or not entity:
        raise PayloadError(f"{where}.ChangeEventHeader.entityName must be a string")
    if change not in CHANGE_TYPES:
        raise PayloadError(
            f"{where}.ChangeEventHeader.changeType {change!r} is not a CDC change type"
        )
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise PayloadError(f"{where}.ChangeEventHeader.recordIds must be a list of ids")
    if len(ids) > 10_000:
        raise PayloadError(f"{where}.ChangeEventHeader.recordIds is too long")
    return header


class ChangeEventEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>/events``: CDC and platform events, Standard Webhooks signed."""

    def __init__(self, verifier: Webhook, name: str = "events") -> None:
        super().__init__(name)
        self._verifier = verifier

    def verify(self, raw: RawRequest) -> None:
        verify_standard(raw, self._verifier)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            raise PayloadError("body is not valid JSON") from None
        items = document if isinstance(document, list) else [document]
        if not items or len(items) > MAX_NOTIFICATIONS:
            raise PayloadError(f"send 1 to {MAX_NOTIFICATIONS} events per request")
        webhook_id = raw.header("webhook-id") or ""
        return [self._event(item, f"[{i}]", webhook_id, len(items)) for i, item in enumerate(items)]

    def _event(self, item: Any, where: str, webhook_id: str, count: int) -> InboundEvent:
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be a JSON object")
        payload = item.get("payload", item)
        if not isinstance(payload, dict):
            raise PayloadError(f"{where}.payload must be an object")
        raw_event = item.get("event")
        event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
        replay = event.get("replayId", payload.get("ReplayId"))
        fallback = webhook_id if count == 1 else f"{webhook_id}:{where}"
        if "ChangeEventHeader" not in payload:
            key = f"replay:{replay}" if replay is not None else fallback
            return InboundEvent(
                key=key,
                event_type="platform_event",
                payload={"kind": "platform_event", "event": payload},
            )
        header = _header(payload, where)
        if header.get("transactionKey") and header.get("sequenceNumber") is not None:
            key = f"{header['transactionKey']}:{header['sequenceNumber']}"
        else:
            key = f"replay:{replay}" if replay is not None else fallback
        fields = {k: v for k, v in payload.items() if k != "ChangeEventHeader"}
        return InboundEvent(
            key=key,
            event_type=f"cdc.{header['changeType']}",
            payload={"kind": "cdc", "header": header, "fields": fields, "replay_id": replay},
        )
