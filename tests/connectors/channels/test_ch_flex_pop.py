"""Given a Flex task in the Twilio sandbox and a TaskRouter reservation for it, when the
pop is delivered, then the real twilio client merges the caller's cross-channel context
into the task's attributes: once, keeping other writers' changes, retrying what Twilio
asks to retry and burying what cannot succeed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ch_helpers import BASE, drain, flask_send, pops
from helpers.config import REPO
from sqlalchemy import select, update

from connectors.twilio.connector import TwilioConnector
from connectors.twilio.sandbox import TwilioSandbox
from connectors.twilio.simulator import TwilioSimulator, new_sid
from hub.delivery import DeliveryWorker
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer, run_in_thread
from hub.store.coltypes import utcnow
from hub.store.models import Delivery

TOKEN = "twilio-auth-token-0123456789abcdef"
CALLER, NUMBER, AGENT = "+14155550142", "+18005551212", "alice@example.com"
TARGET = "tw:flex_pop"

register_connector_type(TwilioConnector)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[TwilioSandbox, RunningServer]]:
    sandbox = TwilioSandbox(seed=11, auth_token=TOKEN)
    running = run_in_thread(sandbox.app)
    yield sandbox, running
    running.stop()


@dataclass
class Flex:
    hub: Runtime
    sandbox: TwilioSandbox
    sim: TwilioSimulator

    def deliver(self) -> int:
        worker, total = DeliveryWorker(self.hub, "w"), 0
        while n := worker.run_once():
            total += n
        return total

    def deliveries(self) -> list[Delivery]:
        with self.hub.read_sessions() as session:
            query = select(Delivery).where(Delivery.target == TARGET).order_by(Delivery.id)
            return list(session.scalars(query))

    def offer(self, task_sid: str, at: datetime | None = None, channel: str = "voice") -> None:
        """The caller's task is offered to Alice: TaskRouter's reservation.created."""
        answer = self.sim.taskrouter_event(
            "reservation.created",
            task_attributes=self.sandbox.attributes(task_sid),
            worker_name=AGENT,
            reservation_sid=new_sid("WR"),
            task_sid=task_sid,
            workspace_sid=self.sandbox.workspace_sid,
            channel=channel,
            at=at,
        )
        assert answer.status == 200
        drain(self.hub)


def _hub(
    make_runtime: Callable[..., Runtime], sandbox: TwilioSandbox, url: str, token: str = TOKEN
) -> Runtime:
    connector: dict[str, Any] = {
        "name": "tw",
        "type": "twilio",
        "settings": {
            "auth_token": token,
            "voice": {"mode": "enqueue", "queue": "support"},
            "flex_pop": {
                "account_sid": sandbox.account_sid,
                "workspace_sid": sandbox.workspace_sid,
                "api_base": url,
                "panel_url": "https://hub.example.com/agent?agent={agent}&pop={pop_id}",
            },
        },
    }
    return make_runtime(
        connectors=[connector],
        pops={"default_targets": [TARGET]},
        hub={"mappings_dir": str(REPO / "mappings")},
    )


@pytest.fixture
def flex(
    make_runtime: Callable[..., Runtime], server: tuple[TwilioSandbox, RunningServer]
) -> Iterator[Flex]:
    sandbox, running = server
    sandbox.faults.clear()
    hub = _hub(make_runtime, sandbox, running.url)
    yield Flex(hub, sandbox, TwilioSimulator(TOKEN, f"{BASE}/tw", flask_send(hub)))
    sandbox.faults.clear()  # an unconsumed fault must not leak into the next test


def _call_task(flex: Flex) -> str:
    """Ada wrote on WhatsApp, then calls; Studio enqueues the call as a Flex task."""
    flex.sim.incoming_message(
        from_="whatsapp:" + CALLER, to="whatsapp:" + NUMBER, body="My order has not arrived"
    )
    call_sid, _ = flex.sim.incoming_call(from_=CALLER, to=NUMBER)
    drain(flex.hub)
    return flex.sandbox.create_task(
        {"type": "inbound", "from": CALLER, "to": NUMBER, "call_sid": call_sid},
        channel="voice",
        queue="Support",
    )


def test_reservation_pops_the_callers_whatsapp_history_into_the_flex_task(flex: Flex) -> None:
    task_sid = _call_task(flex)
    flex.offer(task_sid)
    assert flex.deliver() >= 1
    offered = [p for p in pops(flex.hub) if p.trigger == "reservation.created"]
    [pop] = offered
    attributes = flex.sandbox.attributes(task_sid)
    assert (attributes["from"], attributes["type"]) == (CALLER, "inbound")  # theirs, kept
    context = attributes["threadline"]
    assert context["pop_id"] == pop.id
    assert {"kind": "phone", "value": CALLER} in context["identifiers"]
    whatsapp = context["last_by_channel"]["whatsapp"]
    assert (whatsapp["direction"], whatsapp["summary"]) == ("inbound", "My order has not arrived")
    assert [i["channel"] for i in context["recent"]] == ["voice", "whatsapp"]
    assert context["journey"]["channels"] == ["whatsapp", "voice"]
    assert context["panel_url"] == (
        f"https://hub.example.com/agent?agent=alice%40example.com&pop={pop.id}"
    )
    delivered = [d for d in flex.deliveries() if d.payload["pop_id"] == pop.id]
    assert [(d.status, d.external_ref) for d in delivered] == [("delivered", task_sid)]


def test_a_ringing_call_pop_routed_to_flex_is_delivered_without_touching_any_task(
    flex: Flex,
) -> None:
    _call_task(flex)
    before = len(flex.sandbox.requests())
    flex.deliver()
    [ringing] = flex.deliveries()
    assert (ringing.status, ringing.external_ref) == ("delivered", None)
    assert len(flex.sandbox.requests()) == before


def test_pushing_the_same_pop_twice_leaves_one_threadline_object_and_writes_once(
    flex: Flex,
) -> None:
    task_sid = _call_task(flex)
    flex.offer(task_sid)
    flex.deliver()
    [delivery] = [d for d in flex.deliveries() if d.external_ref]
    posts = len(flex.sandbox.requests("POST"))
    target = flex.hub.targets[TARGET]
    assert target.push(delivery.payload, delivery.idempotency_key) == task_sid
    assert len(flex.sandbox.requests("POST")) == posts  # already there: no second write
    assert flex.sandbox.attributes(task_sid)["threadline"]["pop_id"] == delivery.payload["pop_id"]


def test_a_concurrent_attribute_change_is_kept_by_refetching_after_412(flex: Flex) -> None:
    task_sid = _call_task(flex)
    flex.offer(task_sid)

    def supervisor_edits() -> None:  # lands between our fetch and our update
        flex.sandbox.set_attributes(
            task_sid, {**flex.sandbox.attributes(task_sid), "priority_note": "escalated"}
        )

    flex.sandbox.faults.on_request(supervisor_edits, method="POST", path_contains=task_sid)
    posts = len(flex.sandbox.requests("POST"))
    flex.deliver()
    attributes = flex.sandbox.attributes(task_sid)
    assert attributes["priority_note"] == "escalated"
    assert attributes["threadline"]["last_by_channel"]["whatsapp"]["direction"] == "inbound"
    assert len(flex.sandbox.requests("POST")) == posts + 2  # 412, then the merge on top
    assert [d.status for d in flex.deliveries() if d.external_ref] == ["delivered"]


def test_429_is_retried_after_the_retry_after_twilio_sent(flex: Flex) -> None:
    task_sid = _call_task(flex)
    flex.offer(task_sid)
    flex.sandbox.faults.fail_next(1, 429, retry_after=30, path_contains=task_sid)
    flex.deliver()
    [waiting] = [d for d in flex.deliveries() if d.status != "delivered"]
    assert waiting.status == "pending"
    assert "answered 429 (Twilio error 20429)" in (waiting.last_error or "")
    assert waiting.next_attempt_at - utcnow() > timedelta(seconds=25)
    assert "threadline" not in flex.sandbox.attributes(task_sid)
    with flex.hub.sessions.begin() as session:  # thirty seconds later
        session.execute(
            update(Delivery).where(Delivery.id == waiting.id).values(next_attempt_at=utcnow())
        )
    flex.deliver()
    assert "threadline" in flex.sandbox.attributes(task_sid)
    assert {d.status for d in flex.deliveries()} == {"delivered"}


def test_a_task_that_is_gone_is_dead_lettered_with_a_clear_error(flex: Flex) -> None:
    task_sid = _call_task(flex)
    flex.offer(task_sid)
    flex.sandbox.delete_task(task_sid)  # completed, and Twilio deleted it
    flex.deliver()
    [dead] = [d for d in flex.deliveries() if d.status != "delivered"]
    assert dead.status == "dead"
    assert "SkippableError" in (dead.last_error or "")
    assert "404" in (dead.last_error or "")
    assert "task is gone" in (dead.last_error or "")


def test_two_chats_offered_to_one_agent_in_the_same_second_each_get_their_own_caller(
    flex: Flex,
) -> None:
    other = "+14155550199"
    tasks = {
        number: flex.sandbox.create_task(
            {"channelType": "whatsapp", "customerAddress": "whatsapp:" + number},
            channel="chat",
            queue="Support",
        )
        for number in (CALLER, other)
    }
    same_second = datetime.now(UTC).replace(microsecond=0)
    for task_sid in tasks.values():
        flex.offer(task_sid, at=same_second, channel="chat")
    flex.deliver()
    for number, task_sid in tasks.items():
        context = flex.sandbox.attributes(task_sid)["threadline"]
        assert context["identifiers"] == [{"kind": "phone", "value": number}]
    assert {d.status for d in flex.deliveries()} == {"delivered"}


def test_wrong_credentials_are_fatal_with_a_hint_and_never_touch_the_task(
    make_runtime: Callable[..., Runtime], server: tuple[TwilioSandbox, RunningServer]
) -> None:
    sandbox, running = server
    wrong = "another-auth-token-0123456789abcdef"
    hub = _hub(make_runtime, sandbox, running.url, token=wrong)
    flex = Flex(hub, sandbox, TwilioSimulator(wrong, f"{BASE}/tw", flask_send(hub)))
    task_sid = sandbox.create_task({"from": CALLER}, channel="voice", queue="Support")
    flex.offer(task_sid)
    flex.deliver()
    [failed] = flex.deliveries()
    assert failed.status in ("pending", "dead")
    assert "FatalConnectorError" in (failed.last_error or "")
    assert "auth_token" in (failed.last_error or "")
    assert "20003" in (failed.last_error or "")
    assert "threadline" not in sandbox.attributes(task_sid)
