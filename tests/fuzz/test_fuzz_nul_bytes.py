"""Given a correctly signed body holding a NUL character (``\\u0000`` in JSON, a NUL byte
in a form field), then intake answers a 4xx that tells the sender not to retry, or
stores it: never a 5xx, which makes the sender retry the same poison message forever.

Found by the fuzz suite: PostgreSQL refuses NUL in ``text``/``jsonb``, the resulting
``DataError`` is a ``DBAPIError``, and ``hub/intake.py`` answers every ``DBAPIError``
with 503 "store unavailable".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from faults.channel_senders import BY_ID, channels_runtime, send, stored

from hub.app import create_app
from hub.runtime import Runtime

ON_POSTGRES = bool(os.environ.get("THREADLINE_TEST_DATABASE_URL"))
BODIES = {
    "standard_webhooks": b'{"type": "note.\\u0000", "data": {"id": "x"}}',
    "salesforce-events": b'{"\\u0000": null}',
    "email-sendgrid": b"\x00",
    "twilio-sms": b"MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B14155550142&Body=%00",
}


@pytest.mark.parametrize("endpoint", sorted(BODIES))
def test_signed_body_with_a_nul_is_never_answered_with_a_5xx(
    endpoint: str, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = channels_runtime(make_runtime)
    client: Any = create_app(runtime=runtime).test_client()
    response = send(client, BY_ID[endpoint].sign(BODIES[endpoint], int(time.time())))
    assert response.status_code < 500, response.data
    if response.status_code >= 400:
        assert stored(runtime) == 0
