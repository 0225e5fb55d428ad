"""Outbound HTTP to customer-supplied URLs without becoming an SSRF proxy.

The host is resolved once, every address is checked (loopback, private, link-local,
multicast, reserved and unspecified ranges are refused unless allow-listed), and the
request is pinned to the checked address so a second DNS answer cannot swap it
(DNS rebinding). Redirects are never followed; timeouts are always set.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeTargetError(ValueError):
    """The URL points somewhere the hub must not send data."""


@dataclass(frozen=True)
class Guard:
    """Which addresses an outbound request may reach."""

    allow_private: bool = False
    allow_cidrs: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, allow_private: bool = False, allow_cidrs: Sequence[str] = ()) -> Guard:
        return cls(allow_private, tuple(ipaddress.ip_network(c, strict=False) for c in allow_cidrs))

    def check_address(self, address: IPAddress) -> None:
        if any(address in network for network in self.allow_cidrs):
            return
        if self.allow_private:
            return
        if not address.is_global or address.is_multicast:
            raise UnsafeTargetError(f"refusing non-public address {address}")

    def resolve(self, url: str) -> tuple[str, IPAddress]:
        """Check ``url`` and return (host, the address to connect to)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UnsafeTargetError("only absolute http(s) URLs are allowed")
        if parts.username or parts.password:
            raise UnsafeTargetError("credentials in the URL are not allowed")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise UnsafeTargetError(f"cannot resolve {parts.hostname}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in addresses:  # every answer must be safe, not just the first
            self.check_address(address)
        return parts.hostname, addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Connect to a pre-checked address while keeping the Host header and TLS name."""

    def __init__(self, host: str, address: IPAddress) -> None:
        super().__init__(max_retries=0)
        self._host, self._address = host, address

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        literal = f"[{self._address}]" if self._address.version == 6 else str(self._address)
        netloc = literal + (f":{parts.port}" if parts.port else "")
        request.url = parts._replace(netloc=netloc).geturl()
        request.headers["Host"] = parts.netloc
        if parts.scheme == "https":
            self.poolmanager.connection_pool_kw["server_hostname"] = self._host
            self.poolmanager.connection_pool_kw["assert_hostname"] = self._host
        return super().send(request, **kwargs)


def guarded_post(
    url: str, *, data: bytes, headers: dict[str, str], guard: Guard, timeout: float = 10.0
) -> requests.Response:
    """POST ``data`` to ``url`` if ``guard`` allows it; never follows redirects."""
    host, address = guard.resolve(url)
    with requests.Session() as session:
        session.trust_env = False  # no proxies from the environment
        session.mount("http://", _PinnedAdapter(host, address))
        session.mount("https://", _PinnedAdapter(host, address))
        return session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)
