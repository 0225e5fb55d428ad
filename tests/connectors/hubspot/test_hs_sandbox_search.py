"""Search: filterGroups semantics, sort, offset paging, limits and the 10k cap."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import hubspot
import pytest
import requests
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from connectors.hubspot.sandbox import HubSpotSandbox, ManualClock, SearchCap, SeedCounts
from hub.sandbox_server import RunningServer

PEOPLE = [
    ("ada@example.com", "Ada", "Lovelace", "lead", "+15550001"),
    ("grace@navy.mil", "Grace", "Hopper", "customer", "+15550002"),
    ("alan@example.com", "Alan", "Turing", "customer", ""),
    ("edsger@example.org", "Edsger", "Dijkstra", "subscriber", "+15550004"),
    ("barbara@example.com", "Barbara", "Liskov", "customer", ""),
]


@pytest.fixture
def people(make_sandbox: Callable[..., HubSpotSandbox]) -> HubSpotSandbox:
    """Five contacts modified one second apart (Ada oldest), on a frozen clock."""
    clock = ManualClock(1_704_067_200.0)  # 2024-01-01T00:00:00Z
    sandbox = make_sandbox(clock=clock)
    for email, first, last, stage, phone in PEOPLE:
        props = {"email": email, "firstname": first, "lastname": last, "lifecyclestage": stage}
        if phone:
            props["phone"] = phone
        sandbox.create("contacts", **props)
        clock.advance(1)
    return sandbox


@pytest.fixture
def search(people: HubSpotSandbox, serve: Callable[[HubSpotSandbox], RunningServer]
           ) -> Callable[[dict[str, Any]], requests.Response]:
    server = serve(people)

    def run(body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{server.url}/crm/v3/objects/contacts/search", json=body,
                             headers={"Authorization": f"Bearer {people.private_app_token}"},
                             timeout=5)

    return run


def _names(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["properties"]["firstname"] for r in response.json()["results"]]


def _f(prop: str, op: str, **extra: Any) -> dict[str, Any]:
    return {"propertyName": prop, "operator": op, **extra}


@pytest.mark.parametrize(("filters", "expected"), [
    ([_f("firstname", "EQ", value="ADA")], ["Ada"]),
    ([_f("lifecyclestage", "NEQ", value="customer")], ["Ada", "Edsger"]),
    ([_f("lastmodifieddate", "GT", value="1704067201000")], ["Alan", "Edsger", "Barbara"]),
    ([_f("lastmodifieddate", "GTE", value="1704067201000")],
     ["Grace", "Alan", "Edsger", "Barbara"]),
    ([_f("lastmodifieddate", "LT", value="1704067201000")], ["Ada"]),
    ([_f("lastmodifieddate", "LTE", value="1704067201000")], ["Ada", "Grace"]),
    ([_f("createdate", "BETWEEN", value="1704067201000", highValue="1704067203000")],
     ["Grace", "Alan", "Edsger"]),
    ([_f("lifecyclestage", "IN", values=["lead", "subscriber"])], ["Ada", "Edsger"]),
    ([_f("lifecyclestage", "NOT_IN", values=["customer"])], ["Ada", "Edsger"]),
    ([_f("phone", "HAS_PROPERTY")], ["Ada", "Grace", "Edsger"]),
    ([_f("phone", "NOT_HAS_PROPERTY")], ["Alan", "Barbara"]),
    ([_f("email", "CONTAINS_TOKEN", value="*@example.com")], ["Ada", "Alan", "Barbara"]),
    ([_f("email", "NOT_CONTAINS_TOKEN", value="*@example.com")], ["Grace", "Edsger"]),
    ([_f("lifecyclestage", "EQ", value="customer"), _f("phone", "HAS_PROPERTY")], ["Grace"]),
], ids=["eq-case-insensitive", "neq", "gt-epoch-ms", "gte", "lt", "lte", "between", "in",
        "not-in", "has", "not-has", "contains-token-wildcard", "not-contains-token", "and"])
def test_filter_operators(search: Callable[[dict[str, Any]], requests.Response],
                          filters: list[dict[str, Any]], expected: list[str]) -> None:
    assert _names(search({"filterGroups": [{"filters": filters}]})) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("lovelace", ["Ada"]), ("GRA", ["Grace"]), ("example.com", ["Ada", "Alan", "Barbara"]),
])
def test_text_query_matches_default_searchable_properties(
        search: Callable[[dict[str, Any]], requests.Response], query: str,
        expected: list[str]) -> None:
    assert _names(search({"query": query})) == expected


def test_filter_groups_are_ored(search: Callable[[dict[str, Any]], requests.Response]) -> None:
    body = {"filterGroups": [{"filters": [_f("firstname", "EQ", value="ada")]},
                             {"filters": [_f("lastname", "EQ", value="liskov")]}]}
    assert _names(search(body)) == ["Ada", "Barbara"]


def test_empty_body_is_valid_and_returns_creation_order_with_total(
        search: Callable[[dict[str, Any]], requests.Response]) -> None:
    response = search({})
    assert _names(response) == ["Ada", "Grace", "Alan", "Edsger", "Barbara"]
    assert response.json()["total"] == 5
    assert "paging" not in response.json()


@pytest.mark.parametrize("sorts", [
    [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
    ["-lastmodifieddate"],
], ids=["object-form", "string-form"])
def test_sort_descending(search: Callable[[dict[str, Any]], requests.Response],
                         sorts: list[Any]) -> None:
    assert _names(search({"sorts": sorts})) == ["Barbara", "Edsger", "Alan", "Grace", "Ada"]


def test_offset_paging_with_total_and_no_paging_on_last_page(
        search: Callable[[dict[str, Any]], requests.Response]) -> None:
    first = search({"limit": 2}).json()
    assert first["total"] == 5
    assert first["paging"] == {"next": {"after": "2"}}
    last = search({"limit": 2, "after": "4"}).json()
    assert len(last["results"]) == 1
    assert "paging" not in last


def test_requested_properties_and_archived_records_never_match(
        people: HubSpotSandbox, search: Callable[[dict[str, Any]], requests.Response]) -> None:
    people.archive("contacts", 101)
    response = search({"properties": ["firstname"]})
    assert _names(response) == ["Grace", "Alan", "Edsger", "Barbara"]
    assert set(response.json()["results"][0]["properties"]) == {"firstname"}


def _groups(groups: int, per_group: int) -> dict[str, Any]:
    return {"filterGroups": [{"filters": [_f("firstname", "HAS_PROPERTY")] * per_group}
                             for _ in range(groups)]}


@pytest.mark.parametrize(("body", "ok"), [
    (_groups(5, 3), True),
    (_groups(6, 1), False),
    (_groups(1, 6), True),
    (_groups(1, 7), False),
    (_groups(3, 6), True),
    (_groups(4, 5), False),  # 20 filters > 18 in total
    ({"limit": 200}, True),
    ({"limit": 201}, False),
    ({"after": "ten"}, False),
    ({"sorts": ["firstname", "lastname"]}, False),
    ({"filterGroups": [{"filters": [_f("nope", "EQ", value="x")]}]}, False),
    ({"filterGroups": [{"filters": [_f("firstname", "LIKE", value="x")]}]}, False),
    ({"filterGroups": [{"filters": [_f("createdate", "GT", value="yesterday")]}]}, False),
], ids=["5-groups", "6-groups", "6-per-group", "7-per-group", "18-total", "20-total",
        "limit-200", "limit-201", "after-not-int", "two-sorts", "unknown-property",
        "unknown-operator", "bad-date"])
def test_search_limits_validation(search: Callable[[dict[str, Any]], requests.Response],
                                  body: dict[str, Any], ok: bool) -> None:
    response = search(body)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 400
        assert response.json()["category"] == "VALIDATION_ERROR"


def test_search_through_the_client_deserializes_the_total(client: hubspot.Client) -> None:
    result = client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_object_id", "operator": "LTE",
                                     "value": "110"}]}],
        sorts=[{"propertyName": "hs_object_id", "direction": "DESCENDING"}], limit=3))
    assert result.total == 10
    assert [r.id for r in result.results] == ["110", "109", "108"]
    assert result.paging.next.after == "3"


@pytest.mark.parametrize(("mode", "after", "limit", "ok"), [
    ("after", 90, 10, True), ("after", 100, 10, False),
    ("window", 90, 10, True), ("window", 91, 10, False),
])
def test_configurable_cap_boundary_is_a_400(
        serve: Callable[[HubSpotSandbox], RunningServer],
        make_sandbox: Callable[..., HubSpotSandbox], mode: str, after: int, limit: int,
        ok: bool) -> None:
    sandbox = make_sandbox(seed=1, counts=SeedCounts(contacts=150, companies=0, calls=0,
                                                       emails=0, notes=0, meetings=0),
                             search_cap=SearchCap(cap=100, mode=mode))
    client = hubspot.Client.create(access_token=sandbox.private_app_token,
                                   host=serve(sandbox).url)
    request = PublicObjectSearchRequest(after=str(after), limit=limit)
    if ok:
        assert client.crm.contacts.search_api.do_search(request).total == 150
    else:
        with pytest.raises(ApiException) as info:
            client.crm.contacts.search_api.do_search(request)
        assert info.value.status == 400
        assert json.loads(info.value.body)["category"] == "VALIDATION_ERROR"


def test_real_10k_cap_with_more_than_10k_contacts(
        serve: Callable[[HubSpotSandbox], RunningServer],
        make_sandbox: Callable[..., HubSpotSandbox]) -> None:
    sandbox = make_sandbox(seed=3, counts=SeedCounts(contacts=10_050, companies=0, calls=0,
                                                       emails=0, notes=0, meetings=0))
    client = hubspot.Client.create(access_token=sandbox.private_app_token,
                                   host=serve(sandbox).url)
    api = client.crm.contacts.search_api
    page = api.do_search(PublicObjectSearchRequest(after="9800", limit=200))
    assert page.total == 10_050  # total may exceed what can be paged
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as info:
        api.do_search(PublicObjectSearchRequest(after="10000", limit=200))
    assert info.value.status == 400
