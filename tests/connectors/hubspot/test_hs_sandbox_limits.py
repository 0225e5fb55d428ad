"""Rate limits (bodies and headers) and scripted faults."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import hubspot
import pytest
import requests
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest

from connectors.hubspot.sandbox import HubSpotSandbox, ManualClock, RateLimits
from hub.sandbox_server import RunningServer

Serve = Callable[[HubSpotSandbox], RunningServer]


def _limited(make_sandbox: Callable[..., HubSpotSandbox], serve: Serve, **limits: int
             ) -> tuple[HubSpotSandbox, hubspot.Client, ManualClock]:
    clock = ManualClock()
    sandbox = make_sandbox(seed=1, clock=clock, rate_limits=RateLimits(**limits))
    client = hubspot.Client.create(access_token=sandbox.private_app_token,
                                   host=serve(sandbox).url)
    return sandbox, client, clock


def test_rate_limit_headers_on_every_response(client: hubspot.Client,
                                              server: RunningServer,
                                              sandbox: HubSpotSandbox) -> None:
    response = requests.get(f"{server.url}/crm/v3/objects/contacts", timeout=5,
                            headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    for name in ("Daily", "Daily-Remaining", "Interval-Milliseconds", "Max", "Remaining",
                 "Secondly", "Secondly-Remaining"):
        assert f"X-HubSpot-RateLimit-{name}" in response.headers
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"


def test_search_responses_carry_only_the_daily_pair(server: RunningServer,
                                                    sandbox: HubSpotSandbox) -> None:
    response = requests.post(f"{server.url}/crm/v3/objects/contacts/search", json={},
                             timeout=5,
                             headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    names = {h for h in response.headers if h.startswith("X-HubSpot-RateLimit")}
    assert names == {"X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining"}


def test_ten_secondly_limit_is_429_with_policy_body_and_recovers(
        make_sandbox: Callable[..., HubSpotSandbox], serve: Serve) -> None:
    _, client, clock = _limited(make_sandbox, serve, per_ten_seconds=3)
    api = client.crm.contacts.basic_api
    for _ in range(3):
        api.get_page(limit=1)
    with pytest.raises(ApiException) as info:
        api.get_page(limit=1)
    body = json.loads(info.value.body)
    assert info.value.status == 429
    assert body["errorType"] == "RATE_LIMIT"
    assert body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert info.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.advance(10)
    api.get_page(limit=1)


def test_daily_limit_body(make_sandbox: Callable[..., HubSpotSandbox], serve: Serve) -> None:
    _, client, _ = _limited(make_sandbox, serve, daily=2)
    client.crm.contacts.basic_api.get_page(limit=1)
    client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ApiException) as info:
        client.crm.contacts.basic_api.get_page(limit=1)
    body = json.loads(info.value.body)
    assert (body["policyName"], body["message"]) == ("DAILY", "You have reached your daily limit.")


def test_search_is_limited_to_five_per_second(make_sandbox: Callable[..., HubSpotSandbox],
                                              serve: Serve) -> None:
    _, client, clock = _limited(make_sandbox, serve)
    api = client.crm.contacts.search_api
    for _ in range(5):
        api.do_search(PublicObjectSearchRequest())
    with pytest.raises(ApiException) as info:
        api.do_search(PublicObjectSearchRequest())
    assert json.loads(info.value.body)["message"] == "You have reached your secondly limit."
    clock.advance(1)
    api.do_search(PublicObjectSearchRequest())


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_injected_failures_hit_the_next_n_requests_only(
        client: hubspot.Client, sandbox: HubSpotSandbox, status: int) -> None:
    sandbox.faults.fail_next(2, status)
    for _ in range(2):
        with pytest.raises(ApiException) as info:
            client.crm.contacts.basic_api.get_page(limit=1)
        assert info.value.status == status
    client.crm.contacts.basic_api.get_page(limit=1)


def test_injected_502_is_an_html_gateway_page(client: hubspot.Client,
                                              sandbox: HubSpotSandbox) -> None:
    sandbox.faults.fail_next(1, 502)
    with pytest.raises(ApiException) as info:
        client.crm.contacts.basic_api.get_page(limit=1)
    assert "<title>502 Bad Gateway</title>" in info.value.body


def test_slow_response_trips_a_client_timeout(server: RunningServer,
                                              sandbox: HubSpotSandbox) -> None:
    sandbox.faults.slow_next(1, 0.3)
    with pytest.raises(requests.Timeout):
        requests.get(f"{server.url}/crm/v3/objects/contacts", timeout=0.1,
                     headers={"Authorization": f"Bearer {sandbox.private_app_token}"})
    time.sleep(0.3)  # let the slowed request finish before the sandbox is unmounted


def test_hook_changes_a_record_between_two_pages(client: hubspot.Client,
                                                 sandbox: HubSpotSandbox) -> None:
    sandbox.faults.on_request(lambda: sandbox.update("contacts", 101, firstname="Changed"),
                              after=1)
    api = client.crm.contacts.basic_api
    first = api.get_page(limit=1, properties=["firstname"])
    assert first.results[0].properties["firstname"] != "Changed"
    again = api.get_by_id("101", properties=["firstname"])
    assert again.properties["firstname"] == "Changed"
