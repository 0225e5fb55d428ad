"""The demo's story, played against the built-in sandboxes (``threadline demo``).

Ada Lovelace is a contact in the Salesforce and HubSpot sandboxes. She writes on
WhatsApp that order 1234 has not arrived; ten minutes later she calls. The call's pop
must reach the agent panel, a Task in Salesforce and a note in HubSpot, each with the
WhatsApp chat in the call's context. ``--check`` plays it unattended and says which
part, if any, did not happen.

This module imports the sandboxes and simulators by name on purpose: it demonstrates
those particular connectors; the hub's pipeline never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.runtime import Runtime
from hub.store.models import Delivery, Pop
from hub.sync import run_stream

ADA = {"first": "Ada", "last": "Lovelace", "email": "ada.lovelace@example.com",
       "phone": "+14155550142"}
CHAT = "Hi, my order 1234 hasn't arrived yet"
TARGETS = ("panel", "sf:salesforce_pop", "hs:hubspot_pop")


@dataclass
class StoryResult:
    """What happened, step by step, and whether each check passed."""

    steps: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.steps.append((name, ok, detail))
        return ok

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.steps)

    def report(self) -> str:
        return "\n".join(f"  [{'ok' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}"
                         for name, ok, detail in self.steps)


def route_salesforce_to(runtime: Runtime, sandbox_url: str) -> None:
    """simple-salesforce forces https://*.salesforce.com; send it to the sandbox instead."""
    from connectors.salesforce.sandbox import sandbox_session

    connector = runtime.connectors.get("sf")
    if connector is not None:
        connector.transport = lambda: sandbox_session(sandbox_url)  # type: ignore[attr-defined]


def seed_crms(sandboxes: dict[str, Any]) -> None:
    """Ada in both CRMs, with the same e-mail and phone (identity resolution joins them)."""
    sandboxes["salesforce"].create_record("Contact", {
        "FirstName": ADA["first"], "LastName": ADA["last"], "Email": ADA["email"],
        "Phone": "(415) 555-0142"})
    sandboxes["hubspot"].create("contacts", firstname=ADA["first"], lastname=ADA["last"],
                                email=ADA["email"], phone="+1 415-555-0142")


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _deliveries(runtime: Runtime) -> dict[str, Delivery]:
    with runtime.read_sessions() as session:
        pop = session.scalars(select(Pop).where(Pop.trigger == "call.ringing")
                              .order_by(Pop.id.desc()).limit(1)).first()
        if pop is None:
            return {}
        rows = session.scalars(select(Delivery).where(
            Delivery.idempotency_key == f"pop-{pop.id}"))
        return {row.target: row for row in rows}


def play(runtime: Runtime, base_url: str, sandboxes: dict[str, Any],
         timeout: float = 30.0) -> StoryResult:
    """Seed, sync, chat, call; then check every pop target got the chat in context."""
    from connectors.twilio.simulator import TwilioSimulator
    from connectors.whatsapp.simulator import WhatsAppSimulator

    result = StoryResult()
    seed_crms(sandboxes)
    # The Salesforce stream never reads past "now - 1 s" (changes still committing may
    # be invisible); give the fresh record that second.
    time.sleep(1.2)
    for name in ("sf", "hs"):
        connector = runtime.connectors[name]
        stream = next(s for s in connector.streams() if s.name == "contacts")
        run = run_stream(runtime, connector, stream, full=True)
        result.check(f"{name} contacts synced", run.status == "succeeded",
                     f"{run.records_read} records" if run.status == "succeeded" else str(run.error))
    now = datetime.now(UTC)
    whatsapp = WhatsAppSimulator("demo-whatsapp-app-secret", f"{base_url}/webhooks/whatsapp")
    _, answer = whatsapp.send_text(ADA["phone"].lstrip("+"), "Ada Lovelace", CHAT,
                                   at=now - timedelta(minutes=10))
    result.check("WhatsApp message accepted", answer.status == 200, f"HTTP {answer.status}")
    twilio = TwilioSimulator("demo-twilio-auth-token", f"{base_url}/webhooks/twilio")
    _, call = twilio.incoming_call(from_=ADA["phone"], to="+15005550006")
    result.check("call answered with TwiML", call.status == 200 and b"<Response>" in
                 call.body, f"HTTP {call.status}")
    delivered = _wait(lambda: all(
        (d := _deliveries(runtime).get(t)) is not None and d.status == "delivered"
        for t in TARGETS), timeout)
    rows = _deliveries(runtime)
    for target in TARGETS:
        row = rows.get(target)
        detail = (f"{row.status}, {_latency_ms(row)}" if row else "not queued")
        result.check(f"pop delivered to {target}", bool(row and row.status == "delivered"),
                     detail + (f" ({row.last_error})" if row and row.last_error else ""))
    if delivered:
        _check_payloads(result, rows, sandboxes, pops=_pop_count(runtime))
    return result


def _pop_count(runtime: Runtime) -> int:
    """Pops raised so far: the WhatsApp conversation start and the ringing call."""
    with runtime.read_sessions() as session:
        return len(session.scalars(select(Pop.id)).all())


def _latency_ms(row: Delivery) -> str:
    if row.delivered_at and row.received_at:
        return f"{(row.delivered_at - row.received_at).total_seconds() * 1000:.0f} ms"
    return "-"


def _check_payloads(result: StoryResult, rows: dict[str, Delivery],
                    sandboxes: dict[str, Any], *, pops: int) -> None:
    panel = rows["panel"].payload
    chats = [i for i in panel.get("interactions", []) if i["channel"] == "whatsapp"]
    result.check("the call's context holds the WhatsApp chat", bool(chats),
                 f"journey {panel.get('journey', {}).get('channels')}")
    identities = {i["connector"] for i in panel.get("identities", [])}
    result.check("one contact across Salesforce and HubSpot", {"sf", "hs"} <= identities,
                 ", ".join(sorted(identities)))
    tasks = [t for t in sandboxes["salesforce"].records("Task")
             if "order 1234" in str(t.get("Description") or "")]
    result.check("one Salesforce Task per pop, with the chat", len(tasks) == pops,
                 f"{len(tasks)} task(s) for {pops} pops")
    from connectors.hubspot.sandbox.schema import OBJECT_TYPES

    notes = [n for n in sandboxes["hubspot"].store.iter_all(OBJECT_TYPES["notes"])
             if "order 1234" in n.props.get("hs_note_body", "")]
    result.check("one HubSpot note per pop, with the chat", len(notes) == pops,
                 f"{len(notes)} note(s) for {pops} pops")
