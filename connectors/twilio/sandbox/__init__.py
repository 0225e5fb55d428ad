"""A Twilio REST sandbox (TaskRouter v1 Tasks and Workers) the real ``twilio`` client
talks to over loopback HTTP. ``TwilioSandbox`` holds one fake account; see README.md."""

from __future__ import annotations

from .faults import FaultInjector
from .sandbox import TwilioSandbox, serve

__all__ = ["FaultInjector", "TwilioSandbox", "serve"]
