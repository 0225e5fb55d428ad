"""The admin dashboard, ``/admin``: server-rendered pages, no front-end build step.

Sign-in takes an API token (``threadline tokens create``) and keeps the caller in a
signed, HttpOnly, SameSite=Strict session cookie scoped to ``/admin`` (Flask's
session, signed with ``admin.session_secret``). The token's role decides what the
page offers: viewer reads, operator also replays, runs and pauses. Every form
carries a CSRF token tied to the session; every action is audited. A revoked token
ends its dashboard sessions at their next request.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from hub import scheduler, tokens
from hub.admin import health, ops
from hub.api.auth import principal_from_bearer
from hub.api.read import LookupError_, parse_lookup
from hub.identity import find_contacts
from hub.runtime import Runtime
from hub.settings import AdminSettings
from hub.store.db import transaction
from hub.store.models import AuditEntry, Contact, Identifier, SourceRecord
from hub.tokens import Principal

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
OPEN_ENDPOINTS = {"admin.login"}
Page = str | Response | BaseResponse | tuple[str, int]


def configure_sessions(app: Flask, settings: AdminSettings) -> None:
    """Session cookie settings; without ``admin.session_secret`` the dashboard is off."""
    if settings.session_secret:
        app.secret_key = settings.session_secret
    app.config.update(
        SESSION_COOKIE_NAME="threadline_admin",
        SESSION_COOKIE_PATH="/admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.secure_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_minutes),
    )


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def _session_principal(runtime: Runtime) -> Principal | None:
    """The signed-in token, re-checked on every request (revocation ends sessions)."""
    if "tid" in session:
        with runtime.read_sessions() as db:
            return tokens.principal_by_id(db, int(session["tid"]))
    if "cfg" in session:
        for index, token in enumerate(runtime.settings.api.tokens):
            if hmac.compare_digest(tokens.hash_token(token), str(session["cfg"])):
                return Principal(name=f"api.tokens[{index}]", role="admin")
    return None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


@bp.before_request
def guard() -> Page | None:
    runtime = _runtime()
    if not current_app.secret_key:
        return render_template("admin_off.html"), 503
    g.refresh = runtime.settings.admin.refresh_seconds
    if request.method == "POST":
        given = request.form.get("csrf", "")
        if not given or not hmac.compare_digest(given, session.get("csrf", "")):
            return render_template(
                "admin_error.html", message="This form has expired: reload the page and try again."
            ), 400
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    principal = _session_principal(runtime)
    if principal is None:
        session.clear()
        return redirect(url_for("admin.login"))
    g.principal = principal
    return None


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "principal": g.get("principal"), "refresh": g.get("refresh")}


@bp.app_template_filter("when")
def when(value: Any) -> str:
    """An ISO time as ``2026-11-22 10:02:07`` (UTC), or a dash."""
    if not value:
        return "-"
    return str(value.isoformat() if hasattr(value, "isoformat") else value)[:19].replace("T", " ")


def _operator() -> Principal:
    principal: Principal = g.principal
    if not principal.can("operator"):
        abort(403, "this needs the operator role")
    return principal


# ----- sign-in ------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    if request.method == "GET":
        return render_template("admin_login.html", error=None)
    runtime = _runtime()
    principal = principal_from_bearer(runtime, "Bearer " + request.form.get("token", "").strip())
    if principal is None:
        log.warning("admin.sign_in_refused", extra={"remote": request.remote_addr})
        return render_template("admin_login.html", error="Unknown or revoked token."), 401
    session.clear()
    session.permanent = True
    if principal.token_id is not None:
        session["tid"] = principal.token_id
    else:
        session["cfg"] = tokens.hash_token(request.form.get("token", "").strip())
    session["csrf"] = secrets.token_urlsafe(32)  # a new one at sign-in
    with transaction(runtime.sessions) as db:
        db.add(
            AuditEntry(
                actor=principal.actor,
                action="dashboard.sign_in",
                subject=None,
                details={"role": principal.role},
            )
        )
    return redirect(url_for("admin.overview"))


@bp.post("/logout")
def logout() -> Page:
    session.clear()
    return redirect(url_for("admin.login"))


# ----- pages -------------------------------------------------------------------------------


@bp.get("/")
def overview() -> Page:
    runtime = _runtime()
    with runtime.read_sessions() as db:
        data = health.overview(db, runtime.connectors)
    return render_template("admin_overview.html", data=data)


@bp.get("/connectors")
def connectors() -> Page:
    runtime = _runtime()
    with runtime.read_sessions() as db:
        rows = [health.connector_health(db, c) for c in runtime.connectors.values()]
    return render_template("admin_connectors.html", rows=rows)


@bp.post("/connectors/<name>/<action>")
def connector_action(name: str, action: str) -> Page:
    actor = _operator().actor
    runtime = _runtime()
    try:
        if action == "run":
            scheduler.request_run(runtime, name, actor=actor)
            flash(f"Run of {name} requested; a scheduler starts it shortly.")
        elif action in ("pause", "resume"):
            scheduler.set_paused(runtime, name, action == "pause", actor=actor)
            flash(f"{name} {'paused' if action == 'pause' else 'resumed'}.")
        else:
            abort(404)
    except scheduler.NoSuchJob as exc:
        flash(str(exc))
    return redirect(url_for("admin.connectors"))


@bp.get("/runs")
def runs() -> Page:
    with _runtime().read_sessions() as db:
        try:
            data = ops.list_sync_runs(db, request.args)
        except ops.BadQuery as exc:
            return render_template("admin_error.html", message=str(exc)), 400
    return render_template("admin_runs.html", data=data, args=request.args)


@bp.get("/inbox")
def inbox() -> Page:
    with _runtime().read_sessions() as db:
        try:
            data = ops.list_inbox(db, request.args)
        except ops.BadQuery as exc:
            return render_template("admin_error.html", message=str(exc)), 400
    return render_template("admin_inbox.html", data=data, status=request.args.get("status", ""))


def _form_ids() -> list[int]:
    try:
        return [int(i) for i in request.form.getlist("ids")]
    except ValueError:
        abort(400, "ids must be whole numbers")


@bp.post("/inbox/replay")
def inbox_replay() -> Page:
    actor = _operator().actor
    ids = _form_ids()
    if not ids and request.form.get("status") != "dead":
        abort(400, "choose events to replay")
    runtime = _runtime()
    with transaction(runtime.sessions) as db:
        count = ops.replay_inbox(db, actor=actor, ids=ids or None, status="dead")
    runtime.wakeup.set()
    flash(f"Replayed {count} event(s).")
    return redirect(url_for("admin.inbox", status=request.form.get("back", "")))


@bp.get("/deliveries")
def deliveries() -> Page:
    with _runtime().read_sessions() as db:
        try:
            data = ops.list_deliveries(db, request.args)
        except ops.BadQuery as exc:
            return render_template("admin_error.html", message=str(exc)), 400
    return render_template(
        "admin_deliveries.html", data=data, status=request.args.get("status", "")
    )


@bp.post("/deliveries/replay")
def deliveries_replay() -> Page:
    actor = _operator().actor
    ids = _form_ids()
    if not ids and request.form.get("status") != "dead":
        abort(400, "choose deliveries to replay")
    with transaction(_runtime().sessions) as db:
        count = ops.replay_deliveries(db, actor=actor, ids=ids or None)
    flash(f"Replayed {count} deliver{'y' if count == 1 else 'ies'}.")
    return redirect(url_for("admin.deliveries", status=request.form.get("back", "")))


@bp.get("/contacts")
def contacts() -> Page:
    """Look a customer up by phone or e-mail; one match opens their page."""
    query = request.args.get("q", "").strip()
    if not query:
        return render_template("admin_lookup.html", query="", results=None, error=None)
    runtime = _runtime()
    kind = "email" if "@" in query else "phone"
    try:
        lookup_kind, value = parse_lookup({kind: query}, runtime.settings.hub.default_region)
    except LookupError_ as exc:
        return render_template("admin_lookup.html", query=query, results=None, error=str(exc))
    with runtime.read_sessions() as db:
        ids = find_contacts(db, lookup_kind, value)
        found = [c for c in (db.get(Contact, i) for i in ids) if c is not None]
    if len(found) == 1:
        return redirect(url_for("admin.contact", contact_id=found[0].id))
    return render_template("admin_lookup.html", query=query, results=found, error=None)


@bp.get("/contacts/<contact_id>")
def contact(contact_id: str) -> Page:
    with _runtime().read_sessions() as db:
        found = db.get(Contact, contact_id)
        if found is None:
            abort(404, "no such contact")
        story = ops.contact_story(db, found)
        identifiers = list(
            db.scalars(
                select(Identifier).where(Identifier.contact_id == found.id).order_by(Identifier.id)
            )
        )
        records = list(
            db.scalars(
                select(SourceRecord)
                .where(SourceRecord.contact_id == found.id)
                .order_by(SourceRecord.id)
            )
        )
        kpis = health.journey_kpis(db, found.id)
    return render_template(
        "admin_contact.html",
        contact=found,
        story=story,
        identifiers=[i for i in identifiers if not i.kind.startswith(("record:", "unresolved:"))],
        records=records,
        kpis=kpis,
    )


@bp.errorhandler(403)
@bp.errorhandler(400)
@bp.errorhandler(404)
def page_error(exc: Any) -> Page:
    return render_template("admin_error.html", message=exc.description), exc.code
