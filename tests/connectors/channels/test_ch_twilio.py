"""Given Twilio-signed callbacks (signed by twilio's own RequestValidator), when they are
posted through the hub, then calls, messages and TaskRouter pops land on the caller."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ch_helpers import (
    BASE,
    broken_copy,
    channel_runtime,
    contact,
    drain,
    flask_send,
    interactions,
    pops,
    stored,
)

from connectors.twilio.connector import TwilioConnector
from connectors.twilio.simulator import TwilioSimulator
from hub.registry import register_connector_type
from hub.runtime import Runtime

TOKEN = "twilio-auth-token-0123456789abcdef"
FLOW = "https://flows.example.com/studio/inbound?lang=en"
CALLER, NUMBER = "+14155550142", "+18005551212"

register_connector_type(TwilioConnector)


def twilio(voice: dict[str, Any] | None = None, **settings: Any) -> dict[str, Any]:
    voice = voice or {"mode": "redirect", "redirect_url": FLOW}
    return {
        "name": "tw",
        "type": "twilio",
        "settings": {"auth_token": TOKEN, "voice": voice, **settings},
    }


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> Runtime:
    return channel_runtime(make_runtime, twilio())


def sim(runtime: Runtime, token: str = TOKEN) -> TwilioSimulator:
    return TwilioSimulator(token, f"{BASE}/tw", flask_send(runtime))


def twiml(body: bytes) -> ET.Element:
    root = ET.fromstring(body)  # noqa: S314 - our own answer, parsed to prove it is XML
    assert root.tag == "Response"
    return root


def test_incoming_call_answers_twiml_and_records_the_call_and_its_ringing_pop(hub: Runtime) -> None:
    sid, answer = sim(hub).incoming_call(from_=CALLER, to=NUMBER)
    assert (answer.status, answer.content_type) == (200, "text/xml")
    redirect = twiml(answer.body).find("Redirect")
    assert redirect is not None
    assert (redirect.text, redirect.get("method")) == (FLOW, "POST")
    drain(hub)
    [call] = interactions(hub)
    assert (call.channel, call.direction, call.status, call.data["call_sid"]) == (
        "voice",
        "inbound",
        "ringing",
        sid,
    )
    [pop] = pops(hub)
    assert (pop.trigger, pop.channel, pop.interaction_id, pop.contact_id) == (
        "call.ringing",
        "voice",
        call.id,
        call.contact_id,
    )
    assert "+14155550142" in [i for i in _phones(hub, call.contact_id)]


def _phones(runtime: Runtime, contact_id: str) -> list[str]:
    from sqlalchemy import select

    from hub.store.models import Identifier

    with runtime.read_sessions() as session:
        query = select(Identifier.value).where(
            Identifier.contact_id == contact_id, Identifier.kind == "phone"
        )
        return list(session.scalars(query))


def test_status_callbacks_update_one_call_in_sequence_order_and_duplicates_count_once(
    hub: Runtime,
) -> None:
    s = sim(hub)
    sid, _ = s.incoming_call(from_=CALLER, to=NUMBER)
    start = datetime.now(UTC).replace(microsecond=0)
    same_second = {"from_": CALLER, "to": NUMBER, "at": start}
    s.call_status(sid, "in-progress", 1, **same_second)
    done = s.call_status(sid, "completed", 2, duration=75, **same_second)
    again = s.call_status(sid, "completed", 2, duration=75, **same_second)
    assert (done.status, again.status) == (200, 200)
    assert b'"duplicates": 1' in again.body
    s.call_status(sid, "ringing", 0, from_=CALLER, to=NUMBER, at=start - timedelta(seconds=3))
    drain(hub)
    [call] = interactions(hub)
    assert (call.status, call.data["duration_seconds"]) == ("completed", 75)


def test_voice_answers_its_twiml_even_when_the_store_is_down(
    make_runtime: Callable[..., Runtime],
) -> None:
    hub = channel_runtime(make_runtime, twilio({"mode": "enqueue", "queue": "support"}))
    broken = broken_copy(hub)
    try:
        down = sim(broken)  # one app: each app on a dead store takes seconds to wind down
        _, answer = down.incoming_call(from_=CALLER, to=NUMBER)
        assert (answer.status, answer.content_type) == (200, "text/xml")
        enqueue = twiml(answer.body).find("Enqueue")
        assert enqueue is not None
        assert enqueue.text == "support"
        status = down.call_status("CA" + "0" * 32, "completed", 2, from_=CALLER, to=NUMBER)
        assert status.status == 503  # status callbacks may fail: Twilio drops them, no caller
    finally:
        broken.close()


def test_voice_routes_a_verified_call_it_cannot_parse_rather_than_failing_the_caller(
    hub: Runtime,
) -> None:
    answer = sim(hub).post_form("voice", {"From": CALLER, "To": NUMBER})
    assert answer.status == 200
    assert twiml(answer.body).find("Redirect") is not None
    assert stored(hub) == 0


@pytest.mark.parametrize("endpoint", ["voice", "voice-status", "sms", "taskrouter"])
def test_a_wrong_token_signature_is_refused_with_401_and_nothing_stored(
    hub: Runtime, endpoint: str
) -> None:
    answer = sim(hub, token="not-the-auth-token").post_form(
        endpoint, {"CallSid": "CA" + "1" * 32, "CallStatus": "ringing", "From": CALLER}
    )
    assert answer.status == 401
    assert stored(hub) == 0


def test_a_body_changed_after_signing_is_refused(hub: Runtime) -> None:
    send = flask_send(hub)

    def tamper(method: str, url: str, body: bytes, headers: dict[str, str]) -> Any:
        return send(method, url, body.replace(b"Body=hello", b"Body=HELLO"), headers)

    answer = TwilioSimulator(TOKEN, f"{BASE}/tw", tamper).incoming_message(
        from_=CALLER, to=NUMBER, body="hello"
    )[1]
    assert answer.status == 401
    assert stored(hub) == 0


def test_a_signed_message_without_a_sid_is_refused_with_400(hub: Runtime) -> None:
    answer = sim(hub).post_form("sms", {"From": CALLER, "To": NUMBER, "Body": "hi"})
    assert answer.status == 400
    assert stored(hub) == 0


def test_inbound_sms_is_masked_and_lands_on_the_caller_with_an_empty_twiml_answer(
    hub: Runtime,
) -> None:
    s = sim(hub)
    _, first = s.incoming_message(
        from_=CALLER, to=NUMBER, body="Card 4111 1111 1111 1111, mail ada@example.com"
    )
    assert twiml(first.body).findall("*") == []
    s.incoming_message(
        from_="whatsapp:" + CALLER,
        to="whatsapp:" + NUMBER,
        body="photo",
        media_types=("image/jpeg",),
    )
    s.incoming_call(from_=CALLER, to=NUMBER)
    drain(hub)
    sms, whatsapp, call = interactions(hub)
    assert (sms.channel, whatsapp.channel, call.channel) == ("sms", "whatsapp", "voice")
    assert sms.summary == "Card ################, mail [email]"
    assert whatsapp.data["media_types"] == ["image/jpeg"]
    assert sms.contact_id == whatsapp.contact_id == call.contact_id
    assert contact(hub, sms.contact_id).merged_into_id is None


def test_json_bodied_status_callback_is_verified_by_its_body_hash(hub: Runtime) -> None:
    s = sim(hub)
    sid = "SM" + "a" * 32
    document = {"MessageSid": sid, "MessageStatus": "delivered", "From": NUMBER, "To": CALLER}
    assert s.post_json("sms-status", document).status == 200
    drain(hub)
    [message] = interactions(hub)
    assert (message.direction, message.status) == ("outbound", "delivered")


def test_taskrouter_reservation_created_pops_the_caller_to_the_offered_agent(hub: Runtime) -> None:
    s = sim(hub)
    sid, _ = s.incoming_call(from_=CALLER, to=NUMBER)
    attributes = {"from": CALLER, "to": NUMBER, "call_sid": sid, "direction": "inbound"}
    reservation = "WR" + "b" * 32
    for event in ("task.created", "reservation.created", "reservation.accepted"):
        answer = s.taskrouter_event(
            event,
            task_attributes=attributes,
            worker_name="alice@example.com",
            reservation_sid=reservation,
        )
        assert answer.status == 200
    drain(hub)
    [call] = interactions(hub)
    _ringing, offered = pops(hub)
    assert (offered.trigger, offered.agent, offered.desk, offered.channel) == (
        "reservation.created",
        "alice@example.com",
        "Support",
        "voice",
    )
    assert (offered.interaction_id, offered.contact_id) == (call.id, call.contact_id)
    assert call.agent == "alice@example.com"


def test_taskrouter_chat_task_pops_by_the_customer_address_without_an_interaction(
    hub: Runtime,
) -> None:
    sim(hub).taskrouter_event(
        "reservation.created",
        task_attributes={"channelType": "whatsapp", "customerAddress": "whatsapp:" + CALLER},
        worker_name="bob",
        channel="chat",
        reservation_sid="WR" + "c" * 32,
    )
    drain(hub)
    [pop] = pops(hub)
    assert (pop.agent, pop.channel, pop.interaction_id) == ("bob", "chat", None)
    assert _phones(hub, str(pop.contact_id)) == [CALLER]
