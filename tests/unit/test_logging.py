"""Structured logs: redaction of personal data and secrets, one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.logging_setup import (
    JsonFormatter,
    RedactionFilter,
    configure_logging,
    redact_text,
    redact_value,
)

# ----- redact_text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ada@example.com", "***@example.com"),
        ("mail Ada.Lovelace+crm@mail.example.co.uk now", "mail ***@mail.example.co.uk now"),
        ("a@x.io, b@y.org", "***@x.io, ***@y.org"),
        ("+1 (415) 555-0142", "***42"),
        ("415-555-0142", "***42"),
        ("(415) 555-0142", "***42"),
        ("415.555.0142", "***42"),
        ("4155550142", "***42"),
        ("+14155550142", "***42"),
        ("+44 20 7946 0958", "***58"),
        ("(+44) 20 7946 0958", "***58"),
        ("0044 20 7946 0958", "***58"),
        ("tel:+14155550142", "tel:***42"),
        ("phone=4155550142;", "phone=***42;"),
        ("caller 415-555-0142 rang", "caller ***42 rang"),
        ("415-555-0142, 415-555-0143", "***42, ***43"),
        ("on 2026-11-22 call 415-555-0142", "on 2026-11-22 call ***42"),
        ("intake.stored", "intake.stored"),
        ("no personal data here", "no personal data here"),
        ("short 12345", "short 12345"),
    ],
)
def test_redact_text_masks_emails_and_phones(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22",
        "2026-11-22T10:00:00+00:00",
        "2026-11-22T10:00:00Z",
        "2026-11-22T10:00:00.123456+00:00",
        "2026-11-22 10:00:00.123456",
        "2026-1-2",
        "22.11.2026",
        "22/11/2026",
        "10:00:00",
        "123e4567-e89b-12d3-a456-426614174000",
        "12345678-1234-5678-9abc-123456789012",
        "550e8400-e29b-41d4-a716-446655440000",
        "deadbeef12345678",
        "12345678deadbeef",
        "0123456789abcdef0123456789abcdef",
        "msg_2b9f0c1d8e7a6b5c4d3e2f1a0b9c8d7e",
        "10.0.0.1",
        "192.168.100.200",
        "sync.page_committed",
        "v1.2.3",
    ],
)
def test_redact_text_leaves_dates_times_and_ids_alone(text: str) -> None:
    assert redact_text(text) == text


def test_redact_text_is_idempotent() -> None:
    once = redact_text("ada@example.com called from +1 (415) 555-0142 at 2026-11-22")
    assert once == "***@example.com called from ***42 at 2026-11-22"
    assert redact_text(once) == once


@settings(max_examples=50, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_iso_timestamps_are_never_mangled(moment: datetime) -> None:
    for text in (moment.isoformat(), moment.date().isoformat(), str(moment)):
        assert redact_text(text) == text


@settings(max_examples=50, deadline=None)
@given(st.uuids())
def test_uuids_are_never_mangled(value: uuid.UUID) -> None:
    assert redact_text(str(value)) == str(value)
    assert redact_text(f"request {value} done") == f"request {value} done"


# ----- redact_value -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "api_token",
        "refresh_token",
        "secret",
        "client_secret",
        "Authorization",
        "password",
        "passwd",
        "signature",
        "api_key",
        "apiKey",
        "private_key",
        "credentials",
        "cookie",
    ],
)
def test_secret_like_keys_are_redacted(key: str) -> None:
    assert redact_value(key, "abc") == "[redacted]"
    assert redact_value(key, {"nested": "abc"}) == "[redacted]"
    assert redact_value(key, 12345) == "[redacted]"


def test_redact_value_walks_nested_dicts_and_lists() -> None:
    value = {
        "contact": {"email": "ada@example.com", "phones": ["+1 (415) 555-0142", "n/a"]},
        "auth": {"token": "sk_live_123", "Authorization": "Bearer x"},
        "at": "2026-11-22T10:00:00+00:00",
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "count": 3,
        "ok": True,
        "pair": ("ada@example.com", 1),
    }
    assert redact_value("extra", value) == {
        "contact": {"email": "***@example.com", "phones": ["***42", "n/a"]},
        "auth": {"token": "[redacted]", "Authorization": "[redacted]"},
        "at": "2026-11-22T10:00:00+00:00",
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "count": 3,
        "ok": True,
        "pair": ["***@example.com", 1],
    }


def test_list_under_a_secret_key_is_redacted_whole() -> None:
    assert redact_value("tokens", ["a", "b"]) == "[redacted]"


# ----- the filter and the JSON formatter ---------------------------------------------------


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("threadline.test.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_json_formatter_writes_one_object_per_line_with_event_level_logger(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("intake.stored", extra={"connector": "events", "event_id": 7})
    logger.warning("worker.retry_scheduled", extra={"attempt": 2, "delay": 1.5})
    first, second = lines(stream)
    assert first["event"] == "intake.stored"
    assert first["level"] == "info"
    assert first["logger"] == "threadline.test.logging"
    assert (first["connector"], first["event_id"]) == ("events", 7)
    assert (second["event"], second["level"], second["attempt"], second["delay"]) == (
        "worker.retry_scheduled",
        "warning",
        2,
        1.5,
    )
    assert first["ts"].endswith("+00:00")
    assert "msg" not in first
    assert "args" not in first


def test_extras_are_redacted_in_the_output(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info(
        "identity.matched",
        extra={
            "email": "ada@example.com",
            "caller": {"phone": "415-555-0142", "seen": ["+44 20 7946 0958"]},
            "token": "sk_live_abc",
            "received_at": "2026-11-22T10:00:00+00:00",
            "request_id": "123e4567-e89b-12d3-a456-426614174000",
        },
    )
    [entry] = lines(stream)
    assert entry["email"] == "***@example.com"
    assert entry["caller"] == {"phone": "***42", "seen": ["***58"]}
    assert entry["token"] == "[redacted]"
    assert entry["received_at"] == "2026-11-22T10:00:00+00:00"
    assert entry["request_id"] == "123e4567-e89b-12d3-a456-426614174000"
    assert "ada@" not in stream.getvalue()
    assert "sk_live_abc" not in stream.getvalue()


def test_percent_args_are_merged_before_redaction(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("lookup by %s found %d contact(s)", "ada@example.com", 2)
    logger.info("caller %s", "+1 (415) 555-0142")
    first, second = lines(stream)
    assert first["event"] == "lookup by ***@example.com found 2 contact(s)"
    assert second["event"] == "caller ***42"


def test_extras_cannot_overwrite_the_entry_fields(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.error("sync.failed", extra={"event": "spoofed", "level": "debug", "ts": "x"})
    [entry] = lines(stream)
    assert (entry["event"], entry["level"]) == ("sync.failed", "error")
    assert entry["ts"] != "x"


def test_exceptions_are_logged_by_class_with_redacted_traceback(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    try:
        raise ValueError("bad phone +1 (415) 555-0142 for ada@example.com")
    except ValueError:
        logger.exception("worker.failed")
    [entry] = lines(stream)
    assert entry["exc_class"] == "ValueError"
    assert "***42" in entry["exc"]
    assert "***@example.com" in entry["exc"]
    assert "555-0142" not in stream.getvalue()


def test_unserialisable_extras_fall_back_to_their_text(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    when = datetime(2026, 11, 22, 10, tzinfo=UTC)
    logger.info("odd.extra", extra={"when": when, "obj": object()})
    [entry] = lines(stream)
    assert entry["when"] == "2026-11-22 10:00:00+00:00"
    assert entry["obj"].startswith("<object object")


def test_message_and_newlines_stay_on_one_line(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info("multi\nline", extra={"body": "a\nb"})
    assert stream.getvalue().count("\n") == 1
    [entry] = lines(stream)
    assert (entry["event"], entry["body"]) == ("multi\nline", "a\nb")


def test_configure_logging_installs_one_redacting_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    before_level = root.level
    try:
        configure_logging("DEBUG", "json")
        configure_logging("INFO", "json")  # idempotent: still one handler
        ours = [h for h in root.handlers if getattr(h, "_threadline", False)]
        assert len(ours) == 1
        assert root.level == logging.INFO
        logging.getLogger("threadline.test.configure").info(
            "api.lookup", extra={"phone": "415-555-0142"}
        )
        err = capsys.readouterr().err.strip().splitlines()
        entry = json.loads(err[-1])
        assert (entry["event"], entry["phone"]) == ("api.lookup", "***42")
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_threadline", False)]:
            root.removeHandler(handler)
        root.setLevel(before_level)


def test_text_format_is_also_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before_level = root.level
    try:
        configure_logging("INFO", "text")
        logging.getLogger("threadline.test.text").info("caller %s", "ada@example.com")
        err = capsys.readouterr().err
        assert "caller ***@example.com" in err
        assert "ada@" not in err
    finally:
        for handler in [h for h in root.handlers if getattr(h, "_threadline", False)]:
            root.removeHandler(handler)
        root.setLevel(before_level)
