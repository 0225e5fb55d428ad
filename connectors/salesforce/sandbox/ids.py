"""Salesforce record ids: 15-char case-sensitive ids plus the 3-char case-safe suffix.

Real ids look like ``0035g00000AbCdEAAV``: a 3-char key prefix naming the object
(``003`` Contact), a 2-char pod/instance code, a reserved ``0`` and a 9-char
base-62 counter, then a suffix that encodes which of the first 15 characters are
upper case, so the id survives case-insensitive systems (Excel, SQL collations).
The sandbox emits and validates the same shape so connectors meet real ids.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
POD = "5g"


def case_safe_suffix(id15: str) -> str:
    """Return the 3-char suffix Salesforce appends to a 15-char id."""
    suffix = []
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def make_id(prefix: str, counter: int) -> str:
    """Build the 18-char id for the ``counter``-th record of ``prefix``."""
    digits = []
    value = counter
    for _ in range(9):
        value, rem = divmod(value, 62)
        digits.append(_BASE62[rem])
    id15 = f"{prefix}{POD}0{''.join(reversed(digits))}"
    return id15 + case_safe_suffix(id15)


def normalize_id(value: str) -> str | None:
    """Return the canonical 18-char form of a 15- or 18-char id, or None if malformed.

    Salesforce accepts both lengths everywhere an id is expected; an 18-char id
    whose suffix does not match its first 15 characters is still accepted by the
    API (the suffix is recomputed), so only the shape is checked here.
    """
    if not _ID_RE.match(value):
        return None
    id15 = value[:15]
    return id15 + case_safe_suffix(id15)


def looks_like_id(value: str) -> bool:
    """True if ``value`` has the shape of a Salesforce id."""
    return bool(_ID_RE.match(value))


def random_token(choice: Callable[[str], str], length: int) -> str:
    """Return ``length`` base-62 characters drawn with ``choice`` (``secrets.choice``...)."""
    return "".join(choice(_BASE62) for _ in range(length))
