"""``threadline demo``: the hub with the built-in sandboxes, a story played against
them, and what to try next. ``--check`` plays the story unattended and exits 0 only
if every pop arrived with the right context."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

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


def start_sandboxes(seed: int = 1) -> dict[str, tuple[Any, RunningServer]]:
    """Start every registered vendor sandbox on a free loopback port."""
    started = {}
    for name, cls in sandbox_types().items():
        sandbox = cls(seed=seed)
        started[name] = (sandbox, run_in_thread(sandbox.app))
    return started


def run_demo(config: str | None, host: str, port: int, *, check: bool) -> int:
    """Serve the hub with its sandboxes, play the story, report; keep serving unless
    ``check``."""
    from werkzeug.serving import make_server

    from hub.app import create_app
    from hub.demo_story import play, route_salesforce_to
    from hub.logging_setup import configure_logging
    from hub.panel.links import agent_link
    from hub.runtime import Runtime
    from hub.settings import load_settings
    from hub.store.migrate import upgrade
    from hub.worker import Worker

    sandboxes = start_sandboxes()
    os.environ["HUBSPOT_SANDBOX_URL"] = sandboxes["hubspot"][1].url
    settings = load_settings(config)
    configure_logging(settings.logging.level, settings.logging.format)
    runtime = Runtime.build(settings)
    upgrade(runtime.engine)
    route_salesforce_to(runtime, sandboxes["salesforce"][1].url)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(runtime).run_forever, args=(stop,), daemon=True)
    worker.start()
    server = make_server(host, port, create_app(runtime=runtime), threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    base = f"http://{host}:{server.server_port}"
    servers = {name: running for name, (_, running) in sandboxes.items()}
    sys.stdout.write(banner(settings, host, server.server_port, servers) + "\n")
    if settings.pops.panel_secret:
        panel = agent_link(base, settings.pops.panel_secret, "agent-1")
        sys.stdout.write(f"Agent panel: {panel}\n\n")
    sys.stdout.write("The story: Ada writes on WhatsApp, calls ten minutes later...\n")
    sys.stdout.flush()
    result = play(runtime, base, {name: box for name, (box, _) in sandboxes.items()})
    sys.stdout.write(result.report() + "\n")
    sys.stdout.write(("Every pop arrived." if result.ok else "Some of the story failed.") + "\n")
    sys.stdout.flush()
    try:
        if not check:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            stop.wait()
    finally:
        stop.set()
        server.shutdown()
        worker.join(timeout=10)
        runtime.close()
        for running in servers.values():
            running.stop()
    return 0 if result.ok else 1


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
