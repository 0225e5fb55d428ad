"""CRM v3 basic endpoints through the real hubspot-api-client (models deserialize)."""

from __future__ import annotations

import json

import hubspot
import pytest
import requests
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactIn
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteIn
from hubspot.utils.objects import fetch_all

from connectors.hubspot.sandbox import HubSpotSandbox
from hub.sandbox_server import RunningServer


def test_get_page_walks_every_contact_once_and_omits_paging_on_the_last_page(
        client: hubspot.Client) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=100, after=after,
                                                      properties=["email"])
        pages += 1
        seen += [r.id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250
    assert seen == sorted(seen, key=int)


def test_fetch_all_helper_reads_engagements(client: hubspot.Client) -> None:
    calls = fetch_all(client.crm.objects.calls.basic_api)
    assert len(calls) == 30
    assert set(calls[0].properties) == {"hs_createdate", "hs_lastmodifieddate", "hs_object_id"}


def test_get_by_id_returns_default_contact_properties_as_strings(client: hubspot.Client) -> None:
    contact = client.crm.contacts.basic_api.get_by_id("101")
    assert contact.id == "101"
    assert set(contact.properties) == {"createdate", "email", "firstname", "hs_object_id",
                                       "lastmodifieddate", "lastname"}
    assert contact.properties["hs_object_id"] == "101"
    assert contact.archived is False
    assert contact.created_at.tzinfo is not None


def test_get_by_email_id_property(client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    email = sandbox.get("contacts", 150).props["email"]  # type: ignore[union-attr]
    contact = client.crm.contacts.basic_api.get_by_id(email.upper(), id_property="email")
    assert contact.id == "150"


def test_unknown_id_is_404_object_not_found(client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as info:
        client.crm.contacts.basic_api.get_by_id("999999999")
    assert info.value.status == 404
    assert json.loads(info.value.body)["category"] == "OBJECT_NOT_FOUND"


def test_create_update_archive_round_trip(client: hubspot.Client) -> None:
    api = client.crm.contacts.basic_api
    created = api.create(ContactIn(properties={"email": "new@example.com", "firstname": "New"}))
    assert created.properties["email"] == "new@example.com"
    assert created.properties["lastname"] is None
    updated = api.update(created.id, SimplePublicObjectInput(properties={"lastname": "Person"}))
    assert updated.properties["lastname"] == "Person"
    assert updated.updated_at >= created.updated_at
    api.archive(created.id)
    with pytest.raises(ApiException) as info:
        api.get_by_id(created.id)
    assert info.value.status == 404
    archived = api.get_by_id(created.id, archived=True)
    assert archived.archived is True
    assert archived.archived_at is not None


def test_empty_string_clears_a_property(client: hubspot.Client) -> None:
    api = client.crm.contacts.basic_api
    api.update("101", SimplePublicObjectInput(properties={"firstname": ""}))
    assert api.get_by_id("101").properties["firstname"] is None


@pytest.mark.parametrize(("properties", "error"), [
    ({"favourite_colour": "teal"}, "PROPERTY_DOESNT_EXIST"),
    ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
    ({"lifecyclestage": "superfan"}, "INVALID_OPTION"),
], ids=["unknown", "read-only", "bad-enum"])
def test_create_rejects_invalid_properties_with_validation_error(
        client: hubspot.Client, properties: dict[str, str], error: str) -> None:
    with pytest.raises(ApiException) as info:
        client.crm.contacts.basic_api.create(ContactIn(properties=properties))
    body = json.loads(info.value.body)
    assert info.value.status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert json.loads(body["message"].split(": ", 1)[1])[0]["error"] == error


def test_duplicate_email_is_409_with_existing_id(client: hubspot.Client,
                                                 sandbox: HubSpotSandbox) -> None:
    email = sandbox.get("contacts", 101).props["email"]  # type: ignore[union-attr]
    with pytest.raises(ApiException) as info:
        client.crm.contacts.basic_api.create(ContactIn(properties={"email": email}))
    assert info.value.status == 409
    body = json.loads(info.value.body)
    assert (body["category"], body["message"]) == ("CONFLICT",
                                                   "Contact already exists. Existing ID: 101")


def test_note_requires_hs_timestamp_and_normalises_epoch_ms(client: hubspot.Client) -> None:
    api = client.crm.objects.notes.basic_api
    with pytest.raises(hubspot.crm.objects.notes.ApiException) as info:
        api.create(NoteIn(properties={"hs_note_body": "no timestamp"}))
    assert info.value.status == 400
    note = api.create(NoteIn(properties={"hs_note_body": "x", "hs_timestamp": "1704067200000"}))
    assert note.properties["hs_timestamp"] == "2024-01-01T00:00:00.000Z"


def test_raw_http_accepts_comma_lists_and_any_case_booleans(
        server: RunningServer, sandbox: HubSpotSandbox) -> None:
    headers = {"Authorization": f"Bearer {sandbox.private_app_token}"}
    url = f"{server.url}/crm/v3/objects/contacts"
    for archived in ("False", "false", "FALSE"):
        body = requests.get(url, params={"limit": "2", "properties": "email,firstname",
                                         "archived": archived}, headers=headers,
                            timeout=5).json()
        assert set(body["results"][0]["properties"]) == {"email", "firstname"}
        assert body["paging"]["next"]["after"] == "103"
    bad = requests.get(url, params={"archived": "nope"}, headers=headers, timeout=5)
    assert bad.status_code == 400


def test_list_limit_above_100_is_rejected(server: RunningServer, sandbox: HubSpotSandbox) -> None:
    response = requests.get(f"{server.url}/crm/v3/objects/contacts?limit=101", timeout=5,
                            headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    assert response.status_code == 400


def test_unknown_object_type_is_400(client: hubspot.Client) -> None:
    with pytest.raises(hubspot.crm.objects.ApiException) as info:
        client.crm.objects.basic_api.get_page("unicorns")
    assert info.value.status == 400
    assert "Unable to infer object type from: unicorns" in info.value.body


def test_missing_properties_field_in_create_body_is_400(server: RunningServer,
                                                         sandbox: HubSpotSandbox) -> None:
    response = requests.post(f"{server.url}/crm/v3/objects/contacts", json={}, timeout=5,
                             headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("header", [None, "Bearer pat-na1-unknown", "Basic abc"])
def test_missing_or_unknown_token_is_401_invalid_authentication(
        server: RunningServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{server.url}/crm/v3/objects/contacts", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


def test_properties_with_history_lists_newest_first(client: hubspot.Client) -> None:
    api = client.crm.contacts.basic_api
    created = api.create(ContactIn(properties={"firstname": "One"}))
    api.update(created.id, SimplePublicObjectInput(properties={"firstname": "Two"}))
    got = api.get_by_id(created.id, properties_with_history=["firstname"])
    assert [v.value for v in got.properties_with_history["firstname"]] == ["Two", "One"]


def test_merge_keeps_primary_and_get_by_merged_id_redirects(
        client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    from hubspot.crm.contacts import PublicMergeInput

    merged = client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id="101", object_id_to_merge="102"))
    assert merged.id == "101"
    assert client.crm.contacts.basic_api.get_by_id("102").id == "101"
    assert sandbox.get("contacts", 101).props["hs_merged_object_ids"] == "102"  # type: ignore[union-attr]
