"""Given a full backfill from the Salesforce or HubSpot sandbox, when the CRM starts
answering 429, 500, timing out, answering slowly or dropping connections after the
first page, then the run ends deferred with an error that says what failed (or, for a
merely slow CRM, succeeds), and the next run completes with no gap and no duplicate.

The real vendor clients talk HTTP to the sandboxes on loopback; dropped connections
go through a TCP proxy that resets them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fault_helpers import DropProxy
from helpers.config import REPO
from sqlalchemy import select

import connectors.salesforce.client as sf_client
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.sandbox import HubSpotSandbox, RateLimits, SeedCounts
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.sandbox import SalesforceSandbox
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer, run_in_thread
from hub.store.models import SourceRecord
from hub.sync import run_stream

SF_CONTACTS, HS_CONTACTS = 400, 150  # SF pages are >= 200 records, HubSpot's 50 here
GENEROUS = RateLimits(per_ten_seconds=100_000, daily=1_000_000, search_per_second=1_000)
HS_SECRET = "app-client-secret-0123456789"


class Switch:
    """One loopback server per module; each test mounts its own sandbox."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def loopback() -> Iterator[tuple[Switch, RunningServer]]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    switch = Switch()
    server = run_in_thread(switch)
    yield switch, server
    server.stop()


@pytest.fixture
def proxy(loopback: tuple[Switch, RunningServer]) -> Iterator[DropProxy]:
    running = DropProxy(loopback[1].port)
    yield running
    running.close()


def stored_ids(runtime: Runtime, connector: str) -> list[str]:
    with runtime.read_sessions() as session:
        query = select(SourceRecord.external_id).where(
            SourceRecord.connector == connector, SourceRecord.object_type == "contact"
        )
        return list(session.scalars(query))


# ----- the faults, as each sandbox can script them ---------------------------------


def sf_fault(kind: str, sandbox: SalesforceSandbox, proxy: DropProxy) -> None:
    if kind == "429":
        sandbox.inject_errors(50, status=429, error_code="REQUEST_LIMIT_EXCEEDED")
    elif kind == "500":
        sandbox.inject_errors(50, status=500)
    elif kind in ("timeout", "slow"):
        sandbox.set_delay(1.0 if kind == "timeout" else 0.05)
    elif kind == "dropped":
        proxy.drop(50)


def hs_fault(kind: str, sandbox: HubSpotSandbox, proxy: DropProxy) -> None:
    if kind in ("429", "500"):
        sandbox.faults.fail_next(50, int(kind))
    elif kind in ("timeout", "slow"):
        sandbox.faults.slow_next(50, 1.0 if kind == "timeout" else 0.05)
    elif kind == "dropped":
        proxy.drop(50)


#: What the deferred run's error must name so an admin knows what happened.
SF_SAYS = {
    "429": "REQUEST_LIMIT_EXCEEDED",
    "500": "status 500",
    "timeout": "Timeout",
    "dropped": "ConnectionError",
}
KINDS = ["429", "500", "timeout", "slow", "dropped"]


@pytest.mark.parametrize("kind", KINDS)
def test_salesforce_backfill_survives_a_failing_crm_and_resumes_without_gap_or_duplicate(
    kind: str,
    make_runtime: Callable[..., Runtime],
    loopback: tuple[Switch, RunningServer],
    proxy: DropProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox = SalesforceSandbox(seed=3, counts={"User": 2, "Account": 5, "Contact": SF_CONTACTS})
    loopback[0].app = sandbox.app
    monkeypatch.setattr(sf_client, "REQUEST_TIMEOUT", 0.3)
    register_connector_type(SalesforceConnector)
    creds = sandbox.credentials
    runtime = make_runtime(
        connectors=[
            {
                "name": "sf",
                "type": "salesforce",
                "settings": {
                    "auth": "password",
                    "sandbox_url": proxy.url,
                    "org_id": creds.org_id,
                    "username": creds.username,
                    "password": creds.password,
                    "security_token": creds.security_token,
                    "streams": {"contacts": {"page_size": 200}},
                },
            }
        ],
        hub={"mappings_dir": str(REPO / "mappings")},
    )
    sf = runtime.connectors["sf"]
    assert isinstance(sf, SalesforceConnector)
    sf.client.sleep = lambda _seconds: None  # backoff is counted, not waited
    stream = next(s for s in sf.streams() if s.name == "contacts")

    def after_first_page(run: Any, _estimate: int | None) -> None:
        if run.pages == 1:
            sf_fault(kind, sandbox, proxy)

    first = run_stream(runtime, sf, stream, full=True, progress=after_first_page)
    sandbox.faults.clear()
    proxy.drop(0)
    if kind == "slow":
        assert first.status == "succeeded", first.error
    else:
        assert first.status == "deferred", first.error
        assert SF_SAYS[kind] in (first.error or ""), first.error
        assert "Salesforce" in (first.error or "")
        assert 0 < first.records_read < SF_CONTACTS
        second = run_stream(runtime, sf, stream, full=True)
        assert second.status == "succeeded", second.error
        assert second.records_read < SF_CONTACTS, "the re-run started over instead of resuming"
    ids = stored_ids(runtime, "sf")
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["Id"] for r in sandbox.records("Contact")}


def hs_runtime(
    make_runtime: Callable[..., Runtime], proxy: DropProxy, sandbox: HubSpotSandbox
) -> tuple[Runtime, HubSpotConnector]:
    register_connector_type(HubSpotConnector)
    runtime = make_runtime(
        connectors=[
            {
                "name": "hs",
                "type": "hubspot",
                "settings": {
                    "portal_id": sandbox.portal_id,
                    "access_token": sandbox.private_app_token,
                    "app_client_secret": HS_SECRET,
                    "api_host": proxy.url,
                    "page_size": 50,
                    "timeout_seconds": 0.3,
                    "rate_limits": {
                        "retry_base_seconds": 0.01,
                        "max_wait_seconds": 5,
                        "search_per_second": 1000,
                        "per_ten_seconds": 10_000,
                    },
                },
            }
        ],
        hub={"mappings_dir": str(REPO / "mappings")},
    )
    hs = runtime.connectors["hs"]
    assert isinstance(hs, HubSpotConnector)
    hs.api.sleep = lambda _seconds: None
    return runtime, hs


def hs_first_run(
    kind: str, make_runtime: Callable[..., Runtime], switch: Switch, proxy: DropProxy
) -> tuple[Runtime, HubSpotConnector, Any, Any, HubSpotSandbox]:
    """A full backfill of contacts whose CRM starts failing after the first page."""
    counts = SeedCounts(contacts=HS_CONTACTS, companies=0, calls=0, emails=0, notes=0, meetings=0)
    sandbox = HubSpotSandbox(seed=5, counts=counts, rate_limits=GENEROUS)
    switch.app = sandbox.app
    runtime, hs = hs_runtime(make_runtime, proxy, sandbox)
    stream = next(s for s in hs.streams() if s.name == "contacts")

    def after_first_page(run: Any, _estimate: int | None) -> None:
        if run.pages == 1:
            hs_fault(kind, sandbox, proxy)

    first = run_stream(runtime, hs, stream, full=True, progress=after_first_page)
    sandbox.faults.clear()
    proxy.drop(0)
    return runtime, hs, stream, first, sandbox


@pytest.mark.parametrize("kind", KINDS)
def test_hubspot_backfill_survives_a_failing_crm_and_resumes_without_gap_or_duplicate(
    kind: str,
    make_runtime: Callable[..., Runtime],
    loopback: tuple[Switch, RunningServer],
    proxy: DropProxy,
) -> None:
    runtime, hs, stream, first, sandbox = hs_first_run(kind, make_runtime, loopback[0], proxy)
    if kind == "slow":
        assert first.status == "succeeded", first.error
    else:
        assert first.status == "deferred", first.error
        assert "HubSpot contacts" in (first.error or ""), first.error
        assert 0 < first.records_read < HS_CONTACTS
        second = run_stream(runtime, hs, stream, full=True)
        assert second.status == "succeeded", second.error
        assert second.records_read < HS_CONTACTS, "the re-run started over instead of resuming"
    ids = stored_ids(runtime, "hs")
    assert len(ids) == len(set(ids))
    assert set(ids) == {str(r.id) for r in sandbox.store.iter_all(_contact_type())}


@pytest.mark.parametrize(("kind", "says"), [("429", "429"), ("500", "500"), ("dropped", "Error")])
def test_hubspot_deferred_run_names_what_failed(
    kind: str,
    says: str,
    make_runtime: Callable[..., Runtime],
    loopback: tuple[Switch, RunningServer],
    proxy: DropProxy,
) -> None:
    first = hs_first_run(kind, make_runtime, loopback[0], proxy)[3]
    assert first.status == "deferred"
    assert says in (first.error or "").split("retries", 1)[-1], first.error


def test_hubspot_timeouts_are_not_multiplied_by_hidden_transport_retries(
    make_runtime: Callable[..., Runtime],
    loopback: tuple[Switch, RunningServer],
    proxy: DropProxy,
) -> None:
    """A CRM that never answers defers the run within max_retries x timeout, plus slack."""
    import time

    started = time.monotonic()
    first = hs_first_run("timeout", make_runtime, loopback[0], proxy)[3]
    elapsed = time.monotonic() - started
    assert first.status == "deferred"
    budget = 5 * 0.3  # (max_retries + 1) attempts of timeout_seconds each
    assert elapsed < budget * 2, f"took {elapsed:.1f}s: hidden transport retries?"


def _contact_type() -> Any:
    from connectors.hubspot.sandbox.schema import OBJECT_TYPES

    return OBJECT_TYPES["contacts"]


def test_salesforce_backfill_commits_pages_of_a_thousand_records(
    make_runtime: Callable[..., Runtime], loopback: tuple[Switch, RunningServer]
) -> None:
    """Salesforce's default page is 2,000 records; every page must commit on both stores.

    (A regression test: identity locks were once taken one column per key in one
    SELECT, past PostgreSQL's 1,664-entry target-list limit.)"""
    sandbox = SalesforceSandbox(seed=4, counts={"User": 2, "Account": 5, "Contact": 1000})
    loopback[0].app = sandbox.app
    register_connector_type(SalesforceConnector)
    creds = sandbox.credentials
    settings = {
        "auth": "password",
        "sandbox_url": loopback[1].url,
        "org_id": creds.org_id,
        "username": creds.username,
        "password": creds.password,
        "security_token": creds.security_token,
        "streams": {"contacts": {"page_size": 1000}},
    }
    runtime = make_runtime(
        connectors=[{"name": "sf", "type": "salesforce", "settings": settings}],
        hub={"mappings_dir": str(REPO / "mappings")},
    )
    sf = runtime.connectors["sf"]
    stream = next(s for s in sf.streams() if s.name == "contacts")
    run = run_stream(runtime, sf, stream, full=True)
    assert run.status == "succeeded", (run.error or "")[:300]
    assert len(stored_ids(runtime, "sf")) == 1000
