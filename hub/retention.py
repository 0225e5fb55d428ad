"""Retention: drop raw requests, processed events and delivered pushes after a while.

Raw request bodies, inbox payloads and pop payloads are personal data (names, phone
numbers, message text). They are kept while they can still be needed (an event not yet
processed, a dead letter an admin may replay, a push not yet delivered) and for a
configurable number of days after, then deleted. The scheduler runs :func:`prune`
hourly (one scheduler at a time, under the job lock); ``threadline retention prune``
runs it by hand. Deletes go in bounded chunks so a long backlog never holds one
enormous transaction.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session, sessionmaker

from hub.settings import RetentionSettings
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import Delivery, InboxEvent, RawDelivery

log = logging.getLogger(__name__)
CHUNK = 1000
#: Inbox statuses that are finished with (dead letters wait for a replay).
PROCESSED = ("done", "ignored")


@dataclass
class Pruned:
    raw_requests: int = 0
    inbox_events: int = 0
    deliveries: int = 0


def _chunked(session_factory: sessionmaker[Session], pick: Any, model: Any) -> int:
    """Delete the rows ``pick`` selects (ids), a chunk per transaction."""
    total = 0
    while True:
        with transaction(session_factory) as session:
            ids = list(session.scalars(pick.limit(CHUNK)))
            if ids:
                session.execute(delete(model).where(model.id.in_(ids)))
        total += len(ids)
        if len(ids) < CHUNK:
            return total


def prune(
    session_factory: sessionmaker[Session],
    settings: RetentionSettings,
    now: datetime | None = None,
) -> Pruned:
    """Delete what is past its retention; returns how many rows of each kind went."""
    now = now or utcnow()
    pruned = Pruned()
    events_before = now - timedelta(days=settings.processed_event_days)
    pruned.inbox_events = _chunked(
        session_factory,
        select(InboxEvent.id).where(
            InboxEvent.status.in_(PROCESSED), InboxEvent.received_at < events_before
        ),
        InboxEvent,
    )
    # A raw request goes once every event it carried is processed (or already gone).
    unfinished = exists().where(
        InboxEvent.delivery_id == RawDelivery.id, InboxEvent.status.not_in(PROCESSED)
    )
    raw_before = now - timedelta(days=settings.raw_request_days)
    pruned.raw_requests = _chunked(
        session_factory,
        select(RawDelivery.id).where(RawDelivery.received_at < raw_before, ~unfinished),
        RawDelivery,
    )
    pushes_before = now - timedelta(days=settings.delivered_push_days)
    pruned.deliveries = _chunked(
        session_factory,
        select(Delivery.id).where(
            Delivery.status == "delivered", Delivery.created_at < pushes_before
        ),
        Delivery,
    )
    log.info("retention.pruned", extra=asdict(pruned))
    return pruned
