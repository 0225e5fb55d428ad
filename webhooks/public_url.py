"""Rebuild the public URL a sender signed when the hub runs behind a proxy.

Twilio and HubSpot sign the full URL they posted to. Behind a TLS-terminating proxy
the hub sees ``http://10.0.0.5:8000/...``; only forwarded headers from a trusted proxy
tell us the scheme and host the sender used. Never trust them from the open internet.
"""

from __future__ import annotations

from collections.abc import Mapping


def rebuild_public_url(
    scheme: str,
    host: str,
    path_and_query: str,
    headers: Mapping[str, str],
    *,
    trust_forwarded: bool,
) -> str:
    """Return ``scheme://host/path?query`` as the sender saw it.

    Args:
        scheme: the scheme the hub's own server saw.
        host: the Host header the hub's own server saw.
        path_and_query: the request path with its raw query string, if any.
        headers: request headers with lower-cased names.
        trust_forwarded: use ``X-Forwarded-Proto``/``X-Forwarded-Host`` (first value)
            only when the deployment sits behind a proxy that sets them.
    """
    if trust_forwarded:
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        fwd_host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if fwd_host:
            host = fwd_host
    return f"{scheme}://{host}{path_and_query}"
