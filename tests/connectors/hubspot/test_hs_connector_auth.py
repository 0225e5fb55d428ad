"""OAuth refresh ahead of expiry and serialised across workers; rate budgets; 429."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hs_helpers import hs_runtime

from connectors.hubspot.connector import HubSpotConnector, HubSpotSettings
from connectors.hubspot.sandbox import HubSpotSandbox
from hub.context import StoreContext
from hub.errors import FatalConnectorError, RetriableError
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer


def _oauth(
    sandbox: HubSpotSandbox, url: str, refresh_token: str, name: str = "hs"
) -> HubSpotConnector:
    app = sandbox.oauth.app
    return HubSpotConnector(
        name,
        HubSpotSettings(
            portal_id=sandbox.portal_id,
            client_id=app.client_id,
            client_secret=app.client_secret,
            refresh_token=refresh_token,
            api_host=url,
            rate_limits={"retry_base_seconds": 0.01, "search_per_second": 1000},
        ),
    )


def _count_refreshes(sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = sandbox.oauth.exchange

    def counting(form: dict[str, str]) -> dict[str, Any]:
        seen.append(form.get("grant_type", ""))
        time.sleep(0.05)  # widen the race window
        return original(form)

    monkeypatch.setattr(sandbox.oauth, "exchange", counting)
    return seen


def _contacts_page(conn: HubSpotConnector) -> Any:
    return conn.api.call(
        lambda c: c.crm.contacts.basic_api.get_page_with_http_info(limit=1), what="test"
    )


def test_two_workers_refresh_the_token_once(
    make_runtime: Callable[..., Runtime],
    sandbox: HubSpotSandbox,
    server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = hs_runtime(make_runtime, sandbox, server.url)
    refresh = sandbox.oauth.issue_tokens()["refresh_token"]
    workers = [_oauth(sandbox, server.url, refresh) for _ in range(2)]
    for worker in workers:
        worker.bind(StoreContext("hs", runtime.sessions))  # one store, two instances
    refreshes = _count_refreshes(sandbox, monkeypatch)
    barrier = threading.Barrier(2)
    tokens: list[str] = []

    def work(conn: HubSpotConnector) -> None:
        barrier.wait()
        tokens.append(conn.api.tokens.token())
        _contacts_page(conn)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert refreshes == ["refresh_token"]
    assert len(set(tokens)) == 1
    stored = workers[0].context.get_state("oauth")
    assert stored is not None
    assert stored["access_token"] == tokens[0]


def test_token_is_refreshed_before_it_expires_not_after_a_401(
    sandbox: HubSpotSandbox, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = sandbox.oauth.issue_tokens()
    conn = _oauth(sandbox, server.url, issued["refresh_token"])
    # Stored token still valid for 200 s: inside the 300 s margin, so refresh now.
    conn.context.set_state(
        "oauth",
        {
            "access_token": issued["access_token"],
            "refresh_token": issued["refresh_token"],
            "expires_at": time.time() + 200,
        },
    )
    refreshes = _count_refreshes(sandbox, monkeypatch)
    _contacts_page(conn)
    assert refreshes == ["refresh_token"]
    assert conn.context.get_state("oauth")["access_token"] != issued["access_token"]
    _contacts_page(conn)
    assert refreshes == ["refresh_token"]  # fresh now: no second refresh


def test_an_unexpected_401_refreshes_once_and_retries(
    sandbox: HubSpotSandbox, server: RunningServer
) -> None:
    conn = _oauth(sandbox, server.url, sandbox.oauth.issue_tokens()["refresh_token"])
    _contacts_page(conn)
    sandbox.expire_tokens()  # revoked early / clock skew: the stored expiry lies
    assert _contacts_page(conn).results
    assert conn.api.tokens.refreshes == 2


def test_a_revoked_refresh_token_is_fatal_with_a_hint(
    sandbox: HubSpotSandbox, server: RunningServer
) -> None:
    conn = _oauth(sandbox, server.url, "not-a-refresh-token")
    with pytest.raises(FatalConnectorError, match="reinstall the app"):
        _contacts_page(conn)


def test_429_is_retried_after_a_wait(
    sandbox: HubSpotSandbox, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    conn = _oauth(sandbox, server.url, sandbox.oauth.issue_tokens()["refresh_token"])
    waits: list[float] = []
    conn.api.sleep = waits.append
    sandbox.faults.fail_next(2, 429)
    with caplog.at_level(logging.WARNING, logger="connectors.hubspot"):
        assert _contacts_page(conn).results
    assert len(waits) == 2
    assert waits[1] > waits[0]
    errors = [r for r in caplog.records if r.getMessage() == "hubspot.api_error"]
    assert errors[0].policy == "TEN_SECONDLY_ROLLING"
    assert errors[0].status == 429
    assert errors[0].correlation_id
    assert "ten_secondly_rolling limit" not in caplog.text  # never the body


def test_429_that_persists_defers_with_retry_after(
    sandbox: HubSpotSandbox, server: RunningServer
) -> None:
    conn = _oauth(sandbox, server.url, sandbox.oauth.issue_tokens()["refresh_token"])
    conn.api.sleep = lambda _s: None
    sandbox.faults.fail_next(10, 429)
    with pytest.raises(RetriableError) as caught:
        _contacts_page(conn)
    assert caught.value.retry_after
    assert caught.value.retry_after > 0


def test_backfill_leaves_a_reserve_for_live_lookups(
    sandbox: HubSpotSandbox, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = datetime(2026, 1, 1, 12, 0, 3, tzinfo=UTC)  # one 10 s window for the test
    monkeypatch.setattr("hub.context.utcnow", lambda: frozen)
    conn = HubSpotConnector(
        "hs",
        HubSpotSettings(
            portal_id=sandbox.portal_id,
            access_token=sandbox.private_app_token,
            api_host=server.url,
            rate_limits={"per_ten_seconds": 10, "max_wait_seconds": 0},
        ),
    )

    def backfill_call() -> None:
        conn.api.call(
            lambda c: c.crm.contacts.basic_api.get_page_with_http_info(limit=1),
            what="backfill",
            priority="backfill",
        )

    for _ in range(8):  # 80 % of the window; 20 % is kept for live work
        backfill_call()
    with pytest.raises(RetriableError) as caught:
        backfill_call()
    assert caught.value.retry_after is not None
    _contacts_page(conn)  # a live lookup still goes ahead
    _contacts_page(conn)


def test_rate_headers_feed_the_shared_budget(
    sandbox: HubSpotSandbox, server: RunningServer
) -> None:
    conn = HubSpotConnector(
        "hs",
        HubSpotSettings(
            portal_id=sandbox.portal_id,
            access_token=sandbox.private_app_token,
            api_host=server.url,
            rate_limits={"per_ten_seconds": 100},
        ),
    )
    # Another app on the portal spends 60 calls: past half the limit, HubSpot's count
    # is what the budget must go by (below half it cannot change a decision yet).
    for _ in range(60):
        sandbox.ratelimiter.check(is_search=False)
    _contacts_page(conn)
    budgets = conn.context._budgets  # type: ignore[attr-defined]
    assert budgets["hubspot:62515:10s"][1] >= 61
    assert conn.context.api_calls == 1
