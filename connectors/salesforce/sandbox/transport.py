"""Point the real simple-salesforce client at a sandbox on loopback.

simple-salesforce hard-codes ``https://{domain}.salesforce.com`` for logins and
``https://{instance}`` for REST (protocols.md §7.2). A transport adapter mounted
on ``https://`` rewrites every request to the sandbox's plain-HTTP address, so the
client runs unmodified: ``Salesforce(username=..., session=sandbox_session(url))``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class SandboxAdapter(HTTPAdapter):
    """Send every ``https://`` request to ``base_url`` (scheme and host replaced)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        target = urlsplit(base_url)
        if target.scheme not in ("http", "https") or not target.netloc:
            raise ValueError(f"sandbox base_url must be an absolute http(s) URL: {base_url!r}")
        self._scheme, self._netloc = target.scheme, target.netloc

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self._scheme, self._netloc, parts.path, parts.query, parts.fragment)
        )
        request.headers["Host"] = self._netloc
        return super().send(request, *args, **kwargs)


def sandbox_session(base_url: str) -> requests.Session:
    """A ``requests.Session`` whose HTTPS traffic goes to the sandbox at ``base_url``."""
    session = requests.Session()
    session.mount("https://", SandboxAdapter(base_url))
    return session
