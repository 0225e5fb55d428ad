"""``flex_pop``: the customer's context in the Flex task's attributes.

For a pop raised by this connector's TaskRouter ``reservation.created``, fetch the task
(``GET /v1/Workspaces/{WS}/Tasks/{Sid}``, whose ``ETag`` header is the task's version),
merge a ``threadline`` object into its attributes and update it with ``If-Match``
(https://www.twilio.com/docs/taskrouter/api/task#task-version). A 412 means another
writer (Flex UI, a Studio flow, a plugin) changed the task in between: fetch and merge
again, so their change is kept. Idempotent by pop id: if the task already holds this pop
(or a newer one) nothing is written.

Errors: 429 and 5xx are retriable (``Retry-After`` honoured); 401/403 are fatal with
a hint; 404 is skippable (Twilio deletes completed and canceled tasks after about 15
minutes). Nothing of a response body or of the attributes is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.twilio import flex_attributes
from connectors.twilio.client import TwilioApiError, as_hub_error, rest_client
from hub.errors import RetriableError, SkippableError
from hub.plugin import PushTarget

log = logging.getLogger(__name__)

#: Fetch-merge-update rounds before giving the pop back to the outbox to retry later.
CONFLICT_ROUNDS = 3


class FlexPopSettings(BaseModel):
    """``flex_pop`` in the twilio connector's settings; the auth token is the connector's."""

    model_config = ConfigDict(extra="forbid")

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    workspace_sid: str = Field(pattern=r"^WS[0-9a-fA-F]{32}$")
    #: Send every Twilio host here instead (a sandbox: ``http://127.0.0.1:8091``).
    api_base: str | None = Field(None, pattern=r"^https?://[^/\s]+/?$")
    #: The agent-panel URL to put in the task, ``{agent}`` and ``{pop_id}`` filled in.
    panel_url: str | None = Field(None, pattern=r"^https?://\S+$")
    interactions: int = Field(5, ge=1, le=20)
    max_attributes_bytes: int = Field(16_384, ge=1_024, le=1_048_576)
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class FlexPopTarget(PushTarget):
    """Returns the task sid it updated (or found already up to date)."""

    name: ClassVar[str] = "flex_pop"

    def __init__(
        self,
        connector: str,
        settings: FlexPopSettings,
        auth_token: str,
    ) -> None:
        self.connector = connector
        self.settings = settings
        self._client = rest_client(
            settings.account_sid,
            auth_token,
            api_base=settings.api_base,
            timeout=settings.timeout_seconds,
        )
        self.updates = 0  # task updates this instance made (tests, metrics)

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        trigger = payload.get("trigger") or {}
        if trigger.get("connector") != self.connector or trigger.get("trigger") != (
            "reservation.created"
        ):
            return None  # not a TaskRouter offer: there is no Flex task to decorate
        task_sid = _task_sid(payload)
        if task_sid is None:
            raise SkippableError(
                "Flex pop: the pop's trigger names no TaskRouter task",
                connector=self.connector,
                code="no_task",
            )
        pop_id = payload.get("pop_id")
        if not isinstance(pop_id, int):
            raise SkippableError("Flex pop: the payload has no pop_id", connector=self.connector)
        context = flex_attributes.build(
            payload,
            interactions=self.settings.interactions,
            panel_url=self.settings.panel_url,
        )
        for round_ in range(1, CONFLICT_ROUNDS + 1):
            try:
                if self._merge_once(task_sid, pop_id, context):
                    log.info(
                        "flex_pop.updated",
                        extra={"task_sid": task_sid, "pop_id": pop_id, "rounds": round_},
                    )
                return task_sid
            except TwilioApiError as exc:
                if exc.status != 412:
                    raise as_hub_error(exc, f"task {task_sid}", self.connector) from None
                log.info("flex_pop.conflict", extra={"task_sid": task_sid, "round": round_})
        raise RetriableError(
            f"task {task_sid} changed under {CONFLICT_ROUNDS} updates in a row (412)",
            connector=self.connector,
            code="412",
        )

    def _merge_once(self, task_sid: str, pop_id: int, context: dict[str, Any]) -> bool:
        """One fetch → merge → conditional update; False when nothing needed writing."""
        task = self._client.taskrouter.v1.workspaces(self.settings.workspace_sid).tasks(task_sid)
        fetched = task.fetch_with_http_info()
        version = next((v for k, v in fetched.headers.items() if k.lower() == "etag"), None)
        try:
            attributes = json.loads(fetched.data.attributes or "{}")
        except ValueError:
            attributes = {}
        if not isinstance(attributes, dict):
            attributes = {}
        current = flex_attributes.existing_pop(attributes)
        if current is not None and current >= pop_id:
            return False  # this pop (or a newer one) is already there
        merged = flex_attributes.merge(attributes, context, self.settings.max_attributes_bytes)
        if merged is None:
            raise SkippableError(
                f"task {task_sid}: its own attributes leave no room under "
                f"{self.settings.max_attributes_bytes} bytes",
                connector=self.connector,
                code="too_large",
            )
        task.update(attributes=merged, if_match=version or "")
        self.updates += 1
        return True


def _task_sid(payload: Mapping[str, Any]) -> str | None:
    """The task a pop is about: ``reservation.created`` puts its ``TaskSid`` in the
    trigger's data, which the hub copies into every pop payload."""
    data = (payload.get("trigger") or {}).get("data")
    task_sid = data.get("task_sid") if isinstance(data, dict) else None
    return task_sid if isinstance(task_sid, str) and task_sid else None
