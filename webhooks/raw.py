"""The frozen raw request every verifier and parser works from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RawRequest:
    """An inbound HTTP request exactly as received.

    Attributes:
        method: upper-case HTTP method.
        url: the public URL the sender signed (scheme, host, path and query), rebuilt
            from trusted forwarded headers when the hub runs behind a proxy.
        headers: header names lower-cased; the last value wins for repeated names.
        body: the raw body bytes; signatures are always checked over these, never
            over re-serialised JSON.
        received_at: when the hub received it (UTC).
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime = field(default_factory=_utcnow)

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        headers: Mapping[str, str] | list[tuple[str, str]],
        body: bytes,
        received_at: datetime | None = None,
    ) -> RawRequest:
        """Normalise header names to lower case and freeze the request."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        lowered = {str(k).lower(): str(v) for k, v in items}
        return cls(
            method=method.upper(),
            url=url,
            headers=lowered,
            body=body,
            received_at=received_at or _utcnow(),
        )

    def header(self, name: str) -> str | None:
        """Return a header by case-insensitive name, or None."""
        return self.headers.get(name.lower())

    @property
    def query(self) -> dict[str, str]:
        """The query string as a dict (last value wins)."""
        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ('' when absent)."""
        value = self.header("content-type") or ""
        return value.split(";", 1)[0].strip().lower()
