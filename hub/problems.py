"""JSON problem responses (RFC 9457): the only shape an error ever reaches a client in."""

from __future__ import annotations

import json

from flask import Response


def problem(status: int, code: str, detail: str, **extra: object) -> Response:
    body = {"type": "about:blank", "title": code, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")
