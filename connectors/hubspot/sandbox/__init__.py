"""A HubSpot API sandbox the real ``hubspot-api-client`` talks to over loopback HTTP.

``HubSpotSandbox`` holds one fake portal; ``serve`` runs it as a process. See README.md.
"""

from __future__ import annotations

from .faults import FaultInjector
from .oauth import OAuthApp
from .ratelimit import RateLimits
from .sandbox import DEFAULT_PRIVATE_APP_TOKEN, HubSpotSandbox, serve
from .search import SearchCap
from .seed import SeedCounts
from .timeutil import ManualClock
from .webhooks_out import Subscription, WebhookSettings

__all__ = [
    "DEFAULT_PRIVATE_APP_TOKEN",
    "FaultInjector",
    "HubSpotSandbox",
    "ManualClock",
    "OAuthApp",
    "RateLimits",
    "SearchCap",
    "SeedCounts",
    "Subscription",
    "WebhookSettings",
    "serve",
]
