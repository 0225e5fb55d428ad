"""Identity resolution: which unified contact a source record or interaction is about."""

from hub.identity.resolve import Resolution, find_contacts, resolve_contact

__all__ = ["Resolution", "find_contacts", "resolve_contact"]
