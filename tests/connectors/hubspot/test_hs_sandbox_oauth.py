"""OAuth token endpoint and token expiry, via ``client.oauth``."""

from __future__ import annotations

import json
from collections.abc import Callable

import hubspot
import pytest
from hubspot.oauth import ApiException

from connectors.hubspot.sandbox import HubSpotSandbox, ManualClock
from hub.sandbox_server import RunningServer

APP = {"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def oauth_sandbox(make_sandbox: Callable[..., HubSpotSandbox],
                  clock: ManualClock) -> HubSpotSandbox:
    return make_sandbox(seed=1, clock=clock)


@pytest.fixture
def url(oauth_sandbox: HubSpotSandbox, serve: Callable[[HubSpotSandbox], RunningServer]) -> str:
    return serve(oauth_sandbox).url


def _client(url: str, token: str | None = None) -> hubspot.Client:
    return hubspot.Client.create(access_token=token, host=url)


def test_authorization_code_grant_then_api_call(oauth_sandbox: HubSpotSandbox, url: str) -> None:
    code = oauth_sandbox.oauth.issue_code()
    tokens = _client(url).oauth.tokens_api.create(
        grant_type="authorization_code", code=code,
        redirect_uri="http://127.0.0.1/oauth/callback", **APP)
    assert tokens.token_type == "bearer"
    assert tokens.expires_in == 1800
    page = _client(url, tokens.access_token).crm.contacts.basic_api.get_page(limit=1)
    assert len(page.results) == 1


def test_auth_code_is_single_use(oauth_sandbox: HubSpotSandbox, url: str) -> None:
    code = oauth_sandbox.oauth.issue_code()
    api = _client(url).oauth.tokens_api
    api.create(grant_type="authorization_code", code=code,
               redirect_uri="http://127.0.0.1/oauth/callback", **APP)
    with pytest.raises(ApiException) as info:
        api.create(grant_type="authorization_code", code=code,
                   redirect_uri="http://127.0.0.1/oauth/callback", **APP)
    assert json.loads(info.value.body)["status"] == "BAD_AUTH_CODE"


def test_refresh_grant_keeps_the_refresh_token(oauth_sandbox: HubSpotSandbox, url: str) -> None:
    first = oauth_sandbox.oauth.issue_tokens()
    again = _client(url).oauth.tokens_api.create(
        grant_type="refresh_token", refresh_token=first["refresh_token"], **APP)
    assert again.refresh_token == first["refresh_token"]
    assert again.access_token != first["access_token"]


def test_bad_refresh_token_is_400_with_hubspot_body(url: str) -> None:
    with pytest.raises(ApiException) as info:
        _client(url).oauth.tokens_api.create(grant_type="refresh_token",
                                             refresh_token="not-a-token", **APP)
    assert info.value.status == 400
    reason = "refresh token is invalid, expired or revoked"
    assert json.loads(info.value.body) == {"error": "invalid_grant", "error_description": reason,
                                           "status": "BAD_REFRESH_TOKEN", "message": reason}


def test_wrong_client_secret_is_rejected(url: str) -> None:
    with pytest.raises(ApiException) as info:
        _client(url).oauth.tokens_api.create(grant_type="refresh_token", refresh_token="x",
                                             client_id=APP["client_id"], client_secret="wrong")
    assert json.loads(info.value.body)["status"] == "BAD_CLIENT_SECRET"


def test_access_token_expires_after_1800_seconds(oauth_sandbox: HubSpotSandbox, url: str,
                                                 clock: ManualClock) -> None:
    tokens = oauth_sandbox.oauth.issue_tokens()
    api = _client(url, tokens["access_token"]).crm.contacts.basic_api
    clock.advance(1799)
    api.get_page(limit=1)
    clock.advance(1)
    with pytest.raises(hubspot.crm.contacts.ApiException) as info:
        api.get_page(limit=1)
    assert info.value.status == 401
    assert json.loads(info.value.body)["category"] == "EXPIRED_AUTHENTICATION"


def test_expire_tokens_fault_leaves_private_app_tokens_working(
        oauth_sandbox: HubSpotSandbox, url: str) -> None:
    tokens = oauth_sandbox.oauth.issue_tokens()
    oauth_sandbox.expire_tokens()
    with pytest.raises(hubspot.crm.contacts.ApiException):
        _client(url, tokens["access_token"]).crm.contacts.basic_api.get_page(limit=1)
    _client(url, oauth_sandbox.private_app_token).crm.contacts.basic_api.get_page(limit=1)


def test_access_token_info(oauth_sandbox: HubSpotSandbox, url: str, clock: ManualClock) -> None:
    tokens = oauth_sandbox.oauth.issue_tokens()
    clock.advance(100)
    info = _client(url).oauth.access_tokens_api.get(tokens["access_token"])
    assert info.hub_id == oauth_sandbox.portal_id
    assert info.expires_in == 1700
    refresh = _client(url).oauth.refresh_tokens_api.get(tokens["refresh_token"])
    assert refresh.client_id == APP["client_id"]
