"""Developer tools: the agent panel's signed link, a vendor sandbox in the foreground,
and a signed test webhook."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from hub.cli.common import Add, out, settings_of, stop_event


def cmd_agent_link(args: argparse.Namespace) -> int:
    """Print the agent-panel URL for one agent (signed with pops.panel_secret)."""
    from hub.panel.links import agent_link

    secret = settings_of(args).pops.panel_secret
    if not secret:
        raise SystemExit("set pops.panel_secret (THREADLINE_PANEL_SECRET) to use the panel")
    out(agent_link(args.base_url, secret, args.agent))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run one vendor sandbox in the foreground (the real clients can talk to it)."""
    from werkzeug.serving import make_server

    from hub.sandboxes import sandbox_type

    sandbox = sandbox_type(args.name)(seed=args.seed)
    server = make_server(args.host, args.port, sandbox.app, threaded=True)
    out(f"{args.name} sandbox on http://{args.host}:{server.server_port} (seed {args.seed})")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop_event().wait()
    server.shutdown()
    return 0


def cmd_webhook_send(args: argparse.Namespace) -> int:
    """Sign a JSON event with a standard_webhooks connector's secret and post it."""
    from hub.devtools import send_standard_webhook

    secret = args.secret
    if secret is None:
        instance = settings_of(args).connector(args.connector)
        if instance is None or instance.type != "standard_webhooks":
            raise SystemExit(f"no standard_webhooks connector named {args.connector!r}")
        secret = str(instance.settings["secret"])
    status, body = send_standard_webhook(secret, args.connector, args.url, args.json)
    out(f"HTTP {status} {body}")
    return 0 if 200 <= status < 300 else 1


def register(sub: Any, add: Add) -> None:
    agent = sub.add_parser("agent", help="the agent panel").add_subparsers(
        dest="action", required=True
    )
    link = add("link", cmd_agent_link, "print an agent's signed panel URL", agent)
    link.add_argument("agent")
    link.add_argument("--base-url", default="http://127.0.0.1:8080")

    box = add("sandbox", cmd_sandbox, "run a vendor sandbox (salesforce, hubspot)")
    box.add_argument("name")
    box.add_argument("--host", default="127.0.0.1")
    box.add_argument("--port", type=int, default=0)
    box.add_argument("--seed", type=int, default=1)

    hook = sub.add_parser("webhook", help="developer tools").add_subparsers(
        dest="action", required=True
    )
    send = add("send", cmd_webhook_send, "sign and post a Standard Webhooks event", hook)
    send.add_argument("connector", help="a configured standard_webhooks connector")
    send.add_argument("json", help="the event body as JSON text")
    send.add_argument("--url", default="http://127.0.0.1:8080")
    send.add_argument("--secret", help="the whsec_ secret (default: from the config)")
