"""Connector state (OAuth tokens above all) is encrypted at rest and keys rotate."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from hub.context import StoreContext
from hub.crypto import MARKER, SecretKeyError, rotate
from hub.store.models import ConnectorState


def test_state_is_stored_encrypted_and_read_back_plain(runtime: Any) -> None:
    context = StoreContext("crm", runtime.sessions)
    context.set_state("oauth", {"access_token": "tok-very-secret", "expires_at": 123})
    assert context.get_state("oauth") == {"access_token": "tok-very-secret", "expires_at": 123}
    with runtime.read_sessions() as session:
        stored = session.scalars(select(ConnectorState)).one().value
    assert list(stored) == [MARKER]
    assert "tok-very-secret" not in str(stored)


def test_rotation_re_encrypts_with_the_new_key_and_old_values_stay_readable(
    runtime: Any, monkeypatch: Any
) -> None:
    import os

    old_key = os.environ["THREADLINE_SECRET_KEYS"]
    context = StoreContext("crm", runtime.sessions)
    context.set_state("oauth", {"refresh_token": "r-1"})
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("THREADLINE_SECRET_KEYS", f"{new_key},{old_key}")
    assert context.get_state("oauth") == {"refresh_token": "r-1"}  # old key still decrypts
    with runtime.sessions() as session, session.begin():
        row = session.scalars(select(ConnectorState)).one()
        row.value = rotate(row.value)
    monkeypatch.setenv("THREADLINE_SECRET_KEYS", new_key)  # the old key is gone
    assert context.get_state("oauth") == {"refresh_token": "r-1"}
    monkeypatch.setenv("THREADLINE_SECRET_KEYS", Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError, match="THREADLINE_SECRET_KEYS"):
        context.get_state("oauth")
