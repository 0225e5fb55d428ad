"""Screen pops into Salesforce: a Task on the Contact or Lead, and/or a Platform Event.

The Task (``WhoId`` = the record) summarises the cross-channel context so it shows in the
record's activity timeline; the Platform Event (default ``Threadline_Screen_Pop__e``)
lets a Lightning utility or an Open CTI softphone open the record at once. Both carry
the record's Lightning deep link (``/lightning/r/<Type>/<Id>/view``).

Idempotency: the hub's outbox retries a push with the same key. A Task is created at
most once per key: the key's digest is written to a filterable Task field (``CallObject``
by default, the CTI call identifier every org has) and looked up before creating, and
the created ids are kept in the connector's durable state. Platform event publishes are
not idempotent in Salesforce (the returned id is not even unique, protocols.md §2.5), so
the state records that the event went out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.objects import FIELD_RE, ID_RE
from connectors.salesforce.settings import PopSettings
from hub.context import ConnectorContext
from hub.plugin import PushTarget
from hub.transforms import parse_datetime

SUBJECT_MAX = 255
DESCRIPTION_MAX = 32000
_SOBJECT = {"contact": "Contact", "lead": "Lead"}


def _line(item: Mapping[str, Any]) -> str:
    when = parse_datetime(item.get("occurred_at"))
    stamp = when.strftime("%Y-%m-%d %H:%M UTC") if when else "time unknown"
    parts = [str(item.get("channel") or "?"), str(item.get("direction") or ""), stamp]
    text = ", ".join(p for p in parts if p)
    if item.get("summary"):
        text += f": {item['summary']}"
    extra = [str(item[k]) for k in ("status", "agent") if item.get(k)]
    return f"- {text}" + (f" [{' / '.join(extra)}]" if extra else "")


def describe_pop(payload: Mapping[str, Any], link: str) -> tuple[str, str]:
    """Subject and Description of the pop Task (pure; tested on its own)."""
    contact = payload.get("contact") or {}
    trigger = payload.get("trigger") or {}
    recent: Sequence[Mapping[str, Any]] = payload.get("recent_interactions") or []
    items: Sequence[Mapping[str, Any]] = payload.get("open_items") or []
    name = contact.get("display_name") or contact.get("name") or "caller"
    channel = trigger.get("channel") or "contact"
    direction = trigger.get("direction") or "inbound"
    subject = f"Threadline: {direction} {channel} from {name}"
    if items:
        subject += f" ({len(items)} open item{'s' if len(items) != 1 else ''})"
    lines = [f"Threadline context for {name}", f"Record: {link}", ""]
    caller = trigger.get("from") or trigger.get("phone") or trigger.get("caller")
    agent = trigger.get("agent") or trigger.get("agent_id")
    now = f"Now: {direction} {channel}" + (f" from {caller}" if caller else "")
    lines.append(now + (f", agent {agent}" if agent else ""))
    latest: dict[str, Mapping[str, Any]] = {}
    for item in recent:  # newest first, as the read API returns them
        latest.setdefault(str(item.get("channel") or "?"), item)
    if latest:
        lines += ["", "Last interaction per channel:", *(_line(i) for i in latest.values())]
    if items:
        lines += ["", "Open items:"]
        lines += [
            f"- {i.get('kind') or 'item'}: {i.get('title') or ''} ({i.get('status') or 'open'})"
            for i in items
        ]
    journey = [str(i.get("channel") or "?") for i in reversed(recent)]
    if journey:
        lines += ["", "Journey: " + " → ".join([*journey, str(channel)])]
    if payload.get("pop_id"):
        lines += ["", f"Threadline pop {payload['pop_id']}"]
    return subject[:SUBJECT_MAX], "\n".join(lines)[:DESCRIPTION_MAX]


class SalesforcePopTarget(PushTarget):
    """``salesforce_pop``: deliver a pop to this connector's Contact or Lead."""

    name = "salesforce_pop"

    def __init__(
        self, connector: str, client: SalesforceClient, pop: PopSettings, context: Any
    ) -> None:
        if not FIELD_RE.match(pop.task_key_field):
            raise ValueError("pop.task_key_field must be a field API name")
        self.connector = connector
        self.client = client
        self.pop = pop
        self._context = context

    @property
    def context(self) -> ConnectorContext:
        ctx: ConnectorContext = self._context()
        return ctx

    def _identity(self, payload: Mapping[str, Any]) -> tuple[str, str] | None:
        found: dict[str, str] = {}
        for identity in payload.get("identities") or []:
            kind = str(identity.get("object_type") or "")
            ext = str(identity.get("external_id") or "")
            if (
                identity.get("connector") == self.connector
                and kind in _SOBJECT
                and ID_RE.match(ext)
            ):
                found.setdefault(kind, ext)
        for kind in ("contact", "lead"):  # a Contact is the converted, richer record
            if kind in found:
                return _SOBJECT[kind], found[kind]
        return None

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        target = self._identity(payload)
        if target is None:
            return None  # no Salesforce record for this contact: nothing to pop here
        sobject, record_id = target
        link = f"{self.client.instance_url}/lightning/r/{sobject}/{record_id}/view"
        digest = "threadline:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
        # No lock is held across API calls (on SQLite that would block the budget's own
        # transaction); the outbox leases a delivery to one worker at a time, and the
        # Task lookup by key covers a retry after a crash between create and record.
        key = f"pop:{digest}"
        state = dict(self.context.get_state(key) or {})
        if self.pop.create_task and not state.get("task_id"):
            state["task_id"] = self._task(payload, record_id, link, digest)
            self.context.set_state(key, state)
        if self.pop.platform_event and not state.get("event_published"):
            self._publish(payload, sobject, record_id)
            state["event_published"] = True
            self.context.set_state(key, state)
        return link

    def _task(self, payload: Mapping[str, Any], who: str, link: str, digest: str) -> str:
        field = self.pop.task_key_field
        # field: a validated API name; digest: our own hex digest.
        soql = f"SELECT Id FROM Task WHERE {field} = '{digest}' LIMIT 1"  # noqa: S608
        found = self.client.call("find pop task", lambda sf: sf.query(soql))
        rows = (found or {}).get("records") or []
        if rows:
            return str(rows[0]["Id"])
        subject, description = describe_pop(payload, link)
        values = {
            "WhoId": who,
            "Subject": subject,
            "Description": description,
            "Status": self.pop.task_status,
            "Priority": "Normal",
            "ActivityDate": datetime.now(UTC).date().isoformat(),
            field: digest,
        }
        created = self.client.call(
            "create pop task",
            lambda sf: getattr(sf, "Task").create(values),  # noqa: B009
        )
        return str((created or {}).get("id") or "")

    def _publish(self, payload: Mapping[str, Any], sobject: str, record_id: str) -> None:
        trigger = payload.get("trigger") or {}
        event = {
            "Record_Id__c": record_id,
            "Channel__c": str(trigger.get("channel") or "")[:255] or None,
            "Caller_Phone__c": str(trigger.get("from") or trigger.get("phone") or "")[:255] or None,
            "Agent_Id__c": str(trigger.get("agent") or trigger.get("agent_id") or "")[:255] or None,
        }
        name = str(self.pop.platform_event)
        body = {k: v for k, v in event.items() if v is not None}
        self.client.call(f"publish {name}", lambda sf: getattr(sf, name).create(body))
