"""Given interactions on several channels, then they form journeys on one timeline; and
an interaction start records one pop trigger for the agent."""

from __future__ import annotations

from typing import Any

from helpers.flow import drain, post
from helpers.signing import interaction_event
from sqlalchemy import select

from hub.runtime import Runtime
from hub.store.models import Interaction, Journey, Pop


def interactions(runtime: Runtime) -> list[Interaction]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(Interaction).order_by(Interaction.occurred_at)))


def test_chat_then_call_from_the_same_number_is_one_journey(client: Any, runtime: Runtime) -> None:
    phone = {"phone": "+44 7700 900123"}
    post(
        client,
        {
            **interaction_event(
                "wa-1", channel="whatsapp", contact=phone, occurred_at="2026-11-22T10:02:00Z"
            ),
            "type": "interaction.created",
        },
    )
    post(
        client,
        interaction_event(
            "call-1",
            channel="voice",
            contact={"phone": "+44 7700 900 123"},
            occurred_at="2026-11-22T10:09:00Z",
        ),
    )
    post(
        client,
        interaction_event(
            "call-2", channel="voice", contact=phone, occurred_at="2026-11-22T14:00:00Z"
        ),
    )
    drain(runtime)
    chat, call, later = interactions(runtime)
    assert chat.contact_id == call.contact_id == later.contact_id
    assert chat.journey_id == call.journey_id != later.journey_id
    assert (chat.channel_switch, call.channel_switch, later.channel_switch) == (False, True, False)
    with runtime.read_sessions() as session:
        journey = session.get(Journey, call.journey_id)
    assert (journey.channels, journey.interactions, journey.channel_switches) == (
        ["whatsapp", "voice"],
        2,
        1,
    )


def test_out_of_order_interaction_joins_the_journey_it_falls_in(
    client: Any, runtime: Runtime
) -> None:
    phone = {"phone": "+14155550199"}
    post(
        client,
        interaction_event("late", channel="sms", contact=phone, occurred_at="2026-11-22T10:30:00Z"),
    )
    post(
        client,
        interaction_event(
            "early", channel="voice", contact=phone, occurred_at="2026-11-22T10:00:00Z"
        ),
    )
    drain(runtime)
    early, late = interactions(runtime)
    assert early.journey_id == late.journey_id
    with runtime.read_sessions() as session:
        journey = session.get(Journey, early.journey_id)
    assert journey.started_at.isoformat() == "2026-11-22T10:00:00+00:00"


def test_interaction_start_records_one_pop_for_its_agent(client: Any, runtime: Runtime) -> None:
    event = interaction_event("call-9", agent="agent-7")
    post(client, event)
    post(client, event)  # the sender retried with a new webhook-id
    drain(runtime)
    with runtime.read_sessions() as session:
        [pop] = session.scalars(select(Pop)).all()
        [call] = session.scalars(select(Interaction)).all()
    assert (pop.trigger, pop.agent, pop.channel) == ("interaction.started", "agent-7", "voice")
    assert (pop.contact_id, pop.interaction_id) == (call.contact_id, call.id)
    assert pop.triggered_at.isoformat() == "2026-11-01T10:05:00+00:00"
