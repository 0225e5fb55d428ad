"""What `make demo` prints: the URLs and commands to try against the running hub."""

from __future__ import annotations

import json

from hub.sandbox_server import RunningServer, run_in_thread
from hub.sandboxes import sandbox_types
from hub.settings import Settings

SAMPLE_CONTACT = {
    "type": "contact.updated",
    "data": {
        "id": "crm-42",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": ["ada@example.com"],
        "phones": ["+1 415 555 0142"],
    },
}
SAMPLE_CALL = {
    "type": "interaction.started",
    "data": {
        "id": "call-1",
        "channel": "voice",
        "direction": "inbound",
        "occurred_at": "2026-11-22T10:00:00Z",
        "status": "ringing",
        "summary": "Asked about an invoice",
        "contact": {"phone": "(415) 555-0142"},
    },
}


def start_sandboxes(seed: int = 1) -> dict[str, RunningServer]:
    """Start every registered vendor sandbox on a free loopback port."""
    return {name: run_in_thread(cls(seed=seed).app) for name, cls in sandbox_types().items()}


def banner(
    settings: Settings, host: str, port: int, sandboxes: dict[str, RunningServer] | None = None
) -> str:
    base = f"http://{host}:{port}"
    token = settings.api.tokens[0] if settings.api.tokens else "<token>"
    hook = next((c for c in settings.connectors if c.type == "standard_webhooks"), None)
    lines = [
        "",
        "Threadline demo",
        "===============",
        f"  store:   {settings.hub.database_url}",
        f"  health:  curl {base}/readyz",
    ]
    if hook:
        secret = hook.settings["secret"]  # the demo's own secret, printed on purpose
        send = f".venv/bin/threadline webhook send {hook.name} --secret {secret} --url {base}"
        lines += [
            "",
            "Send a signed Standard Webhooks event (a contact, then a call from them):",
            f"  {send} '{json.dumps(SAMPLE_CONTACT)}'",
            f"  {send} '{json.dumps(SAMPLE_CALL)}'",
        ]
    if sandboxes:
        lines += ["", "Vendor sandboxes (the real vendor clients talk to these):"]
        lines += [f"  {name:<11} {running.url}" for name, running in sorted(sandboxes.items())]
    lines += [
        "",
        "Look the caller up by phone, in any format, and read the timeline:",
        f"  curl -H 'Authorization: Bearer {token}' '{base}/api/v1/contacts?phone=415-555-0142'",
        f"  curl -H 'Authorization: Bearer {token}' {base}/api/v1/contacts/<id>/interactions",
        "",
        "Inbox: .venv/bin/threadline inbox list   (Ctrl-C stops the hub)",
        "",
    ]
    return "\n".join(lines)
