"""Bearer-token check for the API (the admin issue replaces it with stored, scoped tokens)."""

from __future__ import annotations

import hmac

from flask import Response, current_app, request

from hub.problems import problem


def require_token() -> Response | None:
    """A ``before_request`` hook: None to continue, or a 401 problem."""
    tokens: list[str] = current_app.extensions["threadline"].settings.api.tokens
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not tokens:
        return problem(401, "unauthorized", "no API tokens are configured (api.tokens)")
    if scheme.lower() != "bearer" or not given:
        return problem(401, "unauthorized", "send Authorization: Bearer <token>")
    if not any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens):
        return problem(401, "unauthorized", "unknown API token")
    return None
