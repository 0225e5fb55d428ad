"""Encryption at rest for what connectors keep in the store (OAuth tokens above all).

Keys are Fernet keys (AES-128-CBC + HMAC-SHA256, from ``cryptography``). The first key
of ``THREADLINE_SECRET_KEYS`` (comma-separated) encrypts; every key decrypts, so a
rotation is: put the new key first, run ``threadline secrets rotate`` (re-encrypts
every stored value), then remove the old key. Without the variable, a key is created
once in ``var/secret.key`` (mode 0600) so a single host works out of the box; several
hosts must share a key through the environment.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

ENV = "THREADLINE_SECRET_KEYS"
KEY_FILE = Path("var/secret.key")
MARKER = "threadline-enc-v1"
_lock = threading.Lock()
_cached: tuple[str, MultiFernet] | None = None


class SecretKeyError(RuntimeError):
    """A stored value cannot be decrypted with the configured keys."""


def _keys() -> list[bytes]:
    configured = os.environ.get(ENV, "").strip()
    if configured:
        return [k.strip().encode() for k in configured.split(",") if k.strip()]
    if not KEY_FILE.exists():
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return [KEY_FILE.read_bytes().strip()]


def cipher() -> MultiFernet:
    """The keys in force (re-read when the environment changes)."""
    global _cached
    with _lock:
        fingerprint = os.environ.get(ENV, "") + "|" + str(KEY_FILE.resolve())
        if _cached is None or _cached[0] != fingerprint:
            _cached = (fingerprint, MultiFernet([Fernet(k) for k in _keys()]))
        return _cached[1]


def seal(value: dict[str, Any]) -> dict[str, Any]:
    """Encrypt a JSON-able dict into the form stored in the database."""
    token = cipher().encrypt(json.dumps(value, separators=(",", ":")).encode())
    return {MARKER: token.decode()}


def unseal(stored: dict[str, Any]) -> dict[str, Any]:
    """The plain dict back; values stored before encryption was on pass through."""
    if MARKER not in stored:
        return dict(stored)
    try:
        return dict(json.loads(cipher().decrypt(stored[MARKER].encode())))
    except InvalidToken:
        raise SecretKeyError(
            f"a stored secret cannot be decrypted: is {ENV} missing the key it was written with?"
        ) from None


def rotate(stored: dict[str, Any]) -> dict[str, Any]:
    """Re-encrypt with the primary key (after putting a new key first)."""
    if MARKER not in stored:
        return seal(stored)
    return {MARKER: cipher().rotate(stored[MARKER].encode()).decode()}
