"""Logins through the connector: each flavour, plain-words failures, expired sessions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sf_helpers as h
from pydantic import ValidationError
from sf_clock import FakeClock

from connectors.salesforce.sandbox import Credentials, SalesforceSandbox
from connectors.salesforce.settings import SalesforceSettings
from hub.errors import FatalConnectorError
from hub.sandbox_server import RunningServer

Mount = Callable[[SalesforceSandbox], str]


@pytest.mark.parametrize("auth", ["password", "refresh_token"])
def test_check_logs_in_with_each_flavour(
    auth: str, sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url, auth=auth)
    result = sf.check()
    assert result.ok, result.detail
    assert "threadline-dev-ed.my.salesforce.com" in result.detail
    assert "API requests today" in result.detail


def test_check_logs_in_with_jwt_bearer(mount: Mount) -> None:
    private, public = h.pem_pair()
    sandbox = SalesforceSandbox(
        counts={"Contact": 3}, credentials=Credentials(jwt_public_key_pem=public)
    )
    url = mount(sandbox)
    c = sandbox.credentials
    sf = h.connector(
        sandbox,
        url,
        auth="jwt",
        consumer_key=c.consumer_key,
        username=c.username,
        private_key=private,
    )
    assert sf.check().ok
    other_private, _ = h.pem_pair()
    wrong = h.connector(
        sandbox,
        url,
        auth="jwt",
        consumer_key=c.consumer_key,
        username=c.username,
        private_key=other_private,
    )
    result = wrong.check()
    assert not result.ok
    assert "certificate" in result.detail


def test_check_explains_a_refused_password_without_echoing_secrets(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url, password="wrong-password-value")
    result = sf.check()
    assert not result.ok
    assert "INVALID_LOGIN" in result.detail
    assert "security token" in result.detail
    assert "wrong-password-value" not in result.detail


def test_check_reports_a_revoked_refresh_token(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url, auth="refresh_token")
    sandbox.sessions.revoke_refresh_tokens()
    result = sf.check()
    assert not result.ok
    assert "invalid_grant" in result.detail


def test_check_notices_the_wrong_org(sandbox: SalesforceSandbox, server: RunningServer) -> None:
    sf = h.connector(sandbox, server.url, org_id="00D000000000002AAA")
    result = sf.check()
    assert not result.ok
    assert "not org_id" in result.detail


def test_expired_session_mid_sync_relogs_in_once(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock, streams={"contacts": {"page_size": 200}})
    pages = sf.streams()[0].read({})
    first = next(pages)
    logins = sandbox.sessions.logins
    sandbox.expire_sessions()  # the next queryMore gets one 401 INVALID_SESSION_ID
    rest = list(pages)
    assert sandbox.sessions.logins == logins + 1
    assert sum(len(p.records) for p in [first, *rest]) == 450


def test_a_session_refused_right_after_login_is_fatal(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url)
    sf.client.login()
    sandbox.inject_errors(
        2, status=401, error_code="INVALID_SESSION_ID", message="Session expired or invalid"
    )
    with pytest.raises(FatalConnectorError, match="INVALID_SESSION_ID"):
        sf.client.call("query", lambda s: s.query("SELECT Id FROM Contact LIMIT 1"))
    assert sf.client.logins == 2  # exactly one re-login, never a loop


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"auth": "password", "username": "u"}, "needs password, security_token"),
        ({"auth": "jwt", "consumer_key": "k"}, "needs username, private_key"),
        (
            {
                "auth": "password",
                "username": "u",
                "password": "p",
                "security_token": "t",
                "outbound_message_token": "short",
            },
            "at least 24",
        ),
        (
            {
                "auth": "password",
                "username": "u",
                "password": "p",
                "security_token": "t",
                "outbound_message_token": "x" * 30,
            },
            "needs org_id",
        ),
        (
            {
                "auth": "password",
                "username": "u",
                "password": "p",
                "security_token": "t",
                "api_version": "v59.0",
            },
            "no leading v",
        ),
        (
            {
                "auth": "password",
                "username": "u",
                "password": "p",
                "security_token": "t",
                "streams": {"contacts": {"extra_fields": ["Bad Field"]}},
            },
            "API name",
        ),
    ],
    ids=[
        "password-incomplete",
        "jwt-incomplete",
        "short-token",
        "token-without-org",
        "version-with-v",
        "bad-extra-field",
    ],
)
def test_settings_reject_incomplete_or_unsafe_values(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SalesforceSettings.model_validate(settings)
