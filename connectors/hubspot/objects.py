"""HubSpot's CRM object types as data: where each lives in the SDK, what to read, how
each engagement associates to a contact.

Facts (../shared/protocols.md §1.3-1.6): contacts are modified on ``lastmodifieddate``,
every other object on ``hs_lastmodifieddate``; object type ids contact ``0-1``, company
``0-2``, call ``0-48``, email ``0-49``, note ``0-46``, meeting ``0-47``; HUBSPOT_DEFINED
association type ids engagement → contact: call 194, email 198, meeting 200, note 202.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class HubSpotObject:
    """One CRM object type as the connector reads it."""

    object_type: str  # ours, and the mapping file's name: "contact"
    api_name: str  # HubSpot's path segment: "contacts"
    type_id: str
    sdk_path: tuple[str, ...]  # attribute path on hubspot.Client: ("crm", "contacts")
    module: str  # the SDK package holding this API's models
    modified_prop: str
    properties: tuple[str, ...]
    to_contact_type: int | None = None  # engagements: association type id → contact

    @property
    def engagement(self) -> bool:
        return self.to_contact_type is not None

    def discovery(self, client: Any) -> Any:
        """``client.crm.contacts`` or ``client.crm.objects.calls``."""
        node = client
        for name in self.sdk_path:
            node = getattr(node, name)
        return node

    def models(self) -> ModuleType:
        return importlib.import_module(self.module)


_ENGAGEMENT_COMMON = ("hs_timestamp", "hs_createdate", "hs_lastmodifieddate", "hubspot_owner_id")

OBJECTS: dict[str, HubSpotObject] = {
    o.object_type: o
    for o in (
        HubSpotObject(
            "contact",
            "contacts",
            "0-1",
            ("crm", "contacts"),
            "hubspot.crm.contacts",
            "lastmodifieddate",
            (
                "email",
                "firstname",
                "lastname",
                "phone",
                "mobilephone",
                "company",
                "jobtitle",
                "city",
                "country",
                "lifecyclestage",
                "hs_lead_status",
                "createdate",
                "lastmodifieddate",
                "hs_merged_object_ids",
            ),
        ),
        HubSpotObject(
            "company",
            "companies",
            "0-2",
            ("crm", "companies"),
            "hubspot.crm.companies",
            "hs_lastmodifieddate",
            (
                "name",
                "domain",
                "phone",
                "city",
                "country",
                "industry",
                "website",
                "numberofemployees",
                "createdate",
                "hs_lastmodifieddate",
            ),
        ),
        HubSpotObject(
            "call",
            "calls",
            "0-48",
            ("crm", "objects", "calls"),
            "hubspot.crm.objects.calls",
            "hs_lastmodifieddate",
            (
                *_ENGAGEMENT_COMMON,
                "hs_call_title",
                "hs_call_body",
                "hs_call_direction",
                "hs_call_duration",
                "hs_call_from_number",
                "hs_call_to_number",
                "hs_call_status",
                "hs_call_disposition",
                "hs_call_recording_url",
            ),
            to_contact_type=194,
        ),
        HubSpotObject(
            "email",
            "emails",
            "0-49",
            ("crm", "objects", "emails"),
            "hubspot.crm.objects.emails",
            "hs_lastmodifieddate",
            (
                *_ENGAGEMENT_COMMON,
                "hs_email_direction",
                "hs_email_subject",
                "hs_email_text",
                "hs_email_status",
            ),
            to_contact_type=198,
        ),
        HubSpotObject(
            "note",
            "notes",
            "0-46",
            ("crm", "objects", "notes"),
            "hubspot.crm.objects.notes",
            "hs_lastmodifieddate",
            (*_ENGAGEMENT_COMMON, "hs_note_body"),
            to_contact_type=202,
        ),
        HubSpotObject(
            "meeting",
            "meetings",
            "0-47",
            ("crm", "objects", "meetings"),
            "hubspot.crm.objects.meetings",
            "hs_lastmodifieddate",
            (
                *_ENGAGEMENT_COMMON,
                "hs_meeting_title",
                "hs_meeting_body",
                "hs_meeting_outcome",
                "hs_meeting_start_time",
                "hs_meeting_end_time",
                "hs_meeting_location",
            ),
            to_contact_type=200,
        ),
    )
}

BY_TYPE_ID = {o.type_id: o for o in OBJECTS.values()}
BY_API_NAME = {o.api_name: o for o in OBJECTS.values()}

#: Marker written into every pop note/call body so the engagement streams can recognise
#: (and skip) Threadline's own pops instead of echoing them onto the timeline.
POP_MARKER = "threadline-pop:"


def resolve(name: str) -> HubSpotObject | None:
    """``contact``, ``contacts``, ``CONTACT`` or ``0-1`` → the object; None if unknown."""
    key = name.strip().lower()
    return OBJECTS.get(key) or BY_API_NAME.get(key) or BY_TYPE_ID.get(key)
