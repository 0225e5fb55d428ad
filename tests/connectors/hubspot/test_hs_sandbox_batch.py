"""CRM v3 batch endpoints through the real client: status codes and shapes."""

from __future__ import annotations

import json

import hubspot
import pytest
import requests
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)

from connectors.hubspot.sandbox import HubSpotSandbox
from connectors.hubspot.sandbox.schema import CONTACTS
from hub.sandbox_server import RunningServer


def _read(ids: list[str], **kwargs: object) -> BatchReadInputSimplePublicObjectId:
    return BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["email"],
        properties_with_history=[], **kwargs)


def test_batch_read_returns_requested_properties(client: hubspot.Client) -> None:
    result = client.crm.contacts.batch_api.read(_read(["101", "102"]))
    assert isinstance(result, BatchResponseSimplePublicObject)
    assert result.status == "COMPLETE"
    assert [r.id for r in result.results] == ["101", "102"]
    assert set(result.results[0].properties) == {"email"}


def test_batch_read_with_missing_id_is_207_with_object_not_found(client: hubspot.Client) -> None:
    result = client.crm.contacts.batch_api.read(_read(["101", "424242"]))
    assert isinstance(result, BatchResponseSimplePublicObjectWithErrors)
    assert result.num_errors == 1
    assert result.errors[0].category == "OBJECT_NOT_FOUND"
    assert result.errors[0].context == {"ids": ["424242"]}


def test_batch_read_by_email_id_property(client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    email = sandbox.get("contacts", 120).props["email"]  # type: ignore[union-attr]
    result = client.crm.contacts.batch_api.read(_read([email], id_property="email"))
    assert [r.id for r in result.results] == ["120"]


def test_batch_create_answers_201_and_creates_all(client: hubspot.Client) -> None:
    inputs = [SimplePublicObjectBatchInputForCreate(properties={"email": f"b{i}@example.com"})
              for i in range(3)]
    result = client.crm.contacts.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert isinstance(result, BatchResponseSimplePublicObject)
    assert sorted(r.properties["email"] for r in result.results) == [
        "b0@example.com", "b1@example.com", "b2@example.com"]


def test_batch_create_with_an_invalid_input_rejects_the_whole_batch(
        client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    before = sandbox.store.count(CONTACTS)
    inputs = [SimplePublicObjectBatchInputForCreate(properties={"email": "ok@example.com"}),
              SimplePublicObjectBatchInputForCreate(properties={"nope": "x"})]
    with pytest.raises(ApiException) as info:
        client.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert info.value.status == 400
    assert sandbox.store.count(CONTACTS) == before


def test_batch_update_changes_values(client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    client.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=[
        SimplePublicObjectBatchInput(id="101", properties={"jobtitle": "CTO"})]))
    assert sandbox.get("contacts", 101).props["jobtitle"] == "CTO"  # type: ignore[union-attr]


def test_batch_upsert_by_email_marks_new_and_existing(client: hubspot.Client,
                                                      sandbox: HubSpotSandbox) -> None:
    existing = sandbox.get("contacts", 101).props["email"]  # type: ignore[union-attr]
    result = client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(id=existing, id_property="email",
                                               properties={"jobtitle": "Engineer"}),
            SimplePublicObjectBatchInputUpsert(id="fresh@example.com", id_property="email",
                                               properties={"firstname": "Fresh"}),
        ]))
    by_new = {r.new: r for r in result.results}
    assert by_new[False].id == "101"
    assert by_new[True].properties["email"] == "fresh@example.com"


def test_batch_upsert_on_non_unique_property_is_400(client: hubspot.Client) -> None:
    with pytest.raises(ApiException) as info:
        client.crm.contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[SimplePublicObjectBatchInputUpsert(id="Ada", id_property="firstname",
                                                       properties={})]))
    assert info.value.status == 400


def test_batch_archive_is_204_and_archives(client: hubspot.Client,
                                           sandbox: HubSpotSandbox) -> None:
    client.crm.contacts.batch_api.archive(BatchInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id="101"), SimplePublicObjectId(id="777777")]))
    assert sandbox.get("contacts", 101) is None


def test_more_than_100_inputs_is_400(server: RunningServer, sandbox: HubSpotSandbox) -> None:
    response = requests.post(
        f"{server.url}/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(101)]}, timeout=5,
        headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    assert response.status_code == 400
    assert json.loads(response.text)["category"] == "VALIDATION_ERROR"
