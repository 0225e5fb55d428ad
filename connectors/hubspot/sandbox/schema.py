"""HubSpot's object types, their properties and association types, as data.

The sandbox validates every write against these definitions because HubSpot does: an
unknown property, a read-only property or a value outside an enumeration's options is a
400 ``VALIDATION_ERROR``. Property names and option values come from HubSpot's default
property sets (developers.hubspot.com/docs/api/crm/{contacts,calls,...}); association
type ids from the "Associations v4" guide's HUBSPOT_DEFINED table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import property_errors
from .timeutil import iso_ms, parse_datetime_ms

STRING, NUMBER, DATETIME, ENUM = "string", "number", "datetime", "enumeration"


@dataclass(frozen=True)
class PropertyDef:
    """One property: its type, allowed options (enumerations) and whether it is writable."""

    name: str
    type: str = STRING
    options: tuple[str, ...] = ()
    read_only: bool = False


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type as HubSpot exposes it on ``/crm/v3/objects/{name}``."""

    name: str  # plural path segment, e.g. "contacts"
    singular: str  # used in v3 association type names and error messages
    type_id: str  # e.g. "0-1"
    id_base: int  # first id handed out; distinct bases keep ids of different types apart
    properties: dict[str, PropertyDef]
    default_properties: tuple[str, ...]
    created_prop: str
    modified_prop: str
    unique_props: tuple[str, ...] = ()
    required_on_create: tuple[str, ...] = ()
    text_search_props: tuple[str, ...] = ()
    webhook_prefix: str | None = None  # legacy Webhooks API only covers some objects


def _props(*defs: PropertyDef) -> dict[str, PropertyDef]:
    return {d.name: d for d in defs}


def _common(created: str, modified: str) -> tuple[PropertyDef, ...]:
    return (
        PropertyDef("hs_object_id", NUMBER, read_only=True),
        PropertyDef(created, DATETIME, read_only=created == "hs_createdate"),
        PropertyDef(modified, DATETIME, read_only=True),
        PropertyDef("hubspot_owner_id"),
    )


LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer", "evangelist", "other")
LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
               "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING")
CALL_STATUS = ("BUSY", "CALLING_CRM_USER", "CANCELED", "COMPLETED", "CONNECTING", "FAILED",
               "IN_PROGRESS", "NO_ANSWER", "QUEUED", "RINGING")

CONTACTS = ObjectType(
    "contacts", "contact", "0-1", 101,
    _props(
        *_common("createdate", "lastmodifieddate"),
        PropertyDef("email"), PropertyDef("firstname"), PropertyDef("lastname"),
        PropertyDef("phone"), PropertyDef("mobilephone"), PropertyDef("company"),
        PropertyDef("jobtitle"), PropertyDef("city"), PropertyDef("state"),
        PropertyDef("country"), PropertyDef("zip"), PropertyDef("address"),
        PropertyDef("website"),
        PropertyDef("lifecyclestage", ENUM, LIFECYCLE),
        PropertyDef("hs_lead_status", ENUM, LEAD_STATUS),
        PropertyDef("notes_last_updated", DATETIME, read_only=True),
        PropertyDef("num_notes", NUMBER, read_only=True),
        PropertyDef("hs_merged_object_ids", read_only=True),
    ),
    ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "createdate", "lastmodifieddate",
    unique_props=("email",),
    text_search_props=("email", "firstname", "lastname", "phone", "mobilephone", "company"),
    webhook_prefix="contact",
)

COMPANIES = ObjectType(
    "companies", "company", "0-2", 10_000_001,
    _props(
        *_common("createdate", "hs_lastmodifieddate"),
        PropertyDef("name"), PropertyDef("domain"), PropertyDef("phone"),
        PropertyDef("city"), PropertyDef("state"), PropertyDef("country"),
        PropertyDef("industry"), PropertyDef("website"), PropertyDef("description"),
        PropertyDef("numberofemployees", NUMBER), PropertyDef("annualrevenue", NUMBER),
        PropertyDef("lifecyclestage", ENUM, LIFECYCLE),
    ),
    ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "createdate", "hs_lastmodifieddate",
    text_search_props=("name", "domain", "website", "phone"),
    webhook_prefix="company",
)


def _engagement(name: str, singular: str, type_id: str, base: int,
                *extra: PropertyDef) -> ObjectType:
    return ObjectType(
        name, singular, type_id, base,
        _props(*_common("hs_createdate", "hs_lastmodifieddate"),
               PropertyDef("hs_timestamp", DATETIME), *extra),
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        "hs_createdate", "hs_lastmodifieddate",
        required_on_create=("hs_timestamp",),
    )


CALLS = _engagement(
    "calls", "call", "0-48", 20_000_001,
    PropertyDef("hs_call_title"), PropertyDef("hs_call_body"),
    PropertyDef("hs_call_direction", ENUM, ("INBOUND", "OUTBOUND")),
    PropertyDef("hs_call_duration", NUMBER), PropertyDef("hs_call_from_number"),
    PropertyDef("hs_call_to_number"), PropertyDef("hs_call_recording_url"),
    PropertyDef("hs_call_status", ENUM, CALL_STATUS), PropertyDef("hs_call_disposition"),
)
EMAILS = _engagement(
    "emails", "email", "0-49", 30_000_001,
    PropertyDef("hs_email_direction", ENUM, ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL")),
    PropertyDef("hs_email_subject"), PropertyDef("hs_email_text"), PropertyDef("hs_email_html"),
    PropertyDef("hs_email_headers"),
    PropertyDef("hs_email_status", ENUM, ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")),
)
NOTES = _engagement(
    "notes", "note", "0-46", 40_000_001,
    PropertyDef("hs_note_body"), PropertyDef("hs_attachment_ids"),
)
MEETINGS = _engagement(
    "meetings", "meeting", "0-47", 50_000_001,
    PropertyDef("hs_meeting_title"), PropertyDef("hs_meeting_body"),
    PropertyDef("hs_internal_meeting_notes"), PropertyDef("hs_meeting_external_url"),
    PropertyDef("hs_meeting_location"), PropertyDef("hs_meeting_start_time", DATETIME),
    PropertyDef("hs_meeting_end_time", DATETIME),
    PropertyDef("hs_meeting_outcome", ENUM,
                ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")),
)

OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t for t in (CONTACTS, COMPANIES, CALLS, EMAILS, NOTES, MEETINGS)
}
_ALIASES: dict[str, str] = {}
for _t in OBJECT_TYPES.values():
    _ALIASES.update({_t.name: _t.name, _t.singular: _t.name, _t.type_id: _t.name})


def resolve_type(name: str) -> ObjectType | None:
    """Map ``contacts``, ``contact`` or ``0-1`` (all accepted by HubSpot) to the type."""
    key = _ALIASES.get(name.lower())
    return OBJECT_TYPES[key] if key else None


@dataclass(frozen=True)
class AssociationType:
    """A HUBSPOT_DEFINED association type: direction, v3 name and its inverse id."""

    type_id: int
    from_type: str
    to_type: str
    name: str
    inverse_id: int
    label: str | None = None


def _pairs() -> dict[int, AssociationType]:
    # (from, to, id, inverse id, v3 name, inverse v3 name, label)
    table: list[tuple[str, str, int, int, str, str, str | None]] = [
        ("contacts", "companies", 279, 280, "contact_to_company_unlabeled",
         "company_to_contact_unlabeled", None),
        ("contacts", "companies", 1, 2, "contact_to_company", "company_to_contact", "Primary"),
        ("contacts", "calls", 193, 194, "contact_to_call", "call_to_contact", None),
        ("contacts", "emails", 197, 198, "contact_to_email", "email_to_contact", None),
        ("contacts", "meetings", 199, 200, "contact_to_meeting", "meeting_to_contact", None),
        ("contacts", "notes", 201, 202, "contact_to_note", "note_to_contact", None),
        ("companies", "calls", 181, 182, "company_to_call", "call_to_company", None),
        ("companies", "emails", 185, 186, "company_to_email", "email_to_company", None),
        ("companies", "meetings", 187, 188, "company_to_meeting", "meeting_to_company", None),
        ("companies", "notes", 189, 190, "company_to_note", "note_to_company", None),
    ]
    out: dict[int, AssociationType] = {}
    for src, dst, tid, inv, name, inv_name, label in table:
        out[tid] = AssociationType(tid, src, dst, name, inv, label)
        out[inv] = AssociationType(inv, dst, src, inv_name, tid, label)
    return out


ASSOCIATION_TYPES: dict[int, AssociationType] = _pairs()

DEFAULT_ASSOCIATION: dict[tuple[str, str], int] = {
    (a.from_type, a.to_type): a.type_id
    for a in ASSOCIATION_TYPES.values()
    if a.label is None
}
"""The unlabeled type id ``associations/default`` creates for each pair."""


@dataclass
class PropertyProblem:
    """One entry of HubSpot's ``Property values were not valid`` list."""

    name: str
    error: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"isValid": False, "message": self.message, "error": self.error,
                "name": self.name, "localizedErrorMessage": self.message, **self.extra}


def _normalise_value(definition: PropertyDef, raw: Any) -> tuple[str, PropertyProblem | None]:
    """Coerce one input value to the string HubSpot stores, or report why it is invalid."""
    if raw is None:
        return "", None
    if isinstance(raw, dict | list):
        return "", PropertyProblem(definition.name, "INVALID_VALUE",
                                   f"{raw!r} is not a valid value for {definition.name}")
    text = str(raw).lower() if isinstance(raw, bool) else str(raw)
    if text == "":
        return "", None  # HubSpot: an empty string clears the value
    if definition.type == NUMBER:
        try:
            float(text)
        except ValueError:
            return "", PropertyProblem(definition.name, "INVALID_INTEGER",
                                       f"{text} was not a valid number.")
    elif definition.type == DATETIME:
        ms = parse_datetime_ms(text)
        if ms is None:
            return "", PropertyProblem(definition.name, "INVALID_DATE",
                                       f"{text} was not a valid long or ISO-8601 datetime.")
        return iso_ms(ms), None
    elif definition.type == ENUM and text not in definition.options:
        return "", PropertyProblem(
            definition.name, "INVALID_OPTION",
            f"{text} was not one of the allowed options: [{', '.join(definition.options)}]")
    return text, None


def validate_properties(obj: ObjectType, raw: Any, *, creating: bool) -> dict[str, str]:
    """Check a ``properties`` input and return the normalised values to store.

    Raises the 400 HubSpot returns, listing every problem at once like HubSpot does.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise property_errors([PropertyProblem("properties", "INVALID_VALUE",
                                               "properties must be an object").as_dict()])
    problems: list[PropertyProblem] = []
    values: dict[str, str] = {}
    for name, value in raw.items():
        definition = obj.properties.get(name)
        if definition is None:
            problems.append(PropertyProblem(name, "PROPERTY_DOESNT_EXIST",
                                            f'Property "{name}" does not exist'))
            continue
        if definition.read_only:
            problems.append(PropertyProblem(
                name, "READ_ONLY_VALUE",
                f"{name} is a read only property; its value cannot be set."))
            continue
        text, problem = _normalise_value(definition, value)
        if problem:
            problems.append(problem)
        else:
            values[name] = text
    if creating:
        for name in obj.required_on_create:
            if not values.get(name) and not any(p.name == name for p in problems):
                problems.append(PropertyProblem(name, "REQUIRED_PROPERTY",
                                                f"{name} is a required property"))
    if problems:
        raise property_errors([p.as_dict() for p in problems])
    return values
