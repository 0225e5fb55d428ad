"""Shared helpers of the operations tests: a pull-stream connector and store set-up."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from helpers.config import REPO
from pydantic import BaseModel, ConfigDict
from sqlalchemy import update

from hub.plugin import CheckResult, Connector, Page, SourceRecord, Stream
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import InboxEvent

SESSION_SECRET = "admin-session-secret-0123456789abcdef"
CONTACT_MAPPING = str(REPO / "mappings/standard_webhooks/contact.yaml")


class OpsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: int = 3
    seconds_per_page: float = 0.0
    seconds_per_run: float = 0.0
    fail: bool = False
    reachable: bool = True


class PeopleStream(Stream):
    name = "people"
    object_type = "contact"
    reads: ClassVar[int] = 0

    def __init__(self, settings: OpsSettings) -> None:
        self.settings = settings

    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        type(self).reads += 1
        time.sleep(self.settings.seconds_per_run)
        if self.settings.fail:
            raise ConnectionError("the CRM answered 503")
        offset = int(cursor.get("offset", 0))
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(offset, self.settings.records):
            time.sleep(self.settings.seconds_per_page)
            record = {"id": f"ops-{i}", "first_name": f"Ops{i}"}
            yield Page(
                records=[SourceRecord("contact", record["id"], record, stamp)],
                cursor={"offset": i + 1},
            )


class OpsConnector(Connector):
    """A CRM with one pull stream and a check that can fail."""

    type_name = "ops_test"
    description = "a pull stream for the operations tests"
    settings_model = OpsSettings
    object_types = ("contact",)

    def streams(self) -> Sequence[Stream]:
        assert isinstance(self.settings, OpsSettings)
        return [PeopleStream(self.settings)]

    def check(self) -> CheckResult:
        assert isinstance(self.settings, OpsSettings)
        if not self.settings.reachable:
            return CheckResult(
                False, "crm.example.com refused the credentials (HTTP 401): check the client secret"
            )
        return CheckResult(True, "signed in; 1 stream readable")


def crm_instance(name: str = "crm", **settings: Any) -> dict[str, Any]:
    register_connector_type(OpsConnector)
    return {
        "name": name,
        "type": "ops_test",
        "settings": settings,
        "mappings": {"contact": CONTACT_MAPPING},
        "streams": {"people": {"interval_seconds": 60}},
    }


def events_instance() -> dict[str, Any]:
    from helpers.config import TEST_SECRET

    return {"name": "events", "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}}


def bury_all(runtime: Runtime, error: str = "RuntimeError: CRM down") -> None:
    """Mark every inbox event dead, as max_attempts failures would."""
    with transaction(runtime.sessions) as session:
        session.execute(update(InboxEvent).values(status="dead", last_error=error))
