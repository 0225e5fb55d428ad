"""Logins (SOAP, OAuth password / refresh / JWT / client credentials) and sessions."""

from __future__ import annotations

import time
from collections.abc import Callable
from xml.dom import minidom

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from connectors.salesforce.sandbox import Credentials, SalesforceSandbox, sandbox_session
from hub.sandbox_server import RunningServer

Mount = Callable[[SalesforceSandbox], str]

TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return _pem_pair()


@pytest.fixture
def jwt_server(rsa_keys: tuple[str, str], mount: Mount) -> tuple[SalesforceSandbox, str]:
    """A sandbox whose connected app holds the test key pair's certificate."""
    sandbox = SalesforceSandbox(
        counts={"Contact": 3}, credentials=Credentials(jwt_public_key_pem=rsa_keys[1])
    )
    return sandbox, mount(sandbox)


def test_soap_login_returns_session_and_instance(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    assert sf.sf_instance == "threadline-dev-ed.my.salesforce.com"
    assert sandbox.sessions.is_valid(sf.session_id)
    assert sf.session_id.startswith(sandbox.credentials.org_id[:15] + "!")


def test_soap_login_response_has_unprefixed_result_elements(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    creds = sandbox.credentials
    body = (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env='
        '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{creds.username}</n1:username>"
        f"<n1:password>{creds.password}{creds.security_token}</n1:password>"
        "</n1:login></env:Body></env:Envelope>"
    )
    response = sandbox_session(server.url).post(
        "https://login.salesforce.com/services/Soap/u/59.0",
        body,
        headers={"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"},
    )
    assert response.status_code == 200
    dom = minidom.parseString(response.content)  # noqa: S318 - our own sandbox's reply
    assert dom.getElementsByTagName("serverUrl")[0].firstChild.data.endswith(
        "/services/Soap/u/59.0/" + creds.org_id[:15]
    )
    assert dom.getElementsByTagName("organizationId")[0].firstChild.data == creds.org_id


@pytest.mark.parametrize(
    ("password", "token"),
    [("wrong", None), (None, "WRONGTOKEN"), (None, "")],
    ids=["password", "token", "no-token"],
)
def test_soap_login_rejects_bad_credentials(
    sandbox: SalesforceSandbox, server: RunningServer, password: str | None, token: str | None
) -> None:
    creds = sandbox.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=creds.username,
            password=password or creds.password,
            security_token=creds.security_token if token is None else token,
            session=sandbox_session(server.url),
        )
    assert caught.value.code == "INVALID_LOGIN"
    assert "Invalid username, password, security token" in caught.value.auth_message


def test_soap_fault_is_http_500_with_sf_prefixed_elements(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    response = sandbox_session(server.url).post(
        "https://login.salesforce.com/services/Soap/u/59.0",
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
        '<login xmlns="urn:partner.soap.sforce.com"><username>x</username><password>y</password>'
        "</login></env:Body></env:Envelope>",
        headers={"SOAPAction": "login"},
    )
    assert response.status_code == 500
    assert b"<faultcode>sf:INVALID_LOGIN</faultcode>" in response.content
    assert b"<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>" in response.content


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-ip", "untrusted-ip"])
def test_soap_login_without_token_needs_a_trusted_ip(trusted: bool, mount: Mount) -> None:
    sandbox = SalesforceSandbox(counts={}, credentials=Credentials(trusted_ip=trusted))
    creds = sandbox.credentials
    url = mount(sandbox)

    def login() -> Salesforce:
        return Salesforce(
            username=creds.username,
            password=creds.password,
            organizationId=creds.org_id,
            session=sandbox_session(url),
        )

    if trusted:
        assert login().query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    else:
        with pytest.raises(SalesforceAuthenticationFailed):
            login()


def test_soap_login_rejects_malformed_xml(server: RunningServer) -> None:
    response = sandbox_session(server.url).post(
        "https://login.salesforce.com/services/Soap/u/59.0",
        "<env:Envelope",
        headers={"SOAPAction": "login"},
    )
    assert response.status_code == 500
    assert b"<faultcode>soapenv:Client</faultcode>" in response.content


def test_oauth_password_login(sandbox: SalesforceSandbox, server: RunningServer) -> None:
    creds = sandbox.credentials
    sf = Salesforce(
        username=creds.username,
        password=creds.password + creds.security_token,
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        session=sandbox_session(server.url),
    )
    assert sf.sf_instance == creds.instance_host
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 10


@pytest.mark.parametrize(
    ("field", "value", "error", "description"),
    [
        ("consumer_key", "unknown", "invalid_client_id", "client identifier invalid"),
        ("consumer_secret", "wrong", "invalid_client", "invalid client credentials"),
        ("password", "wrong", "invalid_grant", "authentication failure"),
    ],
    ids=["client-id", "client-secret", "password"],
)
def test_oauth_password_login_rejects_bad_credentials(
    sandbox: SalesforceSandbox,
    server: RunningServer,
    field: str,
    value: str,
    error: str,
    description: str,
) -> None:
    creds = sandbox.credentials
    kwargs = {
        "username": creds.username,
        "password": creds.password + creds.security_token,
        "consumer_key": creds.consumer_key,
        "consumer_secret": creds.consumer_secret,
    }
    kwargs[field] = value
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(session=sandbox_session(server.url), **kwargs)
    assert (caught.value.code, caught.value.auth_message) == (error, description)


def test_oauth_token_endpoint_rejects_unknown_grant(server: RunningServer) -> None:
    response = sandbox_session(server.url).post(TOKEN_URL, data={"grant_type": "magic"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


def test_refresh_token_grant_issues_a_working_session(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    creds = sandbox.credentials
    http = sandbox_session(server.url)
    response = http.post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": creds.consumer_key,
            "client_secret": creds.consumer_secret,
            "refresh_token": sandbox.issue_refresh_token(),
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert "refresh_token" not in body
    sf = Salesforce(
        session_id=body["access_token"], instance_url=body["instance_url"], session=http
    )
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 20


def test_refresh_token_grant_rejects_unknown_token(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    response = sandbox_session(server.url).post(
        TOKEN_URL,
        data={
            "grant_type": "refresh_token",
            "client_id": sandbox.credentials.consumer_key,
            "refresh_token": "5Aep861nope",
        },
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_jwt_bearer_login_with_the_connected_app_key(
    jwt_server: tuple[SalesforceSandbox, str], rsa_keys: tuple[str, str]
) -> None:
    sandbox, url = jwt_server
    creds = sandbox.credentials
    sf = Salesforce(
        username=creds.username,
        consumer_key=creds.consumer_key,
        privatekey=rsa_keys[0],
        session=sandbox_session(url),
    )
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 3


def test_jwt_bearer_rejects_a_foreign_signature(jwt_server: tuple[SalesforceSandbox, str]) -> None:
    sandbox, url = jwt_server
    creds = sandbox.credentials
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=creds.username,
            consumer_key=creds.consumer_key,
            privatekey=_pem_pair()[0],
            session=sandbox_session(url),
        )
    assert (caught.value.code, caught.value.auth_message) == ("invalid_grant", "invalid assertion")


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://acme.my.salesforce.com"}, "invalid_grant", "audience is invalid"),
        ({"iss": "someone-else"}, "invalid_client_id", "client identifier invalid"),
        ({"exp": "1000"}, "invalid_grant", "invalid assertion"),
        ({"sub": "nobody@example.com"}, "invalid_grant", "invalid assertion"),
    ],
    ids=["audience", "issuer", "expired", "subject"],
)
def test_jwt_bearer_checks_claims(
    jwt_server: tuple[SalesforceSandbox, str],
    rsa_keys: tuple[str, str],
    claims: dict[str, str],
    error: str,
    description: str,
) -> None:
    sandbox, url = jwt_server
    creds = sandbox.credentials
    payload = {
        "iss": creds.consumer_key,
        "sub": creds.username,
        "aud": "https://login.salesforce.com",
        "exp": f"{time.time() + 180:.0f}",
        **claims,
    }
    assertion = jwt.encode(payload, rsa_keys[0], algorithm="RS256")
    response = sandbox_session(url).post(
        TOKEN_URL,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )
    assert response.status_code == 400
    assert response.json() == {"error": error, "error_description": description}


def test_client_credentials_login(sandbox: SalesforceSandbox, server: RunningServer) -> None:
    creds = sandbox.credentials
    sf = Salesforce(
        consumer_key=creds.consumer_key,
        consumer_secret=creds.consumer_secret,
        domain="threadline-dev-ed.my",
        session=sandbox_session(server.url),
    )
    assert sf.query("SELECT COUNT() FROM Case")["totalSize"] == 15


def test_rest_rejects_unknown_session(server: RunningServer) -> None:
    sf = Salesforce(
        session_id="00D000000000001!AQ0AQbogus",
        instance="x.my.salesforce.com",
        session=sandbox_session(server.url),
    )
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Contact")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_rest_rejects_missing_authorization_header(server: RunningServer) -> None:
    response = sandbox_session(server.url).get(
        "https://x.my.salesforce.com/services/data/v59.0/query/?q=SELECT+Id+FROM+Contact"
    )
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_expired_session_is_refreshed_once_by_the_client(
    sf: Salesforce, sandbox: SalesforceSandbox
) -> None:
    logins = sandbox.sessions.logins
    sandbox.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 450
    contact_id = sandbox.records("Contact")[0]["Id"]
    sandbox.expire_sessions()
    assert sf.Contact.get(contact_id)["Id"] == contact_id
    assert sandbox.sessions.logins == logins + 2


def test_any_api_version_works(sandbox: SalesforceSandbox, server: RunningServer) -> None:
    creds = sandbox.credentials
    for version in ("52.0", "60.0", "62.0"):
        sf = Salesforce(
            username=creds.username,
            password=creds.password,
            security_token=creds.security_token,
            version=version,
            session=sandbox_session(server.url),
        )
        result = sf.query("SELECT Id FROM Contact LIMIT 1")
        assert result["records"][0]["attributes"]["url"].startswith(
            f"/services/data/v{version}/sobjects/Contact/"
        )
