"""Who is calling /api/v1, and may they: bearer tokens with roles.

``Authorization: Bearer <token>`` names a stored token (``hub/tokens.py``; viewer,
operator or admin) or one of the static ``api.tokens`` (admin). Reading needs
viewer, replay/run/pause/unmerge need operator, managing tokens needs admin.
A missing or unknown token is a 401; a token whose role is too low is a 403.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, g, request

from hub import tokens
from hub.problems import problem
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.tokens import Principal


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def principal_from_bearer(runtime: Runtime, header: str) -> Principal | None:
    """The caller named by an ``Authorization`` header, or None."""
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        return None
    found = tokens.configured_principal(given, runtime.settings.api.tokens)
    if found is not None:
        return found
    if not given.startswith(tokens.PREFIX):
        return None
    with runtime.read_sessions() as session:
        stored = tokens.stored_principal(session, given)
    if stored is None:
        return None
    principal, stale = stored
    if stale and principal.token_id is not None:
        with transaction(runtime.sessions) as session:
            tokens.touch(session, principal.token_id)
    return principal


def current_principal() -> Principal:
    """The caller of this request (set by the role check)."""
    principal: Principal = g.principal
    return principal


def refuse_unless(principal: Principal | None, role: str) -> Response | None:
    """None when ``principal`` has ``role`` (or a higher one), else a problem response."""
    if principal is None:
        return problem(401, "unauthorized", "send Authorization: Bearer <token> with a valid token")
    if not principal.can(role):
        return problem(
            403,
            "forbidden",
            f"this needs the {role} role; the token has {principal.role}",
        )
    return None


def require(role: str) -> Callable[[], Response | None]:
    """A ``before_request`` hook: continue when the caller has ``role``."""
    tokens.check_role(role)

    def hook() -> Response | None:
        if request.method == "OPTIONS":
            return None
        principal = principal_from_bearer(_runtime(), request.headers.get("Authorization", ""))
        refused = refuse_unless(principal, role)
        if refused is None:
            g.principal = principal
        return refused

    return hook


#: The read and context APIs: any valid token (viewer and up).
require_token = require("viewer")
