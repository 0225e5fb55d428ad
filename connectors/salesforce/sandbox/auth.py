"""Login endpoints: SOAP ``login`` and the OAuth 2.0 token endpoint.

Both answer in the exact shapes simple-salesforce parses (protocols.md §2.2): the
SOAP result elements are unprefixed (default namespace) because the client looks
them up with ``getElementsByTagName('sessionId')``; faults are HTTP 500 with
``sf:exceptionCode``/``sf:exceptionMessage``; OAuth errors are HTTP 400 JSON with
``error`` and ``error_description``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import xml.etree.ElementTree as ET
from html import escape
from typing import TYPE_CHECKING, Any

import jwt
from flask import Blueprint, Response, request

from .errors import json_response

if TYPE_CHECKING:
    from .app import SalesforceSandbox

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER_NS = "urn:partner.soap.sforce.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_VERSION_RE = re.compile(r"^\d{1,2}\.\d$")


def soap_fault(code: str, message: str, *, client_fault: bool = False) -> Response:
    """A login fault exactly as Salesforce sends it (HTTP 500)."""
    if client_fault:
        fault = f"<faultcode>soapenv:Client</faultcode><faultstring>{escape(message)}</faultstring>"
    else:
        fault = (
            f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}"
            f'</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault">'
            f"<sf:exceptionCode>{code}</sf:exceptionCode>"
            f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
            f"</sf:LoginFault></detail>"
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        f'xmlns:soapenv="{SOAP_NS}" xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f"<soapenv:Fault>{fault}</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(body, status=500, content_type="text/xml;charset=UTF-8")


def _login_result(sandbox: SalesforceSandbox, version: str, session_id: str) -> str:
    creds = sandbox.credentials
    org15 = creds.org_id[:15]
    user = sandbox.store.records["User"].get(creds.user_id, {})
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        f'xmlns:soapenv="{SOAP_NS}" xmlns="{PARTNER_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse>'
        f"<result><metadataServerUrl>{creds.instance_url}/services/Soap/m/{version}/{org15}"
        "</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{creds.instance_url}/services/Soap/u/{version}/{org15}</serverUrl>"
        f"<sessionId>{session_id}</sessionId><userId>{creds.user_id}</userId><userInfo>"
        "<accessibilityMode>false</accessibilityMode><currencySymbol>$</currencySymbol>"
        "<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>"
        f"<organizationId>{creds.org_id}</organizationId>"
        f"<organizationName>{escape(creds.org_name)}</organizationName>"
        "<sessionSecondsValid>7200</sessionSecondsValid>"
        f"<userEmail>{escape(str(user.get('Email', '')))}</userEmail>"
        f"<userFullName>{escape(str(user.get('Name', '')))}</userFullName>"
        f"<userId>{creds.user_id}</userId><userLanguage>en_US</userLanguage>"
        f"<userName>{escape(creds.username)}</userName><userTimeZone>Etc/UTC</userTimeZone>"
        "<userType>Standard</userType></userInfo></result></loginResponse></soapenv:Body>"
        "</soapenv:Envelope>"
    )


def _parse_login(body: bytes) -> tuple[str, str, str | None]:
    """Return (username, password, organizationId) from a SOAP login envelope."""
    root = ET.fromstring(body)  # noqa: S314 - expat does not expand external entities
    login = root.find(f".//{{{PARTNER_NS}}}login")
    if login is None:
        raise ValueError("No operation available for request {urn:partner.soap.sforce.com}")
    username = login.findtext(f"{{{PARTNER_NS}}}username") or ""
    password = login.findtext(f"{{{PARTNER_NS}}}password") or ""
    org = root.findtext(f".//{{{PARTNER_NS}}}organizationId")
    return username, password, org


def _soap_login(sandbox: SalesforceSandbox, version: str) -> Response:
    if not _VERSION_RE.match(version):
        return soap_fault("UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL")
    if "SOAPAction" not in request.headers:
        return soap_fault("", "No SOAPAction header!", client_fault=True)
    try:
        username, password, org_id = _parse_login(request.get_data())
    except ET.ParseError:
        return soap_fault("", "Premature end of file.", client_fault=True)
    except ValueError as exc:
        return soap_fault("", str(exc), client_fault=True)
    creds = sandbox.credentials
    accepted = {creds.password + creds.security_token}
    if creds.trusted_ip:  # login from a trusted IP range needs no security token
        accepted.add(creds.password)
    org_ok = org_id is None or org_id[:15] == creds.org_id[:15]
    if username.lower() != creds.username.lower() or password not in accepted or not org_ok:
        return soap_fault("INVALID_LOGIN", INVALID_LOGIN)
    session_id = sandbox.sessions.issue()
    return Response(
        _login_result(sandbox, version, session_id),
        status=200,
        content_type="text/xml;charset=UTF-8",
    )


# -- OAuth 2.0 ---------------------------------------------------------------------------------
class OAuthError(Exception):
    """An OAuth failure: HTTP 400 ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


def _token_body(
    sandbox: SalesforceSandbox, *, signed: bool, scope: str | None = None
) -> dict[str, Any]:
    creds = sandbox.credentials
    issued_at = str(int(time.time() * 1000))
    identity = f"https://login.salesforce.com/id/{creds.org_id}/{creds.user_id}"
    body: dict[str, Any] = {
        "access_token": sandbox.sessions.issue(),
        "instance_url": creds.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
    if scope is not None:
        body["scope"] = scope
    if signed:
        # Salesforce signs id + issued_at with the consumer secret (HMAC-SHA256, base64).
        mac = hmac.new(
            creds.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        )
        body["signature"] = base64.b64encode(mac.digest()).decode()
    return body


def _check_client(
    sandbox: SalesforceSandbox, form: dict[str, str], *, secret_required: bool
) -> None:
    creds = sandbox.credentials
    if form.get("client_id") != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    secret = form.get("client_secret")
    if (secret_required or secret is not None) and secret != creds.consumer_secret:
        raise OAuthError("invalid_client", "invalid client credentials")


def _password_grant(sandbox: SalesforceSandbox, form: dict[str, str]) -> dict[str, Any]:
    _check_client(sandbox, form, secret_required=True)
    creds = sandbox.credentials
    accepted = {creds.password + creds.security_token}
    if creds.trusted_ip:
        accepted.add(creds.password)
    if (
        form.get("username", "").lower() != creds.username.lower()
        or form.get("password") not in accepted
    ):
        raise OAuthError("invalid_grant", "authentication failure")
    return _token_body(sandbox, signed=True)


def _refresh_grant(sandbox: SalesforceSandbox, form: dict[str, str]) -> dict[str, Any]:
    _check_client(sandbox, form, secret_required=False)
    if not sandbox.sessions.refresh_token_is_valid(form.get("refresh_token", "")):
        raise OAuthError("invalid_grant", "expired access/refresh token")
    return _token_body(sandbox, signed=True, scope="api refresh_token")


def _jwt_grant(sandbox: SalesforceSandbox, form: dict[str, str]) -> dict[str, Any]:
    creds = sandbox.credentials
    assertion = form.get("assertion", "")
    if creds.jwt_public_key_pem is None:
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        # simple-salesforce sends ``exp`` as a string, which Salesforce accepts but PyJWT's
        # own exp check rejects, so expiry is checked by hand below.
        claims = jwt.decode(
            assertion,
            creds.jwt_public_key_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False},
        )
    except jwt.InvalidTokenError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != creds.consumer_key:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    audiences = {"https://login.salesforce.com", "https://test.salesforce.com", creds.instance_url}
    if claims.get("aud") not in audiences:
        raise OAuthError("invalid_grant", "audience is invalid")
    try:
        expires = float(claims.get("exp", ""))
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if expires < time.time():
        raise OAuthError("invalid_grant", "invalid assertion")
    if str(claims.get("sub", "")).lower() != creds.username.lower():
        raise OAuthError("invalid_grant", "invalid assertion")
    body = _token_body(sandbox, signed=False, scope="api")
    body.pop("issued_at")
    return body


def _client_credentials_grant(sandbox: SalesforceSandbox, form: dict[str, str]) -> dict[str, Any]:
    creds = sandbox.credentials
    header = request.headers.get("Authorization", "")
    key, secret = form.get("client_id"), form.get("client_secret")
    if header.startswith("Basic "):
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
    if key != creds.consumer_key or secret != creds.consumer_secret:
        raise OAuthError("invalid_client", "invalid client credentials")
    if not creds.client_credentials_enabled:
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    return _token_body(sandbox, signed=True, scope="api")


_GRANTS = {
    "password": _password_grant,
    "refresh_token": _refresh_grant,
    JWT_GRANT: _jwt_grant,
    "client_credentials": _client_credentials_grant,
}


def _token(sandbox: SalesforceSandbox) -> Response:
    form = request.form.to_dict()
    grant = _GRANTS.get(form.get("grant_type", ""))
    try:
        if grant is None:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return json_response(grant(sandbox, form))
    except OAuthError as exc:
        return json_response({"error": exc.error, "error_description": exc.description}, 400)


def auth_blueprint(sandbox: SalesforceSandbox) -> Blueprint:
    """Routes for ``/services/Soap/u/{version}`` and ``/services/oauth2/token``."""
    bp = Blueprint("salesforce_auth", __name__)

    @bp.post("/services/Soap/u/<version>", strict_slashes=False)
    def soap_login(version: str) -> Response:
        sandbox.faults.before_request(request.path)
        return _soap_login(sandbox, version)

    @bp.post("/services/oauth2/token", strict_slashes=False)
    def oauth_token() -> Response:
        sandbox.faults.before_request(request.path)
        return _token(sandbox)

    return bp
