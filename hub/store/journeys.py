"""Link a customer's interactions that are close in time into journeys.

An interaction joins the contact's journey whose span, widened by the window, covers
its time; otherwise it starts a new one. Channel switches (the previous interaction
of the journey was on another channel) are counted for the journey KPIs: channel
switch rate, repeat contact within 24 h, contacts per journey.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.models import Interaction, Journey


def assign_journey(session: Session, interaction: Interaction, window: timedelta) -> Journey:
    """Attach ``interaction`` (already flushed) to a journey and update its counters."""
    at = interaction.occurred_at
    journey = session.scalar(
        select(Journey)
        .where(
            Journey.contact_id == interaction.contact_id,
            Journey.last_at >= at - window,
            Journey.started_at <= at + window,
        )
        .order_by(Journey.last_at.desc())
        .limit(1)
    )
    if journey is None:
        journey = Journey(
            contact_id=interaction.contact_id,
            started_at=at,
            last_at=at,
            channels=[],
            interactions=0,
            channel_switches=0,
        )
        session.add(journey)
        session.flush()
    previous = session.scalar(
        select(Interaction.channel)
        .where(
            Interaction.journey_id == journey.id,
            Interaction.occurred_at <= at,
            Interaction.id != interaction.id,
        )
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(1)
    )
    interaction.journey_id = journey.id
    interaction.channel_switch = previous is not None and previous != interaction.channel
    journey.started_at = min(journey.started_at, at)
    journey.last_at = max(journey.last_at, at)
    journey.interactions += 1
    journey.channel_switches += int(interaction.channel_switch)
    if interaction.channel not in journey.channels:
        journey.channels = [*journey.channels, interaction.channel]
    session.flush()
    return journey
