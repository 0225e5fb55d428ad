"""TaskRouter v1 JSON resource shapes, as the twilio SDK's ``TaskInstance`` and
``WorkerInstance`` read them (snake_case keys; ``attributes`` a JSON *string*; dates in
ISO 8601 UTC like ``2024-01-02T03:04:05Z``, which the SDK parses with
``deserialize.iso8601_datetime``; the 2010-04-01 API uses RFC 2822 instead)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .store import Task, TaskRouterStore, Worker

BASE = "https://taskrouter.twilio.com/v1"


def iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def task_json(store: TaskRouterStore, task: Task) -> dict[str, Any]:
    ws = store.workspace_sid
    url = f"{BASE}/Workspaces/{ws}/Tasks/{task.sid}"
    age = int((store.clock() - task.date_created).total_seconds())
    return {
        "account_sid": store.account_sid,
        "age": max(age, 0),
        "assignment_status": task.assignment_status,
        "attributes": task.attributes,
        "addons": "{}",
        "date_created": iso(task.date_created),
        "date_updated": iso(task.date_updated),
        "task_queue_entered_date": iso(task.date_created),
        "virtual_start_time": iso(task.date_created),
        "priority": task.priority,
        "reason": task.reason,
        "sid": task.sid,
        "task_queue_sid": task.task_queue_sid,
        "task_queue_friendly_name": task.task_queue_friendly_name,
        "task_channel_sid": "TC" + task.sid[2:],
        "task_channel_unique_name": task.task_channel_unique_name,
        "timeout": task.timeout,
        "workflow_sid": task.workflow_sid,
        "workflow_friendly_name": "Assign to Anyone",
        "workspace_sid": ws,
        "routing_target": None,
        "ignore_capacity": False,
        "url": url,
        "links": {
            "task_queue": f"{BASE}/Workspaces/{ws}/TaskQueues/{task.task_queue_sid}",
            "workflow": f"{BASE}/Workspaces/{ws}/Workflows/{task.workflow_sid}",
            "workspace": f"{BASE}/Workspaces/{ws}",
            "reservations": f"{url}/Reservations",
        },
    }


def worker_json(store: TaskRouterStore, worker: Worker) -> dict[str, Any]:
    ws = store.workspace_sid
    url = f"{BASE}/Workspaces/{ws}/Workers/{worker.sid}"
    return {
        "account_sid": store.account_sid,
        "activity_name": worker.activity_name,
        "activity_sid": "WA" + worker.sid[2:],
        "attributes": worker.attributes,
        "available": worker.activity_name == "Available",
        "date_created": iso(worker.date_created),
        "date_status_changed": iso(worker.date_created),
        "date_updated": iso(worker.date_created),
        "friendly_name": worker.friendly_name,
        "sid": worker.sid,
        "workspace_sid": ws,
        "url": url,
        "links": {
            "reservations": f"{url}/Reservations",
            "channels": f"{url}/Channels",
            "workspace": f"{BASE}/Workspaces/{ws}",
        },
    }


def page_json(key: str, items: list[dict[str, Any]], url: str, page_size: int) -> dict[str, Any]:
    """One page, Twilio's v1 list envelope (``meta.key`` names the list)."""
    return {
        key: items,
        "meta": {
            "page": 0,
            "page_size": page_size,
            "first_page_url": f"{url}?PageSize={page_size}&Page=0",
            "previous_page_url": None,
            "url": f"{url}?PageSize={page_size}&Page=0",
            "next_page_url": None,
            "key": key,
        },
    }
