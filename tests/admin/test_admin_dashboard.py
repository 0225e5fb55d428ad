"""Given the dashboard, then it needs a session secret and a token sign-in, keeps the
session in a strict HttpOnly cookie, checks CSRF on every form, lets viewers look
and operators act, and shows a customer's timeline, merges and journey measures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from ops_helpers import SESSION_SECRET, bury_all
from sqlalchemy import select

from hub.admin.health import journey_kpis
from hub.app import create_app
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import AuditEntry, Contact, InboxEvent, Journey
from hub.tokens import create_token, revoke_token


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: Any, token: str) -> Any:
    form = client.get("/admin/login")
    return client.post("/admin/login", data={"token": token, "csrf": csrf_of(form)})


def stored_token(runtime: Runtime, role: str) -> tuple[int, str]:
    with transaction(runtime.sessions) as session:
        row, token = create_token(session, role=role, name=f"{role}-person", actor="test")
        return row.id, token


def test_dashboard_is_off_without_a_session_secret(client: Any) -> None:
    answer = client.get("/admin/")
    assert answer.status_code == 503
    assert "admin.session_secret" in answer.get_data(as_text=True)


def test_sign_in_sets_a_strict_httponly_cookie_scoped_to_admin(
    ops_client: Any, ops_runtime: Runtime
) -> None:
    assert ops_client.get("/admin/").headers["Location"].endswith("/admin/login")
    _, token = stored_token(ops_runtime, "viewer")
    answer = sign_in(ops_client, token)
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/admin" in cookie
    assert token not in cookie
    page = ops_client.get("/admin/")
    assert page.status_code == 200
    assert "viewer-person (viewer)" in page.get_data(as_text=True)
    with ops_runtime.read_sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["token.create", "dashboard.sign_in"]


def test_bad_token_and_missing_csrf_are_refused(ops_client: Any, ops_runtime: Runtime) -> None:
    form = ops_client.get("/admin/login")
    refused = ops_client.post("/admin/login", data={"token": "tl_nope", "csrf": csrf_of(form)})
    assert refused.status_code == 401
    assert "Unknown or revoked token" in refused.get_data(as_text=True)
    _, token = stored_token(ops_runtime, "admin")
    assert ops_client.post("/admin/login", data={"token": token}).status_code == 400
    assert (
        ops_client.post("/admin/login", data={"token": token, "csrf": "forged"}).status_code == 400
    )


def test_every_page_renders_for_a_viewer(ops_client: Any, ops_runtime: Runtime) -> None:
    _, token = stored_token(ops_runtime, "viewer")
    sign_in(ops_client, token)
    for path in (
        "/admin/",
        "/admin/connectors",
        "/admin/runs",
        "/admin/inbox",
        "/admin/inbox?status=dead",
        "/admin/deliveries",
        "/admin/contacts",
    ):
        answer = ops_client.get(path)
        assert answer.status_code == 200, path
        assert 'class="replay"' not in answer.get_data(as_text=True)


def test_only_operators_replay_and_only_with_the_form_token(
    ops_client: Any, ops_runtime: Runtime
) -> None:
    post(ops_client, contact_event("c-1"))
    drain(ops_runtime)
    bury_all(ops_runtime)
    _, viewer = stored_token(ops_runtime, "viewer")
    sign_in(ops_client, viewer)
    page = ops_client.get("/admin/inbox?status=dead")
    refused = ops_client.post("/admin/inbox/replay", data={"ids": "1", "csrf": csrf_of(page)})
    assert refused.status_code == 403
    ops_client.post("/admin/logout", data={"csrf": csrf_of(page)})
    _, operator = stored_token(ops_runtime, "operator")
    sign_in(ops_client, operator)
    page = ops_client.get("/admin/inbox?status=dead")
    assert 'class="replay"' in page.get_data(as_text=True)
    assert ops_client.post("/admin/inbox/replay", data={"ids": "1"}).status_code == 400
    done = ops_client.post(
        "/admin/inbox/replay", data={"ids": "1", "csrf": csrf_of(page)}, follow_redirects=True
    )
    assert "Replayed 1 event(s)." in done.get_data(as_text=True)
    with ops_runtime.read_sessions() as session:
        assert session.scalar(select(InboxEvent.status)) == "pending"
        actors = set(
            session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "inbox.replay"))
        )
    assert actors == {"token:2:operator-person"}


def test_revoking_a_token_ends_its_dashboard_session(ops_client: Any, ops_runtime: Runtime) -> None:
    token_id, token = stored_token(ops_runtime, "operator")
    sign_in(ops_client, token)
    assert ops_client.get("/admin/").status_code == 200
    with transaction(ops_runtime.sessions) as session:
        revoke_token(session, token_id, actor="test")
    assert ops_client.get("/admin/").headers["Location"].endswith("/admin/login")


def test_configured_token_signs_in_as_admin(ops_client: Any) -> None:
    from helpers.config import TEST_TOKEN

    sign_in(ops_client, TEST_TOKEN)
    assert "api.tokens[0] (admin)" in ops_client.get("/admin/").get_data(as_text=True)


def test_contact_lookup_shows_timeline_merges_and_journeys(
    ops_client: Any, ops_runtime: Runtime
) -> None:
    post(ops_client, contact_event("c-1"))
    post(
        ops_client,
        {
            **interaction_event(
                "wa-1",
                channel="whatsapp",
                occurred_at="2026-11-01T10:02:00Z",
                summary="Where is my order?",
            ),
            "type": "interaction.created",
        },
    )
    post(
        ops_client,
        interaction_event(
            "call-1", occurred_at="2026-11-01T10:09:00Z", summary="Calling about the order"
        ),
    )
    drain(ops_runtime)
    with transaction(ops_runtime.sessions) as session:
        contact = session.scalars(select(Contact)).one()
        session.add(
            AuditEntry(
                actor="connector:events",
                action="contact.merge",
                subject=contact.id,
                details={"rule": "email"},
            )
        )
    _, token = stored_token(ops_runtime, "viewer")
    sign_in(ops_client, token)
    found = ops_client.get("/admin/contacts?q=(415) 555-0142")
    assert found.status_code == 302
    page = ops_client.get(found.headers["Location"]).get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "Where is my order?" in page
    assert "Calling about the order" in page
    assert "contact.merge" in page
    assert '{"rule": "email"}' in page
    assert "channel-switch rate 100 %" in page
    missing = ops_client.get("/admin/contacts?q=nobody@example.com").get_data(as_text=True)
    assert "No customer has that address" in missing


def _journey(session: Any, contact: str, start: datetime, interactions: int, switches: int) -> None:
    session.add(
        Journey(
            contact_id=contact,
            started_at=start,
            last_at=start,
            channels=["voice"],
            interactions=interactions,
            channel_switches=switches,
        )
    )


def test_journey_measures(runtime: Runtime) -> None:
    t0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with transaction(runtime.sessions) as session:
        for cid in ("ct_a", "ct_b", "ct_c"):
            session.add(Contact(id=cid, display_name=cid))
        session.flush()
        _journey(session, "ct_a", t0, 2, 1)
        _journey(session, "ct_a", t0 + timedelta(hours=5), 1, 0)  # back within 24 h
        _journey(session, "ct_b", t0, 3, 2)
        _journey(session, "ct_b", t0 + timedelta(hours=30), 2, 0)  # not within 24 h
        _journey(session, "ct_c", t0, 1, 0)
    with runtime.read_sessions() as session:
        kpis = journey_kpis(session)
        only_a = journey_kpis(session, "ct_a")
    assert kpis == {
        "journeys": 5,
        "contacts": 3,
        "channel_switch_rate": 0.4,
        "repeat_contact_24h_rate": pytest.approx(0.333, abs=0.001),
        "contacts_per_journey": 1.8,
    }
    assert (only_a["repeat_contact_24h_rate"], only_a["contacts_per_journey"]) == (1.0, 1.5)


def test_session_secret_is_the_configured_one(ops_app: Any) -> None:
    assert ops_app.secret_key == SESSION_SECRET
    assert create_app  # the factory builds the dashboard from settings only
