"""Screen pops into Salesforce: one Task per idempotency key, a Platform Event, a deep link."""

from __future__ import annotations

from typing import Any

import sf_helpers as h
from sf_clock import FakeClock

from connectors.salesforce.sandbox import SalesforceSandbox
from connectors.salesforce.targets import describe_pop
from hub.sandbox_server import RunningServer


def _payload(contact_id: str, connector: str = "sf") -> dict[str, Any]:
    return {
        "pop_id": "pop_123",
        "contact": {"display_name": "Ada Lovelace"},
        "identities": [
            {"connector": "other", "object_type": "contact", "external_id": "0035g0000000009AAA"},
            {"connector": connector, "object_type": "contact", "external_id": contact_id},
        ],
        "recent_interactions": [
            {
                "channel": "chat",
                "direction": "inbound",
                "occurred_at": "2024-06-03T11:50:00Z",
                "summary": "Asked about invoice",
                "status": "closed",
                "agent": "sam",
            },
            {
                "channel": "email",
                "direction": "outbound",
                "occurred_at": "2024-06-02T09:00:00Z",
                "summary": "Invoice sent",
                "status": None,
                "agent": None,
            },
            {
                "channel": "chat",
                "direction": "inbound",
                "occurred_at": "2024-06-01T09:00:00Z",
                "summary": "Older chat",
                "status": "closed",
                "agent": "kim",
            },
        ],
        "open_items": [{"kind": "case", "title": "Invoice dispute", "status": "working"}],
        "trigger": {
            "channel": "voice",
            "direction": "inbound",
            "from": "+14155550142",
            "agent": "agent-7",
        },
    }


def test_a_pop_pushed_twice_creates_exactly_one_task_and_one_event(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock)
    target = sf.push_targets()[0]
    contact = sandbox.records("Contact")[0]["Id"]
    before = len(sandbox.records("Task"))
    link = target.push(_payload(contact), "delivery-key-1")
    again = target.push(_payload(contact), "delivery-key-1")
    expected = f"https://threadline-dev-ed.my.salesforce.com/lightning/r/Contact/{contact}/view"
    assert link == again == expected
    tasks = sandbox.records("Task")
    assert len(tasks) == before + 1
    task = tasks[-1]
    assert task["WhoId"] == contact
    assert task["Subject"] == "Threadline: inbound voice from Ada Lovelace (1 open item)"
    assert expected in task["Description"]
    assert len(sandbox.published_events) == 1
    event = sandbox.published_events[0]
    assert event["Record_Id__c"] == contact
    assert event["Caller_Phone__c"] == "+14155550142"


def test_a_retry_after_losing_the_state_still_finds_the_task(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock, pop={"platform_event": None})
    target = sf.push_targets()[0]
    contact = sandbox.records("Contact")[0]["Id"]
    before = len(sandbox.records("Task"))
    target.push(_payload(contact), "k2")
    sf.context = type(sf.context)("sf")  # a crash before the state was written
    target.push(_payload(contact), "k2")
    assert len(sandbox.records("Task")) == before + 1
    target.push(_payload(contact), "k3")  # another pop is another Task
    assert len(sandbox.records("Task")) == before + 2
    assert sandbox.published_events == []


def test_a_pop_without_a_salesforce_identity_does_nothing(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url)
    before = len(sandbox.records("Task"))
    payload = _payload(sandbox.records("Contact")[0]["Id"], connector="elsewhere")
    assert sf.push_targets()[0].push(payload, "k4") is None
    assert len(sandbox.records("Task")) == before


def test_the_description_summarises_channels_items_and_journey() -> None:
    link = "https://x.my.salesforce.com/lightning/r/Contact/003/view"
    subject, text = describe_pop(_payload("0035g0000000001AAA"), link)
    assert subject.startswith("Threadline: inbound voice")
    assert "Now: inbound voice from +14155550142, agent agent-7" in text
    assert "- chat, inbound, 2024-06-03 11:50 UTC: Asked about invoice [closed / sam]" in text
    assert "Older chat" not in text  # only the last interaction per channel
    assert "- case: Invoice dispute (working)" in text
    assert "Journey: chat → email → chat → voice" in text
