"""API tokens with roles: viewer < operator < admin.

A token is ``tl_`` + 43 URL-safe characters (256 random bits). The store keeps only
its SHA-256 (a slow password hash buys nothing against a random 256-bit secret) and
its first characters, so admins can tell tokens apart; the token itself is shown
once, when it is created. Tokens in the configuration (``api.tokens``) keep working
as admin tokens, but cannot be listed or revoked: stored tokens are the way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.store.coltypes import utcnow
from hub.store.models import ApiToken, AuditEntry

ROLES = ("viewer", "operator", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}
PREFIX = "tl_"
#: ``last_used_at`` is written at most this often per token (a write per request
#: would queue every reader behind SQLite's write lock).
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a stored token (``token_id``) or a configured one (None)."""

    name: str
    role: str
    token_id: int | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return f"token:{self.token_id}:{self.name}" if self.token_id else f"config:{self.name}"

    def can(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def check_role(role: str) -> str:
    if role not in _RANK:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return role


def create_token(session: Session, *, role: str, name: str, actor: str) -> tuple[ApiToken, str]:
    """Store a new token; return its row and the token (shown once, never stored)."""
    check_role(role)
    name = name.strip()[:100] or role
    token = new_token()
    row = ApiToken(
        name=name,
        role=role,
        token_hash=hash_token(token),
        prefix=token[:8],
        created_by=actor,
    )
    session.add(row)
    session.flush()
    session.add(
        AuditEntry(
            actor=actor,
            action="token.create",
            subject=f"token:{row.id}",
            details={"name": name, "role": role},
        )
    )
    return row, token


def revoke_token(session: Session, token_id: int, *, actor: str) -> ApiToken | None:
    """Revoke a stored token (idempotent); None when there is no such token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(
            AuditEntry(
                actor=actor,
                action="token.revoke",
                subject=f"token:{row.id}",
                details={"name": row.name, "role": row.role},
            )
        )
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def configured_principal(given: str, configured: list[str]) -> Principal | None:
    """A token from ``api.tokens``: the admin role, named by its position."""
    for index, token in enumerate(configured):
        if hmac.compare_digest(given.encode(), token.encode()):
            return Principal(name=f"api.tokens[{index}]", role="admin")
    return None


def stored_principal(session: Session, given: str) -> tuple[Principal, bool] | None:
    """The live stored token matching ``given``, and whether its use should be recorded.

    The lookup is by hash (an index lookup, so timing reveals nothing about the token).
    """
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(given)))
    if row is None or row.revoked_at is not None:
        return None
    stale = row.last_used_at is None or utcnow() - row.last_used_at > TOUCH_EVERY
    return Principal(name=row.name, role=row.role, token_id=row.id), stale


def principal_by_id(session: Session, token_id: int) -> Principal | None:
    """A dashboard session's token, if it has not been revoked since sign-in."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return None
    return Principal(name=row.name, role=row.role, token_id=row.id)


def touch(session: Session, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is not None:
        row.last_used_at = utcnow()
