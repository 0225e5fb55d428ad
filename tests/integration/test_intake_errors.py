"""Every bad-input class at the webhook door gets its status, a JSON problem body, and
nothing is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import requests
from helpers.config import TEST_SECRET
from helpers.signing import contact_event, signed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from connectors.standard_webhooks.inbound import StandardWebhooksEndpoint
from hub.app import create_app
from hub.plugin import AckResponse
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.sandbox_server import run_in_thread
from hub.store.models import InboxEvent, RawDelivery


def stored(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        events = session.scalar(select(func.count()).select_from(InboxEvent)) or 0
        raws = session.scalar(select(func.count()).select_from(RawDelivery)) or 0
        return int(events) + int(raws)


def assert_problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"] == code
    assert "Traceback" not in response.get_data(as_text=True)


def tampered(payload: Any) -> tuple[bytes, dict[str, str]]:
    body, headers = signed(payload)
    return body.replace(b"Ada", b"Eve"), headers


CASES = [
    ("bad_signature", lambda: tampered(contact_event()), 401, "invalid_signature"),
    (
        "wrong_secret",
        lambda: signed(contact_event(), secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"),
        401,
        "invalid_signature",
    ),
    (
        "stale_timestamp",
        lambda: signed(contact_event(), skew=timedelta(minutes=-6)),
        401,
        "invalid_signature",
    ),
    (
        "future_timestamp",
        lambda: signed(contact_event(), skew=timedelta(minutes=6)),
        401,
        "invalid_signature",
    ),
    ("not_json", lambda: signed(b"{not json"), 400, "invalid_payload"),
    ("json_array", lambda: signed(b"[1, 2]"), 400, "invalid_payload"),
    ("missing_type", lambda: signed({"data": {}}), 400, "invalid_payload"),
    (
        "interaction_without_channel",
        lambda: signed(
            {
                "type": "interaction.started",
                "data": {
                    "id": "x",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "contact": {"phone": "+14155550142"},
                },
            }
        ),
        400,
        "invalid_payload",
    ),
    (
        "interaction_without_contact_keys",
        lambda: signed(
            {
                "type": "interaction.started",
                "data": {
                    "id": "x",
                    "channel": "voice",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "contact": {},
                },
            }
        ),
        400,
        "invalid_payload",
    ),
    ("invalid_utf8", lambda: signed(b'{"type": "\xff\xfe"}'), 401, "invalid_signature"),
]


@pytest.mark.parametrize(
    ("make", "status", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_request_is_refused_and_nothing_stored(
    client: Any, runtime: Runtime, make: Any, status: int, code: str
) -> None:
    body, headers = make()
    response = client.post("/webhooks/events", data=body, headers=headers)
    assert_problem(response, status, code)
    assert stored(runtime) == 0


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_signature_header_is_401(client: Any, runtime: Runtime, header: str) -> None:
    body, headers = signed(contact_event())
    del headers[header]
    assert_problem(
        client.post("/webhooks/events", data=body, headers=headers), 401, "invalid_signature"
    )
    assert stored(runtime) == 0


@pytest.mark.parametrize("garbage", ["v1", "v1,", "v1,@@@", ",,,", "v2,abc v1 x", "\x00"])
def test_garbage_signature_header_is_401_never_500(client: Any, garbage: str) -> None:
    body, headers = signed(contact_event())
    headers["webhook-signature"] = garbage
    response = client.post("/webhooks/events", data=body, headers=headers)
    assert_problem(response, 401, "invalid_signature")


def test_unknown_connector_is_404(client: Any) -> None:
    body, headers = signed(contact_event())
    assert_problem(
        client.post("/webhooks/nobody", data=body, headers=headers), 404, "unknown_connector"
    )


def test_unknown_endpoint_is_404(client: Any) -> None:
    body, headers = signed(contact_event())
    assert_problem(
        client.post("/webhooks/events/extra", data=body, headers=headers), 404, "unknown_endpoint"
    )


def test_get_on_a_post_only_endpoint_is_405(client: Any) -> None:
    assert_problem(client.get("/webhooks/events"), 405, "method_not_allowed")


def test_body_over_the_limit_is_413_by_content_length(
    make_runtime: Any,
) -> None:
    runtime = make_runtime(hub={"intake": {"max_body_bytes": 2048}})
    client = create_app(runtime=runtime).test_client()
    body, headers = signed(contact_event(summary="x" * 4096))
    assert_problem(
        client.post("/webhooks/events", data=body, headers=headers), 413, "payload_too_large"
    )
    assert stored(runtime) == 0


def test_body_over_the_limit_is_413_when_chunked(make_runtime: Any) -> None:
    """No Content-Length to trust: the limit is enforced while reading (real HTTP)."""
    runtime = make_runtime(hub={"intake": {"max_body_bytes": 2048}})
    server = run_in_thread(create_app(runtime=runtime))
    body, headers = signed(contact_event(summary="x" * 4096))

    def chunks() -> Any:
        for i in range(0, len(body), 512):
            yield body[i : i + 512]

    try:
        response = requests.post(
            f"{server.url}/webhooks/events", data=chunks(), headers=headers, timeout=10
        )
    finally:
        server.stop()
    assert response.status_code == 413
    assert response.json()["title"] == "payload_too_large"
    assert stored(runtime) == 0


def test_store_unavailable_is_503_with_retry_after(make_runtime: Any) -> None:
    from hub.settings import settings_from_dict

    runtime = make_runtime()
    broken = Runtime.build(
        settings_from_dict(
            {
                **json.loads(runtime.settings.model_dump_json(exclude={"source_file"})),
                "hub": {
                    **runtime.settings.hub.model_dump(),
                    "database_url": "postgresql://nobody@127.0.0.1:1/none",
                },
            },
            env={},
        )
    )
    try:
        client = create_app(runtime=broken).test_client()
        body, headers = signed(contact_event())
        response = client.post("/webhooks/events", data=body, headers=headers)
        assert_problem(response, 503, "store_unavailable")
        assert response.headers["Retry-After"] == "5"
        assert_problem(client.get("/readyz"), 503, "store_unavailable")
    finally:
        broken.close()


def test_readyz_is_200_when_the_store_answers(client: Any) -> None:
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    headers=st.dictionaries(
        st.sampled_from(
            ["webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "x-other"]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
)
def test_arbitrary_requests_never_5xx_and_unsigned_ones_store_nothing(
    client: Any, runtime: Runtime, body: bytes, headers: dict[str, str]
) -> None:
    response = client.post("/webhooks/events", data=body, headers=headers)
    assert response.status_code < 500
    assert response.status_code in (400, 401)
    assert stored(runtime) == 0


class _FallbackEndpoint(StandardWebhooksEndpoint):
    def fallback(self, raw: Any) -> AckResponse:
        return AckResponse(
            body=b"<Response><Redirect>/flow</Redirect></Response>", content_type="text/xml"
        )


class _FallbackConnector(StandardWebhooksConnector):
    type_name = "fallback_test"
    object_types = ()

    def inbound_endpoints(self) -> Any:
        return [_FallbackEndpoint(self._verifiers)]


def test_endpoint_with_a_fallback_answers_it_when_the_store_is_down(make_runtime: Any) -> None:
    from hub.settings import settings_from_dict

    register_connector_type(_FallbackConnector)
    runtime = make_runtime()
    config = json.loads(runtime.settings.model_dump_json(exclude={"source_file"}))
    config["hub"]["database_url"] = "postgresql://nobody@127.0.0.1:1/none"
    config["connectors"][0]["type"] = "fallback_test"
    config["connectors"][0]["settings"] = {"secret": TEST_SECRET}
    broken = Runtime.build(settings_from_dict(config, env={}))
    try:
        body, headers = signed(contact_event())
        response = (
            create_app(runtime=broken)
            .test_client()
            .post("/webhooks/events", data=body, headers=headers)
        )
        assert (response.status_code, response.mimetype) == (200, "text/xml")
        assert b"<Redirect>" in response.data
    finally:
        broken.close()
