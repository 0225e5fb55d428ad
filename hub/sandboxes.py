"""Vendor sandboxes, found through the ``threadline.sandboxes`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

ENTRY_POINT_GROUP = "threadline.sandboxes"


def sandbox_types() -> dict[str, Any]:
    """Sandbox classes by name; each takes ``seed=`` and exposes a WSGI ``app``."""
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def sandbox_type(name: str) -> Any:
    types = sandbox_types()
    if name not in types:
        known = ", ".join(sorted(types)) or "none"
        raise SystemExit(f"no sandbox named {name!r} (known: {known})")
    return types[name]
