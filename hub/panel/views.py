"""``/agent`` (the page), ``/agent/stream`` (Server-Sent Events) and ``/agent/match``."""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy import select

from hub.panel.links import token_ok
from hub.pop_targets import audience_of
from hub.problems import problem
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import AuditEntry, Contact, Delivery, Interaction, Pop

bp = Blueprint("panel", __name__, template_folder="templates")
KEEPALIVE_SECONDS = 15.0
RECENT_POPS = 5


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def _authorised(agent: str, token: str) -> Response | None:
    secret = _runtime().settings.pops.panel_secret
    if not secret:
        return problem(503, "panel_not_configured", "set pops.panel_secret to use the panel")
    if not token_ok(secret, agent, token):
        return problem(401, "unauthorized", "this link is not valid for this agent")
    return None


@bp.get("/agent")
def page() -> Any:
    agent, token = request.args.get("agent", ""), request.args.get("token", "")
    refused = _authorised(agent, token)
    if refused is not None:
        return refused
    return render_template("agent.html", agent=agent, token=token)


def _recent(runtime: Runtime, agent: str) -> list[dict[str, Any]]:
    """The agent's last pops, so a panel opened late still shows the current caller."""
    with runtime.read_sessions() as session:
        rows = session.scalars(
            select(Delivery)
            .where(Delivery.target == "panel")
            .order_by(Delivery.id.desc())
            .limit(200)
        )
        mine = [
            {**row.payload, "delivery_id": row.id}
            for row in rows
            if audience_of(row.payload) in (f"agent:{agent}", "all")
        ]
    return list(reversed(mine[:RECENT_POPS]))


def _events(runtime: Runtime, agent: str) -> Iterator[str]:
    """The stream's body; runs after the request context is gone, so it gets the
    runtime as an argument rather than from ``current_app``."""
    bus = runtime.bus
    audiences = (f"agent:{agent}", "all")
    # One queue for both audiences: waiting on each in turn would hold a pop for one
    # while blocked on the other (up to the keep-alive interval).
    inbox: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=100)
    for audience in audiences:
        bus.subscribe(audience, inbox)
    try:
        yield "retry: 2000\n\n"
        for message in _recent(runtime, agent):
            yield f"event: pop\ndata: {json.dumps(message, default=str)}\n\n"
        while True:
            try:
                got = inbox.get(timeout=KEEPALIVE_SECONDS)
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            yield f"event: pop\ndata: {json.dumps(got, default=str)}\n\n"
    finally:
        for audience in audiences:
            bus.unsubscribe(audience, inbox)


@bp.get("/agent/stream")
def stream() -> Response:
    agent, token = request.args.get("agent", ""), request.args.get("token", "")
    refused = _authorised(agent, token)
    if refused is not None:
        return refused
    response = Response(_events(_runtime(), agent), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@bp.post("/agent/match")
def decide_match() -> Response:
    """The agent confirms a candidate (the call is this person) or rejects it.

    Confirming a stored candidate pair (hub/identity/candidates.py) merges the two
    contacts; otherwise it moves the pop's interaction to the chosen contact. Either
    is a recorded, reversible merge (``threadline contacts unmerge <id>``); rejecting
    a candidate keeps it from being suggested again. Both are audited.
    """
    from hub.identity.candidates import decide_candidate, find_candidate
    from hub.identity.merge import move_interactions

    body = request.get_json(silent=True) or {}
    agent, token = str(body.get("agent", "")), str(body.get("token", ""))
    refused = _authorised(agent, token)
    if refused is not None:
        return refused
    decision, contact_id = body.get("decision"), str(body.get("contact_id", ""))
    if decision not in ("confirm", "reject") or not isinstance(body.get("pop_id"), int):
        return problem(400, "invalid_request", "give pop_id, contact_id, decision")
    actor = f"agent:{agent}"
    with transaction(_runtime().sessions) as session:
        pop = session.get(Pop, body["pop_id"])
        if pop is None or session.get(Contact, contact_id) is None:
            return problem(404, "not_found", "no such pop or contact")
        details: dict[str, Any] = {
            "pop_id": pop.id,
            "candidate": contact_id,
            "previous_contact": pop.contact_id,
        }
        stored = (
            find_candidate(session, pop.contact_id, contact_id)
            if pop.contact_id and pop.contact_id != contact_id
            else None
        )
        if stored is not None:
            details.update(
                decide_candidate(
                    session,
                    pop.contact_id or "",
                    contact_id,
                    confirm=decision == "confirm",
                    actor=actor,
                    survivor=contact_id,
                )
            )
        elif decision == "confirm" and pop.contact_id != contact_id:
            interaction = (
                session.get(Interaction, pop.interaction_id)
                if pop.interaction_id is not None
                else None
            )
            if interaction is not None:
                details["interaction_id"] = interaction.id
            merge = move_interactions(
                session,
                [interaction.id] if interaction else [],
                [pop.id],
                from_contact=pop.contact_id or contact_id,
                to_contact=contact_id,
                rule="agent_confirmed",
                actor=actor,
                evidence=[{"kind": "pop", "value": str(pop.id)}],
            )
            details["merge_id"] = merge.id
            session.refresh(pop)
        session.add(
            AuditEntry(
                actor=actor, action=f"match.{decision}ed", subject=contact_id, details=details
            )
        )
    return Response(json.dumps({"ok": True, "decision": decision}), mimetype="application/json")
