"""Given a pop trigger, then the context is built once and pushed to every routed target:
a signed webhook (verified with the standardwebhooks package), never to private
addresses unless allowed, never following redirects."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask, request
from helpers.flow import drain, post
from helpers.signing import interaction_event
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from hub.app import create_app
from hub.delivery import DeliveryWorker
from hub.errors import ConfigError
from hub.sandbox_server import run_in_thread
from hub.store.models import Delivery, Pop

SINK_SECRET = "whsec_c2luay1zZWNyZXQtMDEyMzQ1Njc4OWFi"


class Sink:
    """A local webhook receiver that verifies what it gets, like a customer's would."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        app = Flask("sink")

        @app.post("/pops")
        def receive() -> Any:
            payload = Webhook(SINK_SECRET).verify(request.get_data(), dict(request.headers))
            with self.lock:
                self.received.append(payload)
            return "", status, headers or {}

        self.server = run_in_thread(app)
        self.url = f"{self.server.url}/pops"


@pytest.fixture
def sink() -> Any:
    running = Sink()
    yield running
    running.server.stop()


def pop_runtime(make_runtime: Any, url: str, **hook: Any) -> Any:
    return make_runtime(
        pops={
            "routes": [{"match": {"desk": "support"}, "targets": ["webhook:sink"]}],
            "default_targets": ["panel"],
            "webhooks": [{"name": "sink", "url": url, "secret": SINK_SECRET, **hook}],
        }
    )


def deliveries(runtime: Any) -> list[Delivery]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_pop_reaches_a_signed_webhook_with_the_chat_in_the_call_context(
    make_runtime: Any, sink: Sink
) -> None:
    runtime = pop_runtime(make_runtime, sink.url, allow_cidrs=["127.0.0.0/8"])
    client = create_app(runtime=runtime).test_client()
    phone = {"phone": "+1 415 555 0142"}
    post(
        client,
        {
            **interaction_event(
                "wa-1",
                channel="whatsapp",
                contact=phone,
                occurred_at="2026-11-22T10:02:00Z",
                summary="Where is my order?",
            ),
            "type": "interaction.created",
        },
    )
    post(
        client,
        {
            **interaction_event(
                "call-1", contact=phone, agent="agent-7", occurred_at="2026-11-22T10:09:00Z"
            ),
            "data": {
                **interaction_event(
                    "call-1", contact=phone, agent="agent-7", occurred_at="2026-11-22T10:09:00Z"
                )["data"],
                "desk": "support",
            },
        },
    )
    drain(runtime)
    assert DeliveryWorker(runtime, "w").run_once() == 1
    [payload] = sink.received
    assert payload["type"] == "pop.created"
    pop = payload["data"]
    assert pop["trigger"]["agent"] == "agent-7"
    assert [i["channel"] for i in pop["interactions"]] == ["voice", "whatsapp"]
    assert pop["interactions"][1]["summary"] == "Where is my order?"
    assert pop["journey"]["channels"] == ["whatsapp", "voice"]
    [row] = deliveries(runtime)
    assert (row.target, row.status) == ("webhook:sink", "delivered")
    assert row.received_at is not None
    assert row.delivered_at is not None
    assert row.delivered_at >= row.received_at


def test_pop_without_a_matching_route_goes_to_the_default_targets(
    client: Any, runtime: Any
) -> None:
    post(client, interaction_event("call-2", agent="agent-1"))
    drain(runtime)
    [row] = deliveries(runtime)
    assert row.target == "panel"
    with runtime.read_sessions() as session:
        assert session.scalars(select(Pop)).one().status == "queued"


def test_webhook_to_a_loopback_address_is_refused_unless_allowed(
    make_runtime: Any, sink: Sink
) -> None:
    runtime = pop_runtime(make_runtime, sink.url)  # no allow-list
    client = create_app(runtime=runtime).test_client()
    event = interaction_event("call-3")
    event["data"]["desk"] = "support"
    post(client, event)
    drain(runtime)
    DeliveryWorker(runtime, "w").run_once()
    [row] = deliveries(runtime)
    assert row.status == "dead"
    assert "refusing non-public address 127.0.0.1" in (row.last_error or "")
    assert sink.received == []


def test_redirects_are_never_followed(make_runtime: Any) -> None:
    redirecting = Sink(status=302, headers={"Location": "http://169.254.169.254/latest"})
    try:
        runtime = pop_runtime(make_runtime, redirecting.url, allow_cidrs=["127.0.0.0/8"])
        client = create_app(runtime=runtime).test_client()
        event = interaction_event("call-4")
        event["data"]["desk"] = "support"
        post(client, event)
        drain(runtime)
        DeliveryWorker(runtime, "w").run_once()
        [row] = deliveries(runtime)
        assert row.status == "pending"  # fatal errors wait the longest backoff
        assert "redirects are never followed" in (row.last_error or "")
        assert len(redirecting.received) == 1
    finally:
        redirecting.server.stop()


def test_unknown_pop_target_is_a_config_error(make_runtime: Any) -> None:
    with pytest.raises(ConfigError, match=r"pops.routes\[0\].targets: no pop target 'nowhere'"):
        make_runtime(pops={"routes": [{"match": {}, "targets": ["nowhere"]}]})


def test_guard_refuses_private_link_local_and_metadata_addresses() -> None:
    from hub.http_guard import Guard, UnsafeTargetError

    guard = Guard.build()
    for url in [
        "http://127.0.0.1/x",
        "http://10.0.0.8/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://192.168.1.1/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
    ]:
        with pytest.raises(UnsafeTargetError):
            guard.resolve(url)
    assert Guard.build(allow_cidrs=["10.0.0.0/8"]).resolve("http://10.1.2.3/x")[0] == "10.1.2.3"
