"""The ``salesforce`` connector: the declaration (what it reads, receives and pushes).

Everything it does goes through simple-salesforce (``client.py``): pull streams for
Contact, Lead, Account, Case, Task and Event (``streams.py``), Outbound Messages and
relayed Change Data Capture (``inbound.py``, ``changes.py``) and screen pops as a Task
and/or Platform Event (``targets.py``). Vendor-side setup: ``README.md`` in this folder.

Register it with the entry point
``salesforce = "connectors.salesforce.connector:SalesforceConnector"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import requests
from pydantic import BaseModel

from connectors.salesforce.changes import Interpreter
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.inbound import ChangeEventEndpoint, OutboundMessageEndpoint
from connectors.salesforce.objects import SPECS
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.streams import ObjectStream
from connectors.salesforce.targets import SalesforcePopTarget
from hub.errors import ConnectorError
from hub.plugin import (
    Change,
    CheckResult,
    Connector,
    InboundEndpoint,
    InboundEvent,
    PushTarget,
    Stream,
)
from webhooks.standard import make_verifier


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceConnector(Connector):
    type_name = "salesforce"
    description = (
        "Salesforce: Contacts, Leads, Accounts, Cases and activities in (streams, Outbound "
        "Messages, Change Data Capture); screen pops out as a Task and a Platform Event"
    )
    settings_model = SalesforceSettings
    object_types = ("contact", "lead", "account", "case", "task", "event")

    #: Testing hook, not configuration: builds the ``requests.Session`` simple-salesforce
    #: uses (tests route it to the sandbox with ``sandbox_session(url)``).
    transport: Callable[[], requests.Session] | None = None

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, SalesforceSettings)
        self.sf_settings = settings
        #: What "now" is for signposts and delete windows (tests freeze it).
        self.clock: Callable[[], datetime] = _utcnow
        self.client = SalesforceClient(
            name, settings, lambda: self.context, session_factory=self._session
        )
        self.interpreter = Interpreter(name, self.client, settings)
        self._streams = [
            ObjectStream(spec, self.client, settings, lambda: self.clock()) for spec in SPECS
        ]
        self._endpoints: list[InboundEndpoint] = []
        if settings.outbound_message_token is not None and settings.org_id is not None:
            self._endpoints.append(
                OutboundMessageEndpoint(
                    settings.outbound_message_token.get_secret_value(), settings.org_id
                )
            )
        if settings.cdc_secret is not None:
            self._endpoints.append(
                ChangeEventEndpoint(make_verifier(settings.cdc_secret.get_secret_value()))
            )
        self._targets: list[PushTarget] = []
        if settings.pop.create_task or settings.pop.platform_event:
            self._targets.append(
                SalesforcePopTarget(name, self.client, settings.pop, lambda: self.context)
            )

    def _session(self) -> requests.Session:
        return self.transport() if self.transport else self.client.default_session()

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return self._endpoints

    def streams(self) -> Sequence[Stream]:
        return self._streams

    def push_targets(self) -> Sequence[PushTarget]:
        return self._targets

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        return self.interpreter.interpret(event)

    def check(self) -> CheckResult:
        """Log in, read the org's limits, and confirm the org is the configured one."""
        try:
            sf = self.client.login()
            limits = self.client.call("read limits", lambda s: s.limits()) or {}
        except ConnectorError as exc:
            return CheckResult(ok=False, detail=str(exc))
        org = self.sf_settings.org_id
        if org and not sf.session_id.startswith(org[:15]):
            return CheckResult(
                ok=False,
                detail=(
                    f"logged in, but to org {sf.session_id[:15]}, not org_id {org[:15]}: "
                    "check domain and the credentials"
                ),
            )
        daily = limits.get("DailyApiRequests") or {}
        used = int(daily.get("Max", 0)) - int(daily.get("Remaining", 0))
        return CheckResult(
            ok=True,
            detail=(
                f"logged in to {sf.sf_instance} ({self.sf_settings.auth}); API requests today: "
                f"{used} of {daily.get('Max', '?')}"
            ),
        )
