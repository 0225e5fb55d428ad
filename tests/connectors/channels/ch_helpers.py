"""Shared plumbing for the channel connector tests: runtimes, a Flask sender, queries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from helpers.config import REPO
from sqlalchemy import func, select

from hub.app import create_app
from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.store.models import Contact, InboxEvent, Interaction, Pop, RawDelivery
from hub.worker import Worker

BASE = "http://localhost/webhooks"
DOWN_URL = "postgresql://nobody@127.0.0.1:1/none"


def channel_runtime(make_runtime: Callable[..., Runtime], *connectors: dict[str, Any]) -> Runtime:
    """A runtime on this test's store with just ``connectors`` and the repo's mappings."""
    return make_runtime(connectors=list(connectors), hub={"mappings_dir": str(REPO / "mappings")})


def broken_copy(runtime: Runtime) -> Runtime:
    """The same configuration pointed at a store that refuses connections."""
    config = json.loads(runtime.settings.model_dump_json(exclude={"source_file"}))
    config["hub"]["database_url"] = DOWN_URL
    for instance, original in zip(config["connectors"], runtime.settings.connectors, strict=True):
        instance["settings"] = original.settings  # secrets as configured, not masked
    return Runtime.build(settings_from_dict(config, env={}))


def flask_send(
    runtime: Runtime,
) -> Callable[[str, str, bytes, dict[str, str]], tuple[int, bytes, str]]:
    """A simulator ``send`` that posts through the hub's Flask test client."""
    client = create_app(runtime=runtime).test_client()

    def send(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.open(
            path,
            method=method,
            data=body,
            headers=headers,
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        return response.status_code, response.data, response.content_type or ""

    return send


def drain(runtime: Runtime) -> int:
    worker = Worker(runtime, worker_id="t")
    total = 0
    while n := worker.run_once():
        total += n
    return total


def stored(runtime: Runtime) -> int:
    """Inbox events plus raw deliveries: zero means the request left no trace."""
    with runtime.read_sessions() as session:
        events = session.scalar(select(func.count()).select_from(InboxEvent)) or 0
        raws = session.scalar(select(func.count()).select_from(RawDelivery)) or 0
    return int(events) + int(raws)


def interactions(runtime: Runtime) -> list[Interaction]:
    with runtime.read_sessions() as session:
        query = select(Interaction).order_by(Interaction.occurred_at, Interaction.id)
        return list(session.scalars(query))


def pops(runtime: Runtime) -> list[Pop]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(Pop).order_by(Pop.id)))


def contact(runtime: Runtime, contact_id: str) -> Contact:
    with runtime.read_sessions() as session:
        found = session.get(Contact, contact_id)
        assert found is not None
        return found


def inbox_statuses(runtime: Runtime) -> list[str]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(InboxEvent.status).order_by(InboxEvent.id)))
