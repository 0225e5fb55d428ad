"""Given WhatsApp Cloud API notifications signed as Meta signs them, when they are
posted through the hub, then messages land on the sender's contact once each, the
first message of a conversation pops, and anything unproven is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ch_helpers import BASE, channel_runtime, contact, drain, flask_send, interactions, pops, stored

from connectors.twilio.connector import TwilioConnector
from connectors.twilio.simulator import TwilioSimulator
from connectors.whatsapp.connector import WhatsAppConnector
from connectors.whatsapp.simulator import WhatsAppSimulator
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.store.models import Journey

SECRET = "meta-app-secret-0123456789"
VERIFY = "verify-token-for-threadline"
WA_ID, PHONE = "447700900123", "+447700900123"
TW_TOKEN = "twilio-auth-token-0123456789abcdef"

register_connector_type(WhatsAppConnector)
register_connector_type(TwilioConnector)

WHATSAPP = {
    "name": "wa",
    "type": "whatsapp",
    "settings": {"app_secret": SECRET, "verify_token": VERIFY},
}


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> Runtime:
    return channel_runtime(make_runtime, WHATSAPP)


def sim(runtime: Runtime, secret: str = SECRET) -> WhatsAppSimulator:
    return WhatsAppSimulator(secret, f"{BASE}/wa", flask_send(runtime))


def test_handshake_echoes_the_challenge_as_plain_text(hub: Runtime) -> None:
    answer = sim(hub).handshake(VERIFY, challenge="1158201444")
    assert (answer.status, answer.body, answer.content_type) == (200, b"1158201444", "text/plain")


def test_handshake_with_a_wrong_verify_token_is_refused(hub: Runtime) -> None:
    assert sim(hub).handshake("not-our-token").status == 401


def test_message_lands_on_the_wa_id_contact_with_the_profile_name_and_pops(hub: Runtime) -> None:
    wamid, answer = sim(hub).send_text(
        WA_ID, "Sheena Nelson", "Does it come in another colour? äöå"
    )
    assert answer.status == 200
    drain(hub)
    [message] = interactions(hub)
    assert (message.channel, message.direction, message.data["wamid"]) == (
        "whatsapp",
        "inbound",
        wamid,
    )
    assert message.summary == "Does it come in another colour? äöå"
    assert contact(hub, message.contact_id).display_name == "Sheena Nelson"
    [pop] = pops(hub)
    assert (pop.trigger, pop.channel, pop.interaction_id) == (
        "conversation.started",
        "whatsapp",
        message.id,
    )


def test_a_redelivered_message_is_stored_once(hub: Runtime) -> None:
    s = sim(hub)
    message = s.text_message(WA_ID, "hello")
    first = s.post(s.messages(WA_ID, "Sheena", message))
    again = s.post(s.messages(WA_ID, "Sheena", message))
    assert (first.status, again.status) == (200, 200)
    assert b'"duplicates": 1' in again.body
    drain(hub)
    assert len(interactions(hub)) == 1
    assert len(pops(hub)) == 1


def test_one_notification_with_several_messages_becomes_several_events_and_one_pop(
    hub: Runtime,
) -> None:
    s = sim(hub)
    now = datetime.now(UTC)
    batch = [s.text_message(WA_ID, f"part {i}", at=now + timedelta(seconds=i)) for i in range(3)]
    assert s.post(s.messages(WA_ID, "Sheena", *batch)).status == 200
    later = now + timedelta(hours=25)
    s.send_text(WA_ID, "Sheena", "back again", at=later)  # after the 24 h gap: a new conversation
    drain(hub)
    assert len(interactions(hub)) == 4
    assert [p.triggered_at for p in pops(hub)] == [
        now.replace(microsecond=0),
        later.replace(microsecond=0),
    ]


def test_delivery_statuses_update_the_outbound_message_in_order(hub: Runtime) -> None:
    s = sim(hub)
    at = datetime.now(UTC)
    s.status("wamid.OUT1", "read", WA_ID, at=at)
    s.status("wamid.OUT1", "delivered", WA_ID, at=at)  # late, same second: must not win
    drain(hub)
    [message] = interactions(hub)
    assert (message.direction, message.status) == ("outbound", "read")


@pytest.mark.parametrize(
    ("label", "body", "signature_secret"),
    [
        ("wrong secret", None, "another-app-secret"),
        ("tampered body", b'{"object":"whatsapp_business_account","entry":[]} ', SECRET),
    ],
)
def test_unproven_notifications_are_refused_with_401(
    hub: Runtime, label: str, body: bytes | None, signature_secret: str
) -> None:
    s = sim(hub, secret=signature_secret)
    document = s.messages(WA_ID, "Sheena", s.text_message(WA_ID, "hi"))
    if body is None:
        answer = s.post(document)
    else:
        send = flask_send(hub)

        def tamper(method: str, url: str, raw: bytes, headers: dict[str, str]) -> Any:
            return send(method, url, body, headers)

        answer = WhatsAppSimulator(SECRET, f"{BASE}/wa", tamper).post(document)
    assert answer.status == 401, label
    assert stored(hub) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"object":"page","entry":[]}',
        b'{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"w1"}]}}]}]}',
    ],
)
def test_signed_but_malformed_notifications_are_refused_with_400(hub: Runtime, body: bytes) -> None:
    assert sim(hub).post(None, body=body).status == 400
    assert stored(hub) == 0


def test_whatsapp_chat_then_call_from_the_same_number_is_one_journey(
    make_runtime: Callable[..., Runtime],
) -> None:
    voice = {"mode": "enqueue", "queue": "support"}
    twilio = {"name": "tw", "type": "twilio", "settings": {"auth_token": TW_TOKEN, "voice": voice}}
    hub = channel_runtime(make_runtime, WHATSAPP, twilio)
    send = flask_send(hub)
    chat_at = datetime.now(UTC) - timedelta(minutes=7)
    WhatsAppSimulator(SECRET, f"{BASE}/wa", send).send_text(
        WA_ID, "Sheena", "my order is late", at=chat_at
    )
    TwilioSimulator(TW_TOKEN, f"{BASE}/tw", send).incoming_call(from_=PHONE, to="+18005551212")
    drain(hub)
    chat, call = interactions(hub)
    assert (chat.channel, call.channel) == ("whatsapp", "voice")
    assert chat.contact_id == call.contact_id
    assert chat.journey_id == call.journey_id is not None
    assert (chat.channel_switch, call.channel_switch) == (False, True)
    with hub.read_sessions() as session:
        journey = session.get(Journey, call.journey_id)
        assert journey is not None
        assert (journey.channels, journey.channel_switches) == (["whatsapp", "voice"], 1)
