"""OAuth 2.0 for the sandbox: authorization codes, access/refresh tokens, private-app tokens.

Bodies follow HubSpot's ``auth-oauth-v1`` spec and the archived OAuth docs
(../shared/protocols.md §1.8): access tokens live 1,800 s, refresh tokens do not rotate
on refresh, the token endpoint takes a form body and no Authorization header.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .errors import HubSpotHTTPError, error_body, unauthorized
from .timeutil import Clock

ACCESS_TOKEN_TTL = 1800


@dataclass(frozen=True)
class OAuthApp:
    """The public app the sandbox pretends is installed in its portal."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - a sandbox fixture
    redirect_uri: str = "http://127.0.0.1/oauth/callback"
    scopes: tuple[str, ...] = ("oauth", "crm.objects.contacts.read",
                               "crm.objects.contacts.write", "crm.objects.companies.read")
    user: str = "sandbox-user@example.com"
    user_id: int = 4_242_424
    hub_domain: str = "threadline-sandbox.com"


@dataclass
class AccessToken:
    token: str
    expires_at: float
    kind: str = "oauth"  # "oauth" or "private_app"
    scopes: list[str] = field(default_factory=list)


def token_error(status: str, message: str, error: str, http: int = 400) -> HubSpotHTTPError:
    """Token-endpoint errors carry both OAuth (``error``) and HubSpot (``status``) fields."""
    return HubSpotHTTPError(http, {"error": error, "error_description": message,
                                   "status": status, "message": message})


class TokenRegistry:
    """Issued codes and tokens for one portal, with expiry read from the injected clock."""

    def __init__(self, app: OAuthApp, clock: Clock, portal_id: int, app_id: int) -> None:
        self.app = app
        self.clock = clock
        self.portal_id = portal_id
        self.app_id = app_id
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, list[str]]] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, list[str]] = {}

    # ---- helpers for tests and the CLI ------------------------------------------------

    def issue_code(self, redirect_uri: str | None = None, scopes: list[str] | None = None) -> str:
        """What HubSpot appends to the redirect after the user approves the install."""
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = (redirect_uri or self.app.redirect_uri,
                                 scopes or list(self.app.scopes))
        return code

    def add_private_app_token(self, token: str | None = None) -> str:
        """Register a ``pat-…`` token; private-app tokens do not expire."""
        token = token or f"pat-na1-{uuid.uuid4()}"
        with self._lock:
            self._access[token] = AccessToken(token, float("inf"), "private_app",
                                              list(self.app.scopes))
        return token

    def issue_tokens(self, scopes: list[str] | None = None) -> dict[str, Any]:
        """Mint an access + refresh token pair without the HTTP dance."""
        refresh = str(uuid.uuid4())
        with self._lock:
            self._refresh[refresh] = scopes or list(self.app.scopes)
        return self._mint(refresh)

    def _mint(self, refresh: str) -> dict[str, Any]:
        scopes = self._refresh[refresh]
        access = "C" + secrets.token_urlsafe(48)
        with self._lock:
            self._access[access] = AccessToken(access, self.clock() + ACCESS_TOKEN_TTL,
                                               scopes=scopes)
        return {"token_type": "bearer", "refresh_token": refresh, "access_token": access,
                "expires_in": ACCESS_TOKEN_TTL, "hub_id": self.portal_id,
                "user_id": self.app.user_id, "scopes": scopes, "token_use": "access_token"}

    def expire_all(self) -> None:
        """Fault: every OAuth access token expires now (private-app tokens are unaffected)."""
        with self._lock:
            now = self.clock()
            for token in self._access.values():
                if token.kind == "oauth":
                    token.expires_at = min(token.expires_at, now)

    def revoke_refresh(self, token: str) -> bool:
        with self._lock:
            return self._refresh.pop(token, None) is not None

    # ---- checks -----------------------------------------------------------------------

    def authenticate(self, header: str | None) -> AccessToken:
        """Validate an ``Authorization: Bearer`` header; raise HubSpot's 401 otherwise."""
        if not header or not header.lower().startswith("bearer "):
            raise unauthorized()
        token = header[7:].strip()
        with self._lock:
            found = self._access.get(token)
        if found is None:
            raise unauthorized()
        remaining = found.expires_at - self.clock()
        if remaining <= 0:
            minutes = int(-remaining // 60)
            raise unauthorized(
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                "EXPIRED_AUTHENTICATION")
        return found

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """The ``/oauth/v1/token`` grant logic."""
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            raise token_error("BAD_GRANT_TYPE", "missing or unknown grant type",
                              "unsupported_grant_type")
        if form.get("client_id") != self.app.client_id:
            raise token_error("BAD_CLIENT_ID", "missing or unknown client id", "invalid_client")
        if not secrets.compare_digest(form.get("client_secret", ""), self.app.client_secret):
            raise token_error("BAD_CLIENT_SECRET", "missing or invalid client secret",
                              "invalid_client")
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self._refresh:
                raise token_error("BAD_REFRESH_TOKEN",
                                  "refresh token is invalid, expired or revoked", "invalid_grant")
            return self._mint(refresh)
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)
        if issued is None:
            raise token_error("BAD_AUTH_CODE", "missing or unknown auth code", "invalid_grant")
        redirect_uri, scopes = issued
        if form.get("redirect_uri") != redirect_uri:
            raise token_error("BAD_REDIRECT_URI",
                              "redirect_uri does not match initial redirect uri", "invalid_grant")
        return self.issue_tokens(scopes)

    def access_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._access.get(token)
        if found is None or found.kind != "oauth" or found.expires_at <= self.clock():
            return None
        return {"token": token, "user": self.app.user, "hub_domain": self.app.hub_domain,
                "scopes": found.scopes, "hub_id": self.portal_id, "app_id": self.app_id,
                "expires_in": int(found.expires_at - self.clock()), "user_id": self.app.user_id,
                "token_type": "access"}

    def refresh_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            scopes = self._refresh.get(token)
        if scopes is None:
            return None
        return {"token": token, "user": self.app.user, "hub_domain": self.app.hub_domain,
                "scopes": scopes, "hub_id": self.portal_id, "client_id": self.app.client_id,
                "user_id": self.app.user_id, "token_type": "refresh"}


bp = Blueprint("hubspot_oauth", __name__)


def _registry() -> TokenRegistry:
    registry: TokenRegistry = current_app.extensions["hubspot_sandbox"].oauth
    return registry


def _token_missing() -> HubSpotHTTPError:
    return HubSpotHTTPError(404, error_body("Token not found", "OBJECT_NOT_FOUND"))


@bp.post("/oauth/v1/token")
def token() -> Response:
    """Form-encoded grant; JSON bodies are refused like HubSpot's endpoint does [U]."""
    if not (request.mimetype or "").startswith("application/x-www-form-urlencoded"):
        raise token_error("BAD_REQUEST", "Content-Type must be application/x-www-form-urlencoded",
                          "invalid_request")
    return jsonify(_registry().exchange(request.form.to_dict()))


@bp.get("/oauth/v1/access-tokens/<token>")
def access_token_info(token: str) -> Response:
    info = _registry().access_info(token)
    if info is None:
        raise _token_missing()
    return jsonify(info)


@bp.get("/oauth/v1/refresh-tokens/<token>")
def refresh_token_info(token: str) -> Response:
    info = _registry().refresh_info(token)
    if info is None:
        raise _token_missing()
    return jsonify(info)


@bp.delete("/oauth/v1/refresh-tokens/<token>")
def refresh_token_revoke(token: str) -> Response:
    if not _registry().revoke_refresh(token):
        raise _token_missing()
    return Response(status=204)


