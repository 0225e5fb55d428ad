"""``GET /api/v1/context``: everything an agent, an IVR or an ACD needs in one answer."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.api.auth import require_token
from hub.api.read import LookupError_, parse_lookup
from hub.customer_context import Match, build_context, live_contact
from hub.identity import find_contacts
from hub.problems import problem
from hub.runtime import Runtime
from hub.store.models import Interaction

bp = Blueprint("context_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


def _last_activity(session: Session, contact_id: str) -> Any:
    return session.scalar(
        select(func.max(Interaction.occurred_at)).where(Interaction.contact_id == contact_id)
    )


def resolve_for_context(session: Session, kind: str, value: str) -> tuple[Any, Match] | None:
    """The contact to show for a lookup and how sure we are.

    One holder: confidence 1. Several (a shared number): the most recently active is
    shown, every holder is a candidate with an equal share of the confidence.
    """
    holders = [
        c
        for c in (live_contact(session, i) for i in find_contacts(session, kind, value))
        if c is not None
    ]
    unique = list({c.id: c for c in holders}.values())
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0], Match(matched_on=(kind, value), confidence=1.0)
    activity = {c.id: _last_activity(session, c.id) for c in unique}
    ranked = sorted(
        unique,
        key=lambda c: (
            activity[c.id] is not None,
            activity[c.id].timestamp() if activity[c.id] else 0,
        ),
        reverse=True,
    )
    share = round(1 / len(ranked), 3)
    return ranked[0], Match(
        matched_on=(kind, value), confidence=share, candidates=[(c.id, share) for c in ranked[1:]]
    )


@bp.get("/context")
def get_context() -> Response:
    """By ``phone`` (any format), ``email``, or ``connector``+``object_type``+``id``."""
    runtime: Runtime = current_app.extensions["threadline"]
    try:
        kind, value = parse_lookup(request.args, runtime.settings.hub.default_region)
    except LookupError_ as exc:
        return problem(400, "invalid_query", str(exc))
    with runtime.read_sessions() as session:
        found = resolve_for_context(session, kind, value)
        if found is None:
            return problem(
                404,
                "unknown_contact",
                f"no contact has that {kind.split(':')[0]}; nothing to pop",
                lookup={"kind": kind.split(":")[0]},
            )
        contact, match = found
        body = build_context(
            session,
            contact,
            connectors=runtime.connectors,
            match=match,
            vip_tiers=runtime.settings.hub.vip_tiers,
        )
    return jsonify(body)
