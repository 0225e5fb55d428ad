"""The standard objects and the default platform event, declared as data.

Field names, types, lengths and flags follow the Salesforce Object Reference for
the standard objects a contact center touches (Contact, Lead, Account, Case,
Task, Event, User). Only a realistic subset of each object's fields is modelled;
anything else is rejected exactly as an org without that field would reject it.
"""

from __future__ import annotations

from .schema import STRING_TYPES, Field, SObjectType


def _ro(name: str, type_: str, **kw: object) -> Field:
    """A read-only (system-maintained) field."""
    return Field(name, type_, createable=False, updateable=False, **kw)  # type: ignore[arg-type]


def _system_fields(with_deleted: bool = True) -> list[Field]:
    fields = [
        _ro("Id", "id", label="Record ID", length=18, nillable=False),
        Field(
            "OwnerId",
            "reference",
            label="Owner ID",
            length=18,
            nillable=False,
            reference_to=("User",),
            relationship_name="Owner",
        ),
        _ro("CreatedDate", "datetime", nillable=False),
        _ro(
            "CreatedById",
            "reference",
            length=18,
            nillable=False,
            reference_to=("User",),
            relationship_name="CreatedBy",
        ),
        _ro("LastModifiedDate", "datetime", nillable=False),
        _ro(
            "LastModifiedById",
            "reference",
            length=18,
            nillable=False,
            reference_to=("User",),
            relationship_name="LastModifiedBy",
        ),
        _ro("SystemModstamp", "datetime", label="System Modstamp", nillable=False),
    ]
    if with_deleted:
        fields.append(_ro("IsDeleted", "boolean", label="Deleted", nillable=False))
    return fields


def _address(prefix: str) -> list[Field]:
    return [
        Field(f"{prefix}Street", "textarea", length=255),
        Field(f"{prefix}City", "string", length=40),
        Field(f"{prefix}State", "string", label=f"{prefix} State/Province", length=80),
        Field(f"{prefix}PostalCode", "string", label=f"{prefix} Zip/Postal Code", length=20),
        Field(f"{prefix}Country", "string", length=80),
    ]


def _long_text(name: str, length: int = 32000) -> Field:
    """Long text areas cannot be filtered or sorted in SOQL (Salesforce rule)."""
    return Field(name, "textarea", length=length, filterable=False, sortable=False)


LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
EXTERNAL_KEY = Field(
    "Threadline_Key__c", "string", label="Threadline Key", length=64, external_id=True
)

CONTACT = SObjectType(
    "Contact",
    "003",
    "Contact",
    "Contacts",
    tuple(
        [
            *_system_fields(),
            Field(
                "AccountId",
                "reference",
                length=18,
                reference_to=("Account",),
                relationship_name="Account",
            ),
            Field(
                "Salutation", "picklist", length=40, picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
            ),
            Field("FirstName", "string", length=40),
            Field("LastName", "string", length=80, nillable=False, required=True),
            _ro("Name", "string", label="Full Name", length=121, nillable=False),
            Field("Title", "string", length=128),
            Field("Department", "string", length=80),
            Field("Email", "email", length=80),
            Field("Phone", "phone", label="Business Phone", length=40),
            Field("MobilePhone", "phone", label="Mobile Phone", length=40),
            Field("HomePhone", "phone", label="Home Phone", length=40),
            *_address("Mailing"),
            Field("LeadSource", "picklist", length=255, picklist=LEAD_SOURCES),
            Field("Birthdate", "date"),
            Field("HasOptedOutOfEmail", "boolean", label="Email Opt Out", nillable=False),
            Field("DoNotCall", "boolean", label="Do Not Call", nillable=False),
            _long_text("Description"),
            EXTERNAL_KEY,
        ]
    ),
)

LEAD = SObjectType(
    "Lead",
    "00Q",
    "Lead",
    "Leads",
    tuple(
        [
            *_system_fields(),
            Field("FirstName", "string", length=40),
            Field("LastName", "string", length=80, nillable=False, required=True),
            _ro("Name", "string", label="Full Name", length=121, nillable=False),
            Field("Company", "string", length=255, nillable=False, required=True),
            Field("Title", "string", length=128),
            Field("Email", "email", length=80),
            Field("Phone", "phone", length=40),
            Field("MobilePhone", "phone", label="Mobile Phone", length=40),
            *_address(""),
            Field(
                "Status",
                "picklist",
                label="Lead Status",
                length=255,
                nillable=False,
                picklist=(
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ),
            ),
            Field("LeadSource", "picklist", length=255, picklist=LEAD_SOURCES),
            Field("Industry", "picklist", length=255),
            _ro("IsConverted", "boolean", label="Converted", nillable=False),
            _long_text("Description"),
            EXTERNAL_KEY,
        ]
    ),
)

ACCOUNT = SObjectType(
    "Account",
    "001",
    "Account",
    "Accounts",
    tuple(
        [
            *_system_fields(),
            Field(
                "Name", "string", label="Account Name", length=255, nillable=False, required=True
            ),
            Field("AccountNumber", "string", length=40),
            Field(
                "Type",
                "picklist",
                label="Account Type",
                length=255,
                picklist=(
                    "Prospect",
                    "Customer - Direct",
                    "Customer - Channel",
                    "Partner",
                    "Other",
                ),
            ),
            Field("Industry", "picklist", length=255),
            Field("Phone", "phone", label="Account Phone", length=40),
            Field("Website", "url", length=255),
            *_address("Billing"),
            Field("NumberOfEmployees", "int", label="Employees"),
            Field("AnnualRevenue", "currency"),
            _long_text("Description"),
            EXTERNAL_KEY,
        ]
    ),
)

CASE = SObjectType(
    "Case",
    "500",
    "Case",
    "Cases",
    tuple(
        [
            *_system_fields(),
            _ro("CaseNumber", "string", label="Case Number", length=30, nillable=False),
            Field(
                "ContactId",
                "reference",
                length=18,
                reference_to=("Contact",),
                relationship_name="Contact",
            ),
            Field(
                "AccountId",
                "reference",
                length=18,
                reference_to=("Account",),
                relationship_name="Account",
            ),
            Field("Subject", "string", length=255),
            _long_text("Description"),
            Field(
                "Status", "picklist", length=255, picklist=("New", "Working", "Escalated", "Closed")
            ),
            Field("Priority", "picklist", length=255, picklist=("High", "Medium", "Low")),
            Field(
                "Origin",
                "picklist",
                label="Case Origin",
                length=255,
                picklist=("Phone", "Email", "Web", "Chat"),
            ),
            Field(
                "Type",
                "picklist",
                label="Case Type",
                length=255,
                picklist=("Question", "Problem", "Feature Request"),
            ),
            Field("Reason", "picklist", label="Case Reason", length=255),
            Field("SuppliedName", "string", label="Web Name", length=80),
            Field("SuppliedEmail", "email", label="Web Email", length=80),
            Field("SuppliedPhone", "string", label="Web Phone", length=40),
            _ro("IsClosed", "boolean", label="Closed", nillable=False),
            _ro("ClosedDate", "datetime", label="Closed Date"),
        ]
    ),
)

_ACTIVITY_COMMON = [
    Field(
        "WhoId",
        "reference",
        label="Name ID",
        length=18,
        reference_to=("Contact", "Lead"),
        relationship_name="Who",
    ),
    Field(
        "WhatId",
        "reference",
        label="Related To ID",
        length=18,
        reference_to=("Account", "Case"),
        relationship_name="What",
    ),
    Field("Subject", "combobox", length=255),
    _long_text("Description"),
    _ro(
        "AccountId", "reference", length=18, reference_to=("Account",), relationship_name="Account"
    ),
]

TASK = SObjectType(
    "Task",
    "00T",
    "Task",
    "Tasks",
    tuple(
        [
            *_system_fields(),
            *_ACTIVITY_COMMON,
            Field("ActivityDate", "date", label="Due Date Only"),
            Field(
                "Status",
                "picklist",
                length=40,
                nillable=False,
                picklist=(
                    "Not Started",
                    "In Progress",
                    "Completed",
                    "Waiting on someone else",
                    "Deferred",
                ),
            ),
            Field(
                "Priority",
                "picklist",
                length=40,
                nillable=False,
                picklist=("High", "Normal", "Low"),
            ),
            Field(
                "TaskSubtype",
                "picklist",
                label="Task Subtype",
                length=40,
                picklist=("Task", "Email", "Call"),
            ),
            Field("CallType", "picklist", length=40, picklist=("Internal", "Inbound", "Outbound")),
            Field("CallDurationInSeconds", "int", label="Call Duration"),
            Field("CallObject", "string", label="Call Object Identifier", length=255),
            Field("CallDisposition", "string", label="Call Result", length=255),
            _ro("IsClosed", "boolean", label="Closed", nillable=False),
        ]
    ),
)

EVENT = SObjectType(
    "Event",
    "00U",
    "Event",
    "Events",
    tuple(
        [
            *_system_fields(),
            *_ACTIVITY_COMMON,
            Field("StartDateTime", "datetime", label="Start Date Time"),
            Field("EndDateTime", "datetime", label="End Date Time"),
            Field("ActivityDateTime", "datetime", label="Due Date Time"),
            Field("ActivityDate", "date", label="Due Date Only"),
            Field("DurationInMinutes", "int", label="Duration"),
            Field("IsAllDayEvent", "boolean", label="All-Day Event", nillable=False),
            Field("Location", "string", length=255),
            Field(
                "ShowAs",
                "picklist",
                label="Show Time As",
                length=40,
                picklist=("Busy", "OutOfOffice", "Free"),
            ),
        ]
    ),
)

USER = SObjectType(
    "User",
    "005",
    "User",
    "Users",
    tuple(
        [
            _ro("Id", "id", label="User ID", length=18, nillable=False),
            Field("Username", "string", length=80, nillable=False, required=True),
            Field("FirstName", "string", length=40),
            Field("LastName", "string", length=80, nillable=False, required=True),
            _ro("Name", "string", label="Full Name", length=121, nillable=False),
            Field("Email", "email", length=128, nillable=False, required=True),
            Field("IsActive", "boolean", label="Active", nillable=False),
            _ro("CreatedDate", "datetime", nillable=False),
            _ro("LastModifiedDate", "datetime", nillable=False),
            _ro("SystemModstamp", "datetime", label="System Modstamp", nillable=False),
        ]
    ),
    createable=False,
    updateable=False,
    deletable=False,
)


def platform_event(name: str, fields: dict[str, str]) -> SObjectType:
    """Declare a platform event (``Name__e``): publishable, never queryable or retrievable."""
    declared = [
        Field(fname, ftype, length=255 if ftype in STRING_TYPES else 0)
        for fname, ftype in fields.items()
    ]
    system = [
        _ro("ReplayId", "string", label="Replay ID", length=255),
        _ro("CreatedDate", "datetime", nillable=False),
        _ro("CreatedById", "reference", length=18, reference_to=("User",)),
        _ro("EventUuid", "string", label="Event UUID", length=36),
    ]
    label = name.removesuffix("__e").replace("_", " ")
    return SObjectType(
        name,
        "e00",
        label,
        label,
        tuple(system + declared),
        updateable=False,
        deletable=False,
        queryable=False,
        is_platform_event=True,
    )


SCREEN_POP_EVENT = platform_event(
    "Threadline_Screen_Pop__e",
    {
        "Agent_Id__c": "string",
        "Caller_Phone__c": "string",
        "Record_Id__c": "string",
        "Channel__c": "string",
    },
)

STANDARD_OBJECTS: tuple[SObjectType, ...] = (ACCOUNT, CONTACT, LEAD, CASE, TASK, EVENT, USER)

_BY_PREFIX = {t.key_prefix: t.name for t in STANDARD_OBJECTS}


def prefix_to_type(prefix: str) -> str | None:
    """Name the standard object whose ids start with ``prefix`` (``003`` -> Contact)."""
    return _BY_PREFIX.get(prefix)
