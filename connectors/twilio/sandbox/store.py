"""In-memory TaskRouter state: one workspace's tasks and workers, thread-safe.

Twilio facts followed here (https://www.twilio.com/docs/taskrouter/api/task):
- A Task has a version, returned in the ``ETag`` header on GET and POST; an update or
  delete with ``If-Match`` fails with 412 unless it equals the current version; without
  ``If-Match`` the update is unconditional.
- ``attributes`` is a JSON string; TaskRouter rejects one that is not a JSON object
  (error 20001, 400). Attribute size is capped (TaskRouter limits page: the cap counts
  whitespace); the sandbox's cap is ``max_attributes_bytes`` (16 KiB by default: the
  exact figure is account-configurable and not verified against production).
- ``assignment_status`` is one of pending, reserved, assigned, canceled, completed,
  wrapping; an update may set canceled (from pending/reserved), wrapping or completed
  (from assigned/wrapping). ``reason`` is required to cancel or complete.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .errors import TwilioHTTPError

STATUSES = ("pending", "reserved", "assigned", "canceled", "completed", "wrapping")
#: Allowed updates of assignment_status: target → statuses it may come from.
TRANSITIONS = {
    "canceled": ("pending", "reserved"),
    "wrapping": ("assigned",),
    "completed": ("assigned", "wrapping"),
}

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Task:
    """A TaskRouter task as stored; ``version`` backs the ETag."""

    sid: str
    attributes: str
    assignment_status: str
    priority: int
    task_channel_unique_name: str
    task_queue_friendly_name: str
    task_queue_sid: str
    workflow_sid: str
    timeout: int
    date_created: datetime
    date_updated: datetime
    version: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class Worker:
    sid: str
    friendly_name: str
    attributes: str
    activity_name: str
    date_created: datetime


@dataclass
class TaskRouterStore:
    """One workspace; all writes under one lock."""

    account_sid: str
    workspace_sid: str
    clock: Clock = system_clock
    max_attributes_bytes: int = 16_384
    rng: random.Random = field(default_factory=random.Random)
    tasks: dict[str, Task] = field(default_factory=dict)
    workers: dict[str, Worker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_sid(self, prefix: str) -> str:
        return prefix + "".join(self.rng.choice("0123456789abcdef") for _ in range(32))

    def _attributes(self, text: str) -> str:
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise TwilioHTTPError(400, 20001, "Attributes must be a valid JSON object")
        if len(text.encode()) > self.max_attributes_bytes:
            raise TwilioHTTPError(
                400, 20001, f"Attributes exceed {self.max_attributes_bytes} bytes"
            )
        return text

    def create_task(
        self,
        attributes: str = "{}",
        *,
        channel: str = "default",
        queue: str = "Sample Queue",
        priority: int = 0,
        timeout: int = 86_400,
        assignment_status: str = "reserved",
    ) -> Task:
        now = self.clock()
        with self._lock:
            task = Task(
                sid=self.new_sid("WT"),
                attributes=self._attributes(attributes),
                assignment_status=assignment_status,
                priority=priority,
                task_channel_unique_name=channel,
                task_queue_friendly_name=queue,
                task_queue_sid=self.new_sid("WQ"),
                workflow_sid=self.new_sid("WW"),
                timeout=timeout,
                date_created=now,
                date_updated=now,
            )
            self.tasks[task.sid] = task
            return task

    def get_task(self, sid: str) -> Task:
        with self._lock:
            task = self.tasks.get(sid)
        if task is None:
            raise TwilioHTTPError(404, 20404, f"The requested resource /Tasks/{sid} was not found")
        return task

    def update_task(self, sid: str, if_match: str | None, form: dict[str, str]) -> Task:
        """Apply a Task update as TaskRouter does (412 on an ETag mismatch)."""
        with self._lock:
            task = self.tasks.get(sid)
            if task is None:
                raise TwilioHTTPError(
                    404, 20404, f"The requested resource /Tasks/{sid} was not found"
                )
            if if_match is not None and if_match.strip() != etag(task):
                raise TwilioHTTPError(412, 20412, "Precondition failed: version mismatch")
            changes: dict[str, Any] = {}
            if "Attributes" in form:
                changes["attributes"] = self._attributes(form["Attributes"])
            if "Priority" in form:
                if not form["Priority"].lstrip("-").isdigit():
                    raise TwilioHTTPError(400, 20001, "Priority must be an integer")
                changes["priority"] = int(form["Priority"])
            if "TaskChannel" in form:
                changes["task_channel_unique_name"] = form["TaskChannel"]
            if "AssignmentStatus" in form:
                changes |= _status_change(task, form["AssignmentStatus"], form.get("Reason"))
            elif "Reason" in form:
                changes["reason"] = form["Reason"]
            if changes:
                task = replace(task, **changes, version=task.version + 1, date_updated=self.clock())
                self.tasks[sid] = task
            return task

    def all_tasks(self) -> list[Task]:
        with self._lock:
            return list(self.tasks.values())

    def delete_task(self, sid: str) -> None:
        """Remove a task (Twilio deletes completed/canceled tasks after ~15 minutes)."""
        with self._lock:
            self.tasks.pop(sid, None)

    def all_workers(self) -> list[Worker]:
        with self._lock:
            return list(self.workers.values())

    def create_worker(self, friendly_name: str, attributes: str = "{}") -> Worker:
        worker = Worker(
            sid=self.new_sid("WK"),
            friendly_name=friendly_name,
            attributes=self._attributes(attributes),
            activity_name="Available",
            date_created=self.clock(),
        )
        with self._lock:
            self.workers[worker.sid] = worker
        return worker

    def get_worker(self, sid: str) -> Worker:
        with self._lock:
            worker = self.workers.get(sid)
        if worker is None:
            raise TwilioHTTPError(
                404, 20404, f"The requested resource /Workers/{sid} was not found"
            )
        return worker


def _status_change(task: Task, status: str, reason: str | None) -> dict[str, Any]:
    allowed = TRANSITIONS.get(status)
    if allowed is None:
        raise TwilioHTTPError(400, 20001, f"AssignmentStatus {status!r} cannot be set")
    if task.assignment_status not in allowed:
        raise TwilioHTTPError(
            400,
            20001,
            f"Cannot change AssignmentStatus from {task.assignment_status} to {status}",
        )
    if status in ("canceled", "completed") and not reason:
        raise TwilioHTTPError(400, 20001, "Reason is required to cancel or complete a Task")
    return {"assignment_status": status, "reason": reason or task.reason}


def etag(task: Task) -> str:
    """The Task's version as an ETag header value (Twilio sends the version number; the
    exact form is opaque to clients, which only echo it in ``If-Match``)."""
    return f'"{task.version}"'
