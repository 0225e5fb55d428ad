"""Given traffic, when Prometheus scrapes /metrics, then the text parses and the
figures match the store: intake, inbox depth and age, latencies, sync, budgets, merges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from ops_helpers import bury_all, crm_instance, events_instance
from prometheus_client.parser import text_string_to_metric_families

from hub.app import create_app
from hub.delivery import DeliveryWorker
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import ApiBudget, AuditEntry
from hub.sync import run_stream


def scrape(client: Any, **headers: str) -> dict[str, Any]:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    families = text_string_to_metric_families(answer.get_data(as_text=True))
    return {family.name: family for family in families}


def samples(family: Any, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in family.samples
        if name is None or s.name == name
    }


def test_metrics_reflect_intake_processing_pops_sync_budgets_and_merges(make_runtime: Any) -> None:
    runtime = make_runtime(connectors=[events_instance(), crm_instance()])
    client = create_app(runtime=runtime).test_client()
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1"))
    drain(runtime)
    assert DeliveryWorker(runtime, "w").run_once() == 1  # the pop reaches the panel
    post(client, contact_event("c-2", emails=["x@example.com"], phones=[]))
    crm = runtime.connectors["crm"]
    run_stream(runtime, crm, crm.streams()[0])
    with transaction(runtime.sessions) as session:
        session.add(
            ApiBudget(
                bucket="ops_test:acct:daily",
                window_start=utcnow(),
                window_seconds=86400.0,
                used=40,
                limit=100,
            )
        )
        session.add(
            AuditEntry(actor="connector:crm", action="contact.merge", subject="ct_x", details={})
        )
    found = scrape(client)
    assert samples(found["threadline_store_up"]) == {(): 1.0}
    assert samples(found["threadline_intake_events"], "threadline_intake_events_total") == {
        (("connector", "events"),): 3.0
    }
    assert samples(found["threadline_inbox_events"]) == {
        (("connector", "events"), ("status", "done")): 2.0,
        (("connector", "events"), ("status", "pending")): 1.0,
    }
    ages = samples(found["threadline_inbox_oldest_age_seconds"])
    assert 0 <= ages[(("status", "pending"),)] < 60
    assert ages[(("status", "dead"),)] == 0
    processing = samples(
        found["threadline_processing_latency_seconds"],
        "threadline_processing_latency_seconds_count",
    )
    assert processing == {(): 2.0}
    pops = samples(found["threadline_pop_latency_seconds"], "threadline_pop_latency_seconds_count")
    assert pops == {(("target", "panel"),): 1.0}
    inf = samples(found["threadline_pop_latency_seconds"], "threadline_pop_latency_seconds_bucket")
    assert inf[(("le", "+Inf"), ("target", "panel"))] == 1.0
    assert samples(found["threadline_sync_runs"], "threadline_sync_runs_total") == {
        (("connector", "crm"), ("status", "succeeded")): 1.0
    }
    assert samples(found["threadline_crm_api_calls"], "threadline_crm_api_calls_total") == {
        (("connector", "crm"),): 0.0
    }
    lag = samples(found["threadline_sync_lag_seconds"])
    assert 0 <= lag[(("connector", "crm"), ("stream", "people"))] < 60
    assert samples(found["threadline_api_budget_remaining"]) == {
        (("bucket", "ops_test:acct:daily"),): 60.0
    }
    assert samples(found["threadline_merges"], "threadline_merges_total") == {(): 1.0}


def test_dead_letters_show_their_age(make_runtime: Any) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    post(client, contact_event("c-1"))
    drain(runtime)
    bury_all(runtime)
    with transaction(runtime.sessions) as session:
        from sqlalchemy import update

        from hub.store.models import InboxEvent

        session.execute(update(InboxEvent).values(received_at=utcnow() - timedelta(minutes=5)))
    ages = samples(scrape(client)["threadline_inbox_oldest_age_seconds"])
    assert 299 <= ages[(("status", "dead"),)] < 360


def test_metrics_can_require_a_viewer_token(make_runtime: Any) -> None:
    from helpers.config import TEST_TOKEN

    runtime = make_runtime(admin={"metrics_public": False})
    client = create_app(runtime=runtime).test_client()
    assert client.get("/metrics").status_code == 401
    assert "threadline_store_up" in scrape(client, Authorization=f"Bearer {TEST_TOKEN}")
