"""sObject resources over HTTP: CRUD, validation, upsert, updated/deleted, describe, events.

``clock`` is the FakeClock fixture from conftest.py (typed Any: conftest is not importable).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from connectors.salesforce.sandbox import SalesforceSandbox


def test_contact_create_get_update_delete(sf: Salesforce, clock: Any) -> None:
    created = sf.Contact.create(
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@example.com",
            "Phone": "+44 20 7946 0001",
        }
    )
    assert created["success"] is True
    assert created["errors"] == []
    assert created["id"].startswith("003")
    assert len(created["id"]) == 18
    record = sf.Contact.get(created["id"])
    assert record["Name"] == "Ada Lovelace"
    assert record["CreatedDate"] == "2024-06-03T12:00:00.000+0000"
    clock.advance(minutes=5)
    assert sf.Contact.update(created["id"], {"Title": "Analyst"}) == 204
    updated = sf.Contact.get(created["id"])
    assert (updated["Title"], updated["SystemModstamp"]) == (
        "Analyst",
        "2024-06-03T12:05:00.000+0000",
    )
    assert updated["CreatedDate"] == record["CreatedDate"]
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.get(created["id"])
    assert caught.value.content == [
        {"message": "entity is deleted", "errorCode": "ENTITY_IS_DELETED"}
    ]


def test_get_with_fields_parameter(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    contact_id = sandbox.records("Contact")[0]["Id"]
    response = sf.Contact._call_salesforce(
        "GET", f"{sf.Contact.base_url}{contact_id}", params={"fields": "email,LastName"}
    )
    assert list(response.json()) == ["attributes", "Email", "LastName"]


@pytest.mark.parametrize(
    ("record_id", "message"),
    [
        ("0035g00000zzzzzAAA", "The requested resource does not exist"),
        ("not-an-id", "Provided external ID field does not exist or is not accessible: not-an-id"),
    ],
    ids=["unknown-id", "malformed-id"],
)
def test_get_unknown_record_is_not_found(sf: Salesforce, record_id: str, message: str) -> None:
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.get(record_id)
    assert caught.value.content == [{"message": message, "errorCode": "NOT_FOUND"}]


def test_unknown_sobject_in_url_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Widget.create({"Name": "x"})


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"FirstName": "NoLastName"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "X", "Nope__c": 1}, "INVALID_FIELD", None),
        ({"LastName": "X", "Name": "Full Name"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Name"]),
        ({"LastName": "X", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["Email"]),
        ({"LastName": "X" * 81}, "STRING_TOO_LONG", ["LastName"]),
        ({"LastName": "X", "AccountId": "003000000000000"}, "MALFORMED_ID", ["AccountId"]),
        (
            {"LastName": "X", "AccountId": "0015g00000zzzzz"},
            "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
            ["AccountId"],
        ),
        ({"LastName": "X", "Birthdate": "1990-02-30"}, "JSON_PARSER_ERROR", None),
        ({"LastName": "X", "DoNotCall": "maybe"}, "JSON_PARSER_ERROR", None),
    ],
    ids=[
        "required",
        "unknown-field",
        "read-only",
        "email",
        "too-long",
        "wrong-id-type",
        "missing-parent",
        "bad-date",
        "bad-boolean",
    ],
)
def test_create_rejects_what_salesforce_rejects(
    sf: Salesforce, body: dict[str, object], code: str, fields: list[str] | None
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create(body)
    error = caught.value.content[0]
    assert error["errorCode"] == code
    assert error.get("fields") == fields


def test_create_rejects_malformed_json(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact._call_salesforce("POST", sf.Contact.base_url, data="{not json")
    assert caught.value.content[0]["errorCode"] == "JSON_PARSER_ERROR"


def test_update_cannot_blank_a_required_field(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    contact_id = sandbox.records("Contact")[0]["Id"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.update(contact_id, {"LastName": None})
    assert caught.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_upsert_by_external_id_creates_then_updates(sf: Salesforce) -> None:
    created = sf.Contact.upsert(
        "Threadline_Key__c/key-1", {"LastName": "Upserted"}, raw_response=True
    )
    assert created.status_code == 201
    assert created.json()["created"] is True
    updated = sf.Contact.upsert("Threadline_Key__c/key-1", {"Title": "Boss"}, raw_response=True)
    assert updated.status_code == 200
    assert updated.json() == {
        "id": created.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    assert sf.Contact.get_by_custom_id("Threadline_Key__c", "key-1")["Title"] == "Boss"


def test_upsert_rejects_non_external_id_field_and_reports_duplicates(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert("Email/a@example.com", {"LastName": "X"})
    for _ in range(2):
        sandbox.create_record("Contact", {"LastName": "Dup", "Threadline_Key__c": "dup"})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Contact.upsert("Threadline_Key__c/dup", {"LastName": "X"})
    assert len(caught.value.content) == 2


def test_updated_and_deleted_resources(
    sf: Salesforce, sandbox: SalesforceSandbox, clock: Any
) -> None:
    start = clock.now
    clock.advance(minutes=1)
    changed = sandbox.records("Contact")[0]["Id"]
    sf.Contact.update(changed, {"Title": "Changed"})
    created = sf.Contact.create({"LastName": "New"})["id"]
    clock.advance(minutes=2)
    sf.Contact.delete(created)
    clock.advance(minutes=3, seconds=30)
    result = sf.Contact.updated(start, clock.now + timedelta(hours=1))
    assert result == {
        "ids": [changed],  # the created record was deleted again
        "latestDateCovered": "2024-06-03T12:06:00.000+0000",
    }
    gone = sf.Contact.deleted(start, clock.now)
    assert gone == {
        "deletedRecords": [{"id": created, "deletedDate": "2024-06-03T12:03:00.000+0000"}],
        "earliestDateAvailable": "2024-06-03T12:03:00.000+0000",
        "latestDateCovered": "2024-06-03T12:06:00.000+0000",
    }


def test_updated_rejects_windows_salesforce_rejects(sf: Salesforce, clock: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Contact.updated(clock.now - timedelta(days=31), clock.now)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest) as too_old_deleted:
        sf.Contact.deleted(clock.now - timedelta(days=16), clock.now)
    assert too_old_deleted.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    naive = clock.now.replace(tzinfo=None)
    with pytest.raises(SalesforceMalformedRequest):  # simple-salesforce mangles naive datetimes
        sf.Contact.updated(naive - timedelta(days=1), naive)


def test_describe_object_and_global(sf: Salesforce) -> None:
    describe = sf.Contact.describe()
    assert (describe["name"], describe["keyPrefix"]) == ("Contact", "003")
    fields = {f["name"]: f for f in describe["fields"]}
    assert fields["Email"]["type"] == "email"
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["Threadline_Key__c"]["externalId"] is True
    assert fields["Name"]["createable"] is False
    listed = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Lead", "Case", "Task", "Event"} <= set(listed)
    assert [
        listed[n]["keyPrefix"] for n in ("Account", "Contact", "Lead", "Case", "Task", "Event")
    ] == ["001", "003", "00Q", "500", "00T", "00U"]


def test_platform_event_publish(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    result = sf.Threadline_Screen_Pop__e.create(
        {"Agent_Id__c": "agent-7", "Caller_Phone__c": "+14155550132"}
    )
    assert result["success"] is True
    assert result["errors"][0]["statusCode"] == "OPERATION_ENQUEUED"
    assert sandbox.published_events[0]["Caller_Phone__c"] == "+14155550132"
    assert sandbox.published_events[0]["EventUuid"] == result["errors"][0]["message"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Threadline_Screen_Pop__e.create({"Unknown__c": "x"})


def test_method_not_allowed_is_a_salesforce_error(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    contact_id = sandbox.records("Contact")[0]["Id"]
    response = sf.session.put(f"{sf.Contact.base_url}{contact_id}", headers=sf.headers)
    assert response.status_code == 405
    assert response.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
