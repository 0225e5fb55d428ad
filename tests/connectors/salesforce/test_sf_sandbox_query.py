"""query / queryMore / queryAll over HTTP with the real client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.salesforce.sandbox import SalesforceSandbox, sandbox_session
from hub.sandbox_server import RunningServer

BATCH_200 = {"Sforce-Query-Options": "batchSize=200"}


def test_query_pages_with_next_records_url(sf: Salesforce) -> None:
    first = sf.query("SELECT Id FROM Contact ORDER BY Id", headers=BATCH_200)
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    locator = first["nextRecordsUrl"]
    assert locator.startswith("/services/data/v59.0/query/01g")
    assert locator.endswith("-200")
    second = sf.query_more(locator, identifier_is_url=True, headers=BATCH_200)
    assert (second["done"], len(second["records"])) == (False, 200)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True, headers=BATCH_200)
    assert (third["done"], len(third["records"])) == (True, 50)
    assert "nextRecordsUrl" not in third
    ids = [r["Id"] for page in (first, second, third) for r in page["records"]]
    assert ids == sorted(ids)
    assert len(set(ids)) == 450


def test_query_all_follows_every_page(sf: Salesforce) -> None:
    result = sf.query_all("SELECT Id, Email FROM Contact", headers=BATCH_200)
    assert result["totalSize"] == 450
    assert result["done"] is True
    assert len({r["Id"] for r in result["records"]}) == 450


def test_default_batch_is_2000_and_small_batch_hints_are_raised_to_200(
    mount: Callable[[SalesforceSandbox], str],
) -> None:
    sandbox = SalesforceSandbox(counts={"Contact": 2100})
    creds = sandbox.credentials
    sf = Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=sandbox_session(mount(sandbox)),
    )
    assert len(sf.query("SELECT Id FROM Contact")["records"]) == 2000
    small = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=5"})
    assert len(small["records"]) == 200


def test_query_records_carry_attributes_and_canonical_field_names(sf: Salesforce) -> None:
    record = sf.query(
        "select id, lastname, ACCOUNT.name, createddate from contact "
        "where AccountId != null limit 1"
    )["records"][0]
    assert list(record) == ["attributes", "Id", "LastName", "Account", "CreatedDate"]
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/services/data/v59.0/sobjects/Contact/{record['Id']}",
    }
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["CreatedDate"].endswith(".000+0000")


def test_query_without_more_pages_is_done(sf: Salesforce) -> None:
    result = sf.query("SELECT Id FROM Account")
    assert (result["totalSize"], result["done"], "nextRecordsUrl" in result) == (10, True, False)


def test_count_query(sf: Salesforce) -> None:
    assert sf.query("SELECT COUNT() FROM Contact") == {
        "totalSize": 450,
        "done": True,
        "records": [],
    }


def test_query_all_includes_deleted_records(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    contact_id = sandbox.records("Contact")[0]["Id"]
    sf.Contact.delete(contact_id)
    soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{contact_id}'"  # noqa: S608
    assert sf.query(soql)["totalSize"] == 0
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(contact_id, True)]


def test_query_accepts_15_char_ids(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    contact_id = sandbox.records("Contact")[3]["Id"]
    result = sf.query(f"SELECT Id FROM Contact WHERE Id = '{contact_id[:15]}'")  # noqa: S608
    assert result["records"][0]["Id"] == contact_id


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        ("SELECT Id, Bogus FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Widget", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE CreatedDate > 2024-01-01", "INVALID_FIELD"),
        ("", "MALFORMED_QUERY"),
    ],
    ids=["malformed", "unknown-field", "unknown-object", "date-for-datetime", "empty"],
)
def test_query_errors_map_to_malformed_request(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == code
    assert set(caught.value.content[0]) == {"message", "errorCode"}


def test_query_more_rejects_unknown_or_finished_locator(sf: Salesforce) -> None:
    first = sf.query("SELECT Id FROM Contact", headers=BATCH_200)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01gAAAAAAAAAAAAAAA-200")
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    page = first
    while not page["done"]:
        last_url = page["nextRecordsUrl"]
        page = sf.query_more(last_url, identifier_is_url=True, headers=BATCH_200)
    with pytest.raises(SalesforceMalformedRequest):
        sf.query_more(last_url, identifier_is_url=True)  # the cursor closed after its last page


def test_expired_locator_is_invalid(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    first = sf.query("SELECT Id FROM Contact", headers=BATCH_200)
    sandbox.expire_query_locators()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_more_by_locator_id_and_query_all_more(sf: Salesforce) -> None:
    first = sf.query("SELECT Id FROM Contact", include_deleted=True, headers=BATCH_200)
    assert "/queryAll/01g" in first["nextRecordsUrl"]
    locator = first["nextRecordsUrl"].rsplit("/", 1)[1]
    page = sf.query_more(locator, include_deleted=True, headers=BATCH_200)
    assert len(page["records"]) == 200


def test_rest_paths_tolerate_trailing_slash_and_any_version(
    sf: Salesforce, server: RunningServer
) -> None:
    http = sandbox_session(server.url)
    headers = {"Authorization": f"Bearer {sf.session_id}"}
    for path in (
        "v41.0/query/?q=SELECT+Id+FROM+Lead",
        "v62.0/query?q=SELECT+Id+FROM+Lead",
        "v59.0/sobjects/Contact/describe/",
        "v59.0/sobjects/",
        "v59.0/limits/",
    ):
        response = http.get(f"https://x.my.salesforce.com/services/data/{path}", headers=headers)
        assert response.status_code == 200, path
    bad = http.get(
        "https://x.my.salesforce.com/services/data/59.0/query?q=SELECT+Id+FROM+Lead",
        headers=headers,
    )
    assert bad.status_code == 404
    assert bad.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
