"""Screen-pop fan-out: route a pop, build the customer's context once, queue a push
per target in the same transaction that recorded the trigger.

Targets are looked up by name: ``panel``, ``webhook:<name>`` and
``<connector>:<push target>``. Unknown names in the routes are a configuration error
at start-up, never a dead letter at the first call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from hub import outbox
from hub.customer_context import Match, contexts_for_contacts
from hub.errors import ConfigError, ConfigIssue
from hub.panel_bus import LocalBus
from hub.plugin import Connector, PushTarget
from hub.pop_targets import PanelTarget, SignedWebhookTarget
from hub.settings import PopSettings, Settings
from hub.store.models import Pop


def build_targets(
    settings: Settings, connectors: Mapping[str, Connector], bus: LocalBus
) -> dict[str, PushTarget]:
    """Every push target by name; raises ConfigError naming unknown route targets."""
    targets: dict[str, PushTarget] = {"panel": PanelTarget(bus)}
    for hook in settings.pops.webhooks:
        targets[f"webhook:{hook.name}"] = SignedWebhookTarget(hook)
    for name, connector in connectors.items():
        for target in connector.push_targets():
            targets[outbox.target_name(name, target.name)] = target
    issues = []
    named = [("pops.default_targets", settings.pops.default_targets)] + [
        (f"pops.routes[{i}].targets", route.targets) for i, route in enumerate(settings.pops.routes)
    ]
    for where, names in named:
        for target_name in names:
            if target_name not in targets:
                known = ", ".join(sorted(targets))
                issues.append(ConfigIssue(where, f"no pop target {target_name!r} (known: {known})"))
    if issues:
        raise ConfigError(settings.source_file, issues)
    return targets


class PopView(Protocol):
    """What fan-out reads of a pop: a :class:`~hub.store.models.Pop`, or the row a
    worker batch inserted without an ORM object."""

    @property
    def id(self) -> int: ...
    @property
    def connector(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def contact_id(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def agent(self) -> str | None: ...
    @property
    def desk(self) -> str | None: ...
    @property
    def triggered_at(self) -> datetime: ...
    @property
    def received_at(self) -> datetime: ...


def route(settings: PopSettings, pop: PopView) -> list[str]:
    """Targets of the first route whose every ``match`` key equals the pop's value."""
    values = {
        "desk": pop.desk,
        "agent": pop.agent,
        "channel": pop.channel,
        "connector": pop.connector,
    }
    for candidate in settings.routes:
        if all(values.get(key) == want or want == "*" for key, want in candidate.match.items()):
            return list(candidate.targets)
    return list(settings.default_targets)


class PopFanout:
    """Called by the pipeline for each newly recorded pop."""

    def __init__(self, settings: Settings, connectors: Mapping[str, Connector]) -> None:
        self.settings = settings
        self.connectors = connectors

    def payload(
        self, session: Session, pop: Pop, data: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """The push every target of ``pop`` receives: the trigger and the context."""
        return self.payloads(session, [(pop, data)])[0]

    def payloads(
        self, session: Session, pops: Sequence[tuple[PopView, Mapping[str, str] | None]]
    ) -> list[dict[str, Any]]:
        """:meth:`payload` for many pops, their contexts read together."""
        contexts = contexts_for_contacts(
            session,
            [pop.contact_id for pop, _ in pops if pop.contact_id],
            connectors=self.connectors,
            match=Match(matched_on=None, confidence=1.0),
            vip_tiers=self.settings.hub.vip_tiers,
        )
        out = []
        for pop, data in pops:
            trigger = {
                "data": dict(data or {}),
                "pop_id": pop.id,
                "trigger": pop.trigger,
                "connector": pop.connector,
                "channel": pop.channel,
                "agent": pop.agent,
                "desk": pop.desk,
                "triggered_at": pop.triggered_at.isoformat(),
            }
            context = contexts.get(pop.contact_id) if pop.contact_id else None
            if context is None:
                out.append(
                    {
                        "pop_id": pop.id,
                        "trigger": trigger,
                        "contact": None,
                        "identities": [],
                        "interactions": [],
                        "recent_interactions": [],
                        "open_items": [],
                    }
                )
            else:
                out.append(
                    {
                        "pop_id": pop.id,
                        "trigger": trigger,
                        **context,
                        "recent_interactions": context["interactions"],
                    }
                )
        return out

    def fan_out(
        self, session: Session, pop: Pop, data: Mapping[str, str] | None = None
    ) -> Sequence[str]:
        """Queue the pop for each routed target; returns the target names."""
        return self.fan_out_many(session, [(pop, data)])[0]

    def fan_out_many(
        self, session: Session, pops: Sequence[tuple[PopView, Mapping[str, str] | None]]
    ) -> list[list[str]]:
        """:meth:`fan_out` for many pops (a worker batch), queued in one statement.
        Rows a batch inserted already say ``queued``; ORM pops are marked here."""
        routed = self.enqueue(session, pops)
        # Marked after every payload is built: a pop changed earlier would be flushed
        # (one UPDATE each) by the next payload's reads.
        for pop, _ in pops:
            if isinstance(pop, Pop):
                pop.status = "queued"
        return routed

    def enqueue(
        self, session: Session, pops: Sequence[tuple[PopView, Mapping[str, str] | None]]
    ) -> list[list[str]]:
        """Queue the pushes of pops whose rows already say ``queued`` (a worker batch
        inserts its pops that way); returns each pop's target names."""
        rows, routed = [], []
        for (pop, _), payload in zip(pops, self.payloads(session, pops), strict=True):
            targets = route(self.settings.pops, pop)
            rows += [
                outbox.push_row(target, f"pop-{pop.id}", payload, pop.contact_id, pop.received_at)
                for target in targets
            ]
            routed.append(targets)
        outbox.enqueue_many(session, rows)
        return routed
