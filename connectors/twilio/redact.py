"""Message-body redaction shared by the messaging channels (SMS, WhatsApp).

``keep`` stores the text as sent; ``mask`` hides what must never sit in a timeline
(card numbers, one-time codes, phone numbers: any run of 4+ digits, spaces and dashes
allowed inside it; e-mail addresses) and keeps the rest so the agent sees the gist;
``drop`` stores no text at all, only its length.
"""

from __future__ import annotations

import re
from typing import Literal

BodyPolicy = Literal["keep", "mask", "drop"]

_DIGITS = re.compile(r"\+?\d(?:[\s\-.]?\d){3,}")
_EMAIL = re.compile(r"[^\s@<>()\"']+@[^\s@<>()\"']+\.[A-Za-z]{2,}")
SUMMARY_LIMIT = 1000


def redact(text: str | None, policy: BodyPolicy) -> str | None:
    """The body as the policy allows it to be stored (None when nothing may be kept)."""
    if not text:
        return None
    if policy == "drop":
        return None
    if policy == "mask":
        text = _EMAIL.sub("[email]", text)
        text = _DIGITS.sub(lambda m: "#" * len(re.sub(r"\D", "", m.group())), text)
    return text[:SUMMARY_LIMIT]
