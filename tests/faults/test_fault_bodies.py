"""Given an oversized or truncated body on any webhook endpoint, then the answer is 413
(too large) or 400/401 (broken, or no longer matching its signature), never a 5xx, and
nothing is stored. Also over a real socket: a chunked body past the limit, and a body
shorter than its Content-Length (the sender hung up mid-request)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from faults.channel_senders import ENDPOINTS, MAX_BODY, channels_runtime, send, stored
from helpers.signing import contact_event, signed

from hub.app import create_app
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer, run_in_thread

POSTED = [e for e in ENDPOINTS if e.kind != "query"]
SAMPLE = {
    "json": json.dumps(contact_event("c-1")).encode(),
    "xml": b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/'
    b'soap/envelope/"><soapenv:Body><notifications/></soapenv:Body></soapenv:Envelope>',
    "form": b"CallSid=CA0123456789abcdef0123456789abcdef&From=%2B14155550142&To=%2B18005551212",
    "multipart": b"Where is my order?",
}


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> tuple[Runtime, Any]:
    runtime = channels_runtime(make_runtime)
    return runtime, create_app(runtime=runtime).test_client()


@pytest.mark.parametrize("endpoint", POSTED, ids=lambda e: e.id)
def test_oversized_body_is_413_and_leaves_no_trace(endpoint: Any, hub: tuple[Runtime, Any]) -> None:
    runtime, client = hub
    padding = b" " * (MAX_BODY + 1)
    request = endpoint.sign(SAMPLE[endpoint.kind] + padding, int(time.time()))
    response = send(client, request)
    assert response.status_code == 413, response.data
    assert response.get_json()["title"] == "payload_too_large"
    assert stored(runtime) == 0


@pytest.mark.parametrize("endpoint", POSTED, ids=lambda e: e.id)
def test_body_truncated_after_signing_is_refused_without_a_5xx(
    endpoint: Any, hub: tuple[Runtime, Any]
) -> None:
    runtime, client = hub
    request = endpoint.sign(SAMPLE[endpoint.kind], int(time.time()))
    cut = request.body[: len(request.body) // 2]
    response = client.open(
        request.path, method="POST", data=cut, headers=request.headers, base_url="http://localhost"
    )
    assert response.status_code in (400, 401), (response.status_code, response.data)
    assert stored(runtime) == 0


@pytest.mark.parametrize("endpoint", POSTED, ids=lambda e: e.id)
def test_truncated_body_signed_as_is_is_a_4xx_never_a_5xx(
    endpoint: Any, hub: tuple[Runtime, Any]
) -> None:
    runtime, client = hub
    for cut in (1, 7, len(SAMPLE[endpoint.kind]) // 2, len(SAMPLE[endpoint.kind]) - 1):
        before = stored(runtime)
        response = send(client, endpoint.sign(SAMPLE[endpoint.kind][:cut], int(time.time())))
        assert response.status_code < 500, (cut, response.data)
        if response.status_code >= 400:
            assert stored(runtime) == before, f"a refused request ({cut} bytes) was stored"
        else:
            assert endpoint.answers_twiml or endpoint.kind in ("multipart", "form"), (
                f"{endpoint.id} accepted a body cut at {cut} bytes: {response.data!r}"
            )


# ----- over a real socket: what the test client cannot send ---------------------------


@pytest.fixture
def served(hub: tuple[Runtime, Any]) -> Iterator[tuple[Runtime, RunningServer]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    runtime, _ = hub
    server = run_in_thread(create_app(runtime=runtime))
    yield runtime, server
    server.stop()


def raw_exchange(port: int, head: bytes, chunks: list[bytes], hang_up: bool = False) -> int:
    """Send a request by hand; return the status the hub answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


def test_chunked_body_past_the_limit_is_413_and_leaves_no_trace(
    served: tuple[Runtime, RunningServer],
) -> None:
    runtime, server = served
    body, headers = signed(b"{" + b" " * (MAX_BODY * 2) + b"}")
    head = "POST /webhooks/events HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"
    chunks = [
        f"{len(body[i : i + 1000]):x}\r\n".encode() + body[i : i + 1000] + b"\r\n"
        for i in range(0, len(body), 1000)
    ]
    status = raw_exchange(server.port, head.encode(), [*chunks, b"0\r\n\r\n"])
    assert status == 413
    assert stored(runtime) == 0


def test_body_shorter_than_its_content_length_is_400_and_leaves_no_trace(
    served: tuple[Runtime, RunningServer],
) -> None:
    runtime, server = served
    body, headers = signed(contact_event("c-1"))
    head = (
        "POST /webhooks/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(body) + 100}\r\nConnection: close\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    status = raw_exchange(server.port, head.encode(), [body], hang_up=True)
    assert status in (400, 401)
    assert stored(runtime) == 0
