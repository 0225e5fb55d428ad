"""Scripted faults, the API quota and its header, mid-sync edits, and the admin paths."""

from __future__ import annotations

import time

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceRefusedRequest

from connectors.salesforce.sandbox import SalesforceSandbox, sandbox_session
from hub.sandbox_server import RunningServer


def test_sforce_limit_info_header_counts_calls(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    sandbox.set_api_limit(5000, used=41)
    sf.query("SELECT Id FROM Lead LIMIT 1")
    assert sf.api_usage["api-usage"] == (42, 5000)
    response = sf.session.get(f"{sf.base_url}limits/", headers=sf.headers)
    assert response.headers["Sforce-Limit-Info"] == "api-usage=43/5000"
    assert response.json()["DailyApiRequests"] == {"Max": 5000, "Remaining": 4957}


def test_spent_daily_limit_is_request_limit_exceeded(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    sandbox.set_api_limit(100, used=100)
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_injected_503s_are_served_then_normal_service_resumes(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    sandbox.inject_errors(2, status=503)
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            sf.query("SELECT Id FROM Lead")
        assert caught.value.status == 503
        assert caught.value.content[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 20
    assert sandbox.faults.injected_served == 2


def test_injected_request_limit_only_hits_matching_paths(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    sandbox.inject_request_limit_exceeded(1)
    sandbox.faults.clear()
    sandbox.inject_errors(1, status=403, path_contains="/sobjects/Contact/")
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 450
    with pytest.raises(SalesforceRefusedRequest):
        sf.Contact.create({"LastName": "Blocked"})
    assert sf.Contact.create({"LastName": "Allowed"})["success"] is True


def test_slow_responses(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    sandbox.set_delay(0.2, times=1)
    started = time.monotonic()
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert time.monotonic() - started < 0.2


def test_record_modified_between_pages_shows_in_later_page(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    contacts = sandbox.records("Contact")
    last_id = contacts[-1]["Id"]
    sandbox.before_request(
        lambda: sandbox.update_record("Contact", last_id, {"Title": "Edited mid-sync"}),
        path_contains="/query/01g",
    )
    rows = sf.query_all(
        "SELECT Id, Title FROM Contact ORDER BY Id",
        headers={"Sforce-Query-Options": "batchSize=200"},
    )["records"]
    assert rows[-1] == {
        "attributes": rows[-1]["attributes"],
        "Id": last_id,
        "Title": "Edited mid-sync",
    }


def test_sessions_expire_only_once_so_the_client_never_loops(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    logins = sandbox.sessions.logins
    sandbox.expire_sessions()
    for _ in range(3):
        sf.Contact.describe()
    assert sandbox.sessions.logins == logins + 1


def test_admin_http_paths_script_the_sandbox(
    sf: Salesforce, sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    http = sandbox_session(server.url)
    admin = server.url + "/__sandbox__"
    assert http.post(f"{admin}/faults", json={"count": 1, "status": 503}).status_code == 204
    with pytest.raises(SalesforceGeneralError):
        sf.query("SELECT Id FROM Lead")
    assert http.post(f"{admin}/api-limit", json={"limit": 10, "used": 10}).status_code == 204
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM Lead")
    http.post(f"{admin}/api-limit", json={"limit": 1000, "used": 0})
    assert http.post(f"{admin}/expire-sessions").status_code == 204
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 20
    state = http.get(f"{admin}/state").json()
    assert state["records"]["Lead"] == 20
    assert state["pendingFaults"] == 0
    assert http.post(f"{admin}/delay", json={"seconds": -1}).status_code == 400
