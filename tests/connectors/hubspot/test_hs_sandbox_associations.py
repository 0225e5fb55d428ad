"""Associations v4 (and v3 ``associations`` in create bodies) through the real client."""

from __future__ import annotations

import json

import hubspot
import pytest
from hubspot.crm.associations.v4 import (
    ApiException,
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
    PublicFetchAssociationsBatchRequest,
    PublicObjectId,
)
from hubspot.crm.objects.calls import SimplePublicObjectInputForCreate as CallIn

from connectors.hubspot.sandbox import HubSpotSandbox


def _spec(type_id: int) -> list[AssociationSpec]:
    return [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=type_id)]


@pytest.mark.parametrize(("from_type", "from_id", "type_id"), [
    ("notes", "40000001", 202), ("calls", "20000001", 194),
    ("emails", "30000001", 198), ("meetings", "50000001", 200),
])
def test_engagement_to_contact_create_and_list_both_directions(
        client: hubspot.Client, from_type: str, from_id: str, type_id: int) -> None:
    api = client.crm.associations.v4.basic_api
    pair = api.create(from_type, from_id, "contacts", "200", association_spec=_spec(type_id))
    assert (pair.from_object_id, pair.to_object_id) == (from_id, "200")
    assert pair.to_object_type_id == "0-1"
    forward = api.get_page(from_type, from_id, "contacts")
    assert "200" in [r.to_object_id for r in forward.results]
    back = api.get_page("contacts", "200", from_type)
    row = next(r for r in back.results if r.to_object_id == from_id)
    assert [t.type_id for t in row.association_types] == [type_id - 1]


@pytest.mark.parametrize("type_id", [194, 999, 279])
def test_type_id_that_does_not_fit_the_pair_is_400(client: hubspot.Client, type_id: int) -> None:
    with pytest.raises(ApiException) as info:
        client.crm.associations.v4.basic_api.create("notes", "40000001", "contacts", "101",
                                                    association_spec=_spec(type_id))
    assert info.value.status == 400
    assert json.loads(info.value.body)["category"] == "VALIDATION_ERROR"


def test_default_association_and_archive(client: hubspot.Client) -> None:
    api = client.crm.associations.v4.basic_api
    result = api.create_default("calls", "20000002", "contacts", "150")
    assert result.results[0].association_spec.association_type_id == 194
    api.archive("calls", "20000002", "contacts", "150")
    listed = api.get_page("calls", "20000002", "contacts")
    assert "150" not in [r.to_object_id for r in listed.results]


def test_create_body_associations_are_visible_in_v3_get(client: hubspot.Client) -> None:
    call = client.crm.objects.calls.basic_api.create(CallIn(
        properties={"hs_timestamp": "2024-05-01T10:00:00Z", "hs_call_direction": "INBOUND",
                    "hs_call_duration": "42000"},
        associations=[{"to": {"id": "101"}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]))
    contact = client.crm.contacts.basic_api.get_by_id("101", associations=["calls"])
    ids = [a.id for a in contact.associations["calls"].results]
    assert call.id in ids
    assert contact.associations["calls"].results[0].type == "contact_to_call"


def test_create_body_association_to_missing_contact_is_400(client: hubspot.Client) -> None:
    with pytest.raises(hubspot.crm.objects.calls.ApiException) as info:
        client.crm.objects.calls.basic_api.create(CallIn(
            properties={"hs_timestamp": "2024-05-01T10:00:00Z"},
            associations=[{"to": {"id": "9"}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 194}]}]))
    assert info.value.status == 400


def test_batch_create_and_read(client: hubspot.Client, sandbox: HubSpotSandbox) -> None:
    batch = client.crm.associations.v4.batch_api
    created = batch.create("notes", "contacts", BatchInputPublicAssociationMultiPost(inputs=[
        PublicAssociationMultiPost(_from=PublicObjectId(id="40000002"),
                                   to=PublicObjectId(id=str(cid)), types=_spec(202))
        for cid in (101, 102)]))
    assert len(created.results) == 2
    read = batch.get_page("notes", "contacts", BatchInputPublicFetchAssociationsBatchRequest(
        inputs=[PublicFetchAssociationsBatchRequest(id="40000002")]))
    assert {"101", "102"} <= {t.to_object_id for t in read.results[0].to}
