"""Read API: contacts by id, e-mail, phone or source record, and their interactions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.api.auth import require_token
from hub.api.serialize import contact_json, interaction_json
from hub.identity import find_contacts
from hub.problems import problem
from hub.runtime import Runtime
from hub.store.models import Contact, Identifier, Interaction, SourceRecord
from hub.store.records import record_kind
from hub.transforms import TransformContext, email, phone

bp = Blueprint("read_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def normalise_phone(text: str, region: str) -> str | None:
    """A phone as a person would type it: national, international, 00-prefixed."""
    text = text.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    ctx = TransformContext(region)
    found = phone(text, None, ctx)
    if found is None and not text.startswith("+"):
        found = phone("+" + text, None, ctx)
    return found


def _contact_payload(session: Session, contact: Contact) -> dict[str, object]:
    records = list(
        session.scalars(
            select(SourceRecord)
            .where(SourceRecord.contact_id == contact.id)
            .order_by(SourceRecord.id)
        )
    )
    identifiers = list(
        session.scalars(
            select(Identifier).where(Identifier.contact_id == contact.id).order_by(Identifier.id)
        )
    )
    return contact_json(contact, records, identifiers)


@bp.get("/contacts/<contact_id>")
def get_contact(contact_id: str) -> Response:
    with _runtime().read_sessions() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return problem(404, "not_found", f"no contact {contact_id!r}")
        if contact.merged_into_id:
            contact = session.get(Contact, contact.merged_into_id) or contact
        return jsonify(_contact_payload(session, contact))


class LookupError_(ValueError):
    """A lookup query that cannot be answered; the message says why."""


def parse_lookup(args: Mapping[str, str], region: str) -> tuple[str, str]:
    """``(kind, value)`` from exactly one of ``email``, ``phone`` or
    ``connector`` + ``object_type`` + ``id``; raises LookupError_ otherwise."""
    if "email" in args:
        value = email(args["email"], None, TransformContext(region))
        if value is None:
            raise LookupError_("email is not a valid address")
        return "email", value
    if "phone" in args:
        found = normalise_phone(args["phone"], region)
        if found is None:
            raise LookupError_("phone is not a possible phone number")
        return "phone", found
    if {"connector", "object_type", "id"} <= set(args):
        return record_kind(args["connector"], args["object_type"]), args["id"]
    raise LookupError_("give email, phone, or connector + object_type + id")


@bp.get("/contacts")
def find_contact() -> Response:
    """Look up by exactly one of ``email``, ``phone`` or ``connector``+``object_type``+``id``."""
    try:
        kind, value = parse_lookup(request.args, _runtime().settings.hub.default_region)
    except LookupError_ as exc:
        return problem(400, "invalid_query", str(exc))
    with _runtime().read_sessions() as session:
        ids = find_contacts(session, kind, value)
        results = []
        for contact_id in ids:
            contact = session.get(Contact, contact_id)
            if contact is not None:
                results.append(_contact_payload(session, contact))
    if not results:
        return problem(404, "not_found", f"no contact with that {kind.split(':')[0]}")
    return jsonify({"results": results, "ambiguous": len(results) > 1})


@bp.get("/contacts/<contact_id>/interactions")
def list_interactions(contact_id: str) -> Response:
    """Newest first; page with ``limit`` (≤ 200) and the ``next_cursor`` returned."""
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 200)
    except ValueError:
        return problem(400, "invalid_query", "limit must be a whole number")
    cursor = request.args.get("cursor")
    with _runtime().read_sessions() as session:
        if session.get(Contact, contact_id) is None:
            return problem(404, "not_found", f"no contact {contact_id!r}")
        query = select(Interaction).where(Interaction.contact_id == contact_id)
        if cursor:
            try:
                at_text, _, id_text = cursor.partition("|")
                at, last_id = datetime.fromisoformat(at_text), int(id_text)
            except ValueError:
                return problem(400, "invalid_query", "cursor is not one this API returned")
            query = query.where(
                or_(
                    Interaction.occurred_at < at,
                    and_(Interaction.occurred_at == at, Interaction.id < last_id),
                )
            )
        rows = list(
            session.scalars(
                query.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(
                    limit + 1
                )
            )
        )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = f"{rows[-1].occurred_at.isoformat()}|{rows[-1].id}" if more and rows else None
    return jsonify({"results": [interaction_json(r) for r in rows], "next_cursor": next_cursor})
