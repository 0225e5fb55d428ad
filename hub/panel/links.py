"""Signed agent links: the panel URL carries a token only the hub can mint.

Agents are not API users; a link per agent (printed by ``threadline agent link``)
lets an admin embed the panel in Salesforce, HubSpot or Flex without sharing API
tokens. The token is an HMAC of the agent id under ``pops.panel_secret``.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode


def agent_token(secret: str, agent: str) -> str:
    mac = hmac.new(secret.encode(), f"agent:{agent}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def token_ok(secret: str | None, agent: str, token: str) -> bool:
    if not secret or not agent or not token:
        return False
    return hmac.compare_digest(agent_token(secret, agent), token)


def agent_link(base_url: str, secret: str, agent: str) -> str:
    query = urlencode({"agent": agent, "token": agent_token(secret, agent)})
    return f"{base_url.rstrip('/')}/agent?{query}"
