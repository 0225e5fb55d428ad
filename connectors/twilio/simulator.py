"""A Twilio sender simulator: signs and posts callbacks exactly as Twilio does.

Signatures come from twilio's own ``RequestValidator.compute_signature`` (form bodies:
URL + sorted parameters; JSON bodies: the URL with ``bodySHA256`` appended), so the
hub's verifier is exercised against the vendor's code. Twilio does not retry a failed
webhook by default (it calls the Fallback URL instead: protocols.md §3.2), so
``retries`` is 0 unless a test asks for connection-override style retries.

Usable against a Flask test client (pass ``send``) or a live URL (the default sends
with ``requests``)::

    sim = TwilioSimulator("auth-token", "https://hub.example.com/webhooks/twilio")
    sim.incoming_call(from_="+14155550142", to="+18005551212")
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from hub.simulate import Send, SimResponse, http_sender

http_send = http_sender(timeout=15)  # Twilio's 15 s total budget


def new_sid(prefix: str) -> str:
    """A realistic sid: two letters and 32 hex digits (``CA…``, ``SM…``, ``WR…``)."""
    return prefix + secrets.token_hex(16)


class _Params(dict[str, list[str]]):
    def getlist(self, name: str) -> list[str]:
        return self[name]


class TwilioSimulator:
    """Posts signed Twilio callbacks under ``base_url`` (``…/webhooks/<connector>``)."""

    def __init__(
        self,
        auth_token: str,
        base_url: str,
        send: Send | None = None,
        *,
        account_sid: str | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.validator = RequestValidator(auth_token)
        self.base_url = base_url.rstrip("/")
        self.send = send or http_send
        self.account_sid = account_sid or new_sid("AC")
        self.retries, self.retry_delay, self.sleep = retries, retry_delay, sleep

    # ----- wire level ---------------------------------------------------------

    def post_form(
        self, endpoint: str, params: Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> SimResponse:
        """Form-encode, sign URL + sorted parameters, post (repeated names allowed)."""
        pairs = list(params.items() if isinstance(params, Mapping) else params)
        url = f"{self.base_url}/{endpoint}"
        grouped = _Params()
        for name, value in pairs:
            grouped.setdefault(name, []).append(value)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(url, grouped),
            "User-Agent": "TwilioProxy/1.1",
        }
        return self._deliver(url, urlencode(pairs).encode(), headers)

    def post_json(self, endpoint: str, document: Any) -> SimResponse:
        """JSON webhook: the body is pinned by ``bodySHA256``; only the URL is signed."""
        body = json.dumps(document)
        url = f"{self.base_url}/{endpoint}?bodySHA256={self.validator.compute_hash(body)}"
        headers = {
            "Content-Type": "application/json",
            "X-Twilio-Signature": self.validator.compute_signature(url, {}),
        }
        return self._deliver(url, body.encode(), headers)

    def _deliver(self, url: str, body: bytes, headers: dict[str, str]) -> SimResponse:
        attempt = 0
        while True:
            attempt += 1
            status, answer, kind = self.send("POST", url, body, headers)
            if status < 500 or attempt > self.retries:
                return SimResponse(status, answer, kind.split(";")[0], attempt)
            self.sleep(self.retry_delay)

    # ----- realistic events ---------------------------------------------------

    def _call_params(self, call_sid: str, from_: str, to: str, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": status,
            "Called": to,
            "Caller": from_,
            "Direction": "inbound",
            "From": from_,
            "To": to,
            "FromCountry": "US",
            "ToCountry": "US",
        }

    def incoming_call(
        self, *, from_: str, to: str, call_sid: str | None = None, endpoint: str = "voice"
    ) -> tuple[str, SimResponse]:
        """A fresh inbound call reaching the number's Voice URL (CallStatus=ringing)."""
        sid = call_sid or new_sid("CA")
        return sid, self.post_form(endpoint, self._call_params(sid, from_, to, "ringing"))

    def call_status(
        self,
        call_sid: str,
        status: str,
        sequence: int,
        *,
        from_: str,
        to: str,
        at: datetime | None = None,
        duration: int | None = None,
        endpoint: str = "voice-status",
    ) -> SimResponse:
        """A call-progress StatusCallback with Timestamp (RFC 2822) and SequenceNumber."""
        params = self._call_params(call_sid, from_, to, status)
        params |= {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": format_datetime(at or datetime.now(UTC), usegmt=True),
        }
        if duration is not None:
            params |= {"CallDuration": str(duration), "Duration": str(-(-duration // 60))}
        return self.post_form(endpoint, params)

    def incoming_message(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        message_sid: str | None = None,
        media_types: tuple[str, ...] = (),
        endpoint: str = "sms",
    ) -> tuple[str, SimResponse]:
        """An inbound SMS/MMS (``whatsapp:+…`` addresses for WhatsApp via Twilio)."""
        sid = message_sid or new_sid("MM" if media_types else "SM")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "SmsStatus": "received",
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": str(len(media_types)),
            "NumSegments": "1",
        }
        for index, kind in enumerate(media_types):
            params[f"MediaContentType{index}"] = kind
            params[f"MediaUrl{index}"] = f"https://api.twilio.com/media/{new_sid('ME')}"
        return sid, self.post_form(endpoint, params)

    def message_status(
        self, message_sid: str, status: str, *, from_: str, to: str, endpoint: str = "sms-status"
    ) -> SimResponse:
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "From": from_,
            "To": to,
        }
        return self.post_form(endpoint, params)

    def taskrouter_event(
        self,
        event_type: str,
        *,
        task_attributes: Mapping[str, Any],
        worker_name: str | None = None,
        channel: str = "voice",
        queue: str = "Support",
        reservation_sid: str | None = None,
        task_sid: str | None = None,
        workspace_sid: str | None = None,
        at: datetime | None = None,
        endpoint: str = "taskrouter",
    ) -> SimResponse:
        """A TaskRouter Event Callback as Twilio posts it (form-encoded); pass the sids of
        a sandbox task to pop into it."""
        now = at or datetime.now(UTC)
        task_sid = task_sid or new_sid("WT")
        params = {
            "AccountSid": self.account_sid,
            "WorkspaceSid": workspace_sid or new_sid("WS"),
            "Sid": new_sid("EA"),
            "EventType": event_type,
            "EventDescription": f"{event_type} event",
            "ResourceType": event_type.split(".")[0].capitalize(),
            "ResourceSid": reservation_sid or task_sid,
            "Timestamp": str(int(now.timestamp())),
            "TimestampMs": str(int(now.timestamp() * 1000)),
            "TaskSid": task_sid,
            "TaskAttributes": json.dumps(task_attributes),
            "TaskChannelUniqueName": channel,
            "TaskQueueName": queue,
            "TaskQueueSid": new_sid("WQ"),
        }
        if worker_name is not None:
            params |= {"WorkerName": worker_name, "WorkerSid": new_sid("WK")}
        if reservation_sid is not None:
            params["ReservationSid"] = reservation_sid
        return self.post_form(endpoint, params)
