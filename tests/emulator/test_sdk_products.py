"""The official ``tinyfish`` SDK as a second client of the emulator's product endpoints:
wallet, monitors, research, profiles and datasets. If the SDK cannot parse an answer,
the emulator is wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from tinyfish import TinyFish


@pytest.fixture
def sdk(emulator: Any) -> Iterator[TinyFish]:
    client = TinyFish(api_key=emulator.api_key, base_url=emulator.base_url)
    yield client
    client.close()


def test_wallet(sdk: TinyFish, emulator: Any) -> None:
    wallet = sdk.wallet.get()
    assert (wallet.available_balance, wallet.currency) == ("8.00", "USD")
    assert wallet.auto_reload is not None and wallet.auto_reload.state == "off"
    assert wallet.rates is not None and any(m.label == "Monitor check" for m in wallet.rates.meters)
    broke = TinyFish(api_key=emulator.no_credit_key, base_url=emulator.base_url)
    try:
        assert broke.wallet.get().available_balance == "0.00"
    finally:
        broke.close()


def test_vault_connections(sdk: TinyFish) -> None:
    (connection,) = sdk.vault.connections.list().connections
    assert connection.provider == "1password" and connection.connection_status == "connected"


def test_monitors_lifecycle(sdk: TinyFish, emulator: Any) -> None:
    from tinyfish import BadRequestError, NotFoundError

    url = f"{emulator.base_url}/_fixtures/article.html"
    created = sdk.monitors.create(type="fetch", config={"url": url}, schedule_cron="0 * * * *", purpose="p")
    assert created.monitor.status == "active" and created.monitor.type == "fetch"
    assert created.run.is_baseline is True and created.run.results[0].url == url  # type: ignore[union-attr]
    monitor_id = created.monitor.id
    assert [m.id for m in sdk.monitors.list().monitors] == [monitor_id]
    assert sdk.monitors.pause(monitor_id).status == "paused"
    assert sdk.monitors.resume(monitor_id).status == "active"
    updated = sdk.monitors.update(monitor_id, schedule_cron="0 */6 * * *", name="every six hours")
    assert (updated.schedule_cron, updated.name) == ("0 */6 * * *", "every six hours")
    assert sdk.monitors.get(monitor_id).name == "every six hours"
    ran = sdk.monitors.run(monitor_id).run
    assert ran.is_baseline is False  # type: ignore[union-attr]
    search = sdk.monitors.create(type="search", config={"query": "tide tables"}, schedule_cron="0 9 * * *")
    assert search.run.query == "tide tables" and search.run.new_result_positions == []  # type: ignore[union-attr]
    deleted = sdk.monitors.cancel(monitor_id)
    assert (deleted.deleted, deleted.id) == (True, monitor_id)
    with pytest.raises(NotFoundError):
        sdk.monitors.get(monitor_id)
    with pytest.raises(BadRequestError):
        sdk.monitors.create(type="search", config={"query": "x"}, schedule_cron="every hour")


def test_research_stream_reconnect_get_list_cancel(sdk: TinyFish, emulator: Any) -> None:
    from tinyfish import NotFoundError

    emulator.fault("/v1/automation/run-research", method="POST", drop_after=4)
    with sdk.research.stream(query="tide tables") as stream:
        names = [event.event for event in stream]
    # The stream dropped after four events; the SDK reconnected with Last-Event-ID and the
    # replayed state events (created, session) came once.
    assert names.count("created") == 1 and names.count("session") == 1
    assert names[-2:] == ["run_status", "done"] and "final_result" in names and "plan_updated" in names
    paths = [r["path"] for r in emulator.requests()]
    assert paths[0] == "/v1/automation/run-research" and paths[1].endswith("/events")
    run_id = paths[1].split("/")[3]
    detail = sdk.research.get(run_id)
    assert detail.status == "COMPLETED" and detail.deep_result is not None
    assert detail.deep_result.citations and detail.evidence and detail.research_plan is not None
    assert detail.quick_result is not None and detail.quick_result.answer

    queued = sdk.research.queue(query="slow topic tf_delay=5")
    listed = sdk.research.list(limit=1)
    assert [r.research_run_id for r in listed.data] == [queued.research_run_id]
    assert listed.pagination.has_more and listed.pagination.next_cursor
    cancelled = sdk.research.cancel(queued.research_run_id)
    assert (cancelled.status, cancelled.cancelled) == ("CANCELLED", True)
    again = sdk.research.cancel(queued.research_run_id)
    assert again.cancelled is False
    assert sdk.research.get(queued.research_run_id).error.code == "CANCELLED"  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        sdk.research.get("rr_missing")


def test_research_run_returns_the_report(sdk: TinyFish) -> None:
    result = sdk.research.run(query="tide tables")
    assert result.research_run_id.startswith("rr_") and result.status == "COMPLETED"


def test_profile_setup_save_cancel(sdk: TinyFish) -> None:
    from tinyfish import NotFoundError

    session = sdk.profiles.setup.start("prof_1", url="https://shop.example.com/login", timeout_seconds=120)
    assert session.cdp_url.startswith("ws://") and session.timeout_seconds == 120 and session.expires_at
    time.sleep(0.1)  # past the emulator's navigation delay: the browser is on the page
    saved = sdk.profiles.setup.save(
        "prof_1", session_id=session.session_id, signed_in_sites=["shop.example.com"]
    )
    assert saved.domains_updated == ["shop.example.com"] and saved.cookie_count > 0
    assert saved.user_confirmed_sites is not None and saved.user_confirmed_sites.recorded == [
        "shop.example.com"
    ]
    assert saved.sign_in is not None and saved.sign_in.status == "recorded"
    other = sdk.profiles.setup.start("prof_1")
    assert sdk.profiles.setup.cancel("prof_1", session_id=other.session_id).cancelled is True
    with pytest.raises(NotFoundError):
        sdk.profiles.setup.cancel("prof_1", session_id=other.session_id)


def test_datasets_plan_create_populate_stream_rows_delete(sdk: TinyFish) -> None:
    from tinyfish import NotFoundError

    spec = sdk.datasets.plan(prompt="Coffee grinders under $200").spec
    assert spec.columns and any(c.is_primary_key for c in spec.columns)
    dataset = sdk.datasets.create(spec=spec, target_rows=3)
    assert dataset.status == "populating" and dataset.run is not None
    with sdk.datasets.events(dataset.id, dataset.run.id) as stream:
        events = list(stream)
    names = [event.event for event in events]
    assert names.count("row") == 3 and names[-1] == "done"
    assert [e.status for e in events if e.event == "status"][-1] == "done"  # type: ignore[union-attr]
    page = sdk.datasets.rows(dataset.id, limit=2)
    assert len(page.rows) == 2 and page.truncated and page.next_cursor
    rest = sdk.datasets.rows(dataset.id, after=page.next_cursor)
    assert len(rest.rows) == 1 and not rest.truncated and rest.next_cursor is None
    assert sdk.datasets.get(dataset.id).status == "ready"
    again = sdk.datasets.populate(dataset.id, target_rows=50)
    assert again.run is not None and again.run.status == "queued"
    assert sdk.datasets.cancel_run(dataset.id, again.run.id).status == "cancelling"
    assert sdk.datasets.get(dataset.id).status == "cancelled"
    listed = sdk.datasets.list(limit=1)
    assert [d.id for d in listed.data] == [dataset.id]
    assert sdk.datasets.delete(dataset.id).deleted is True
    with pytest.raises(NotFoundError):
        sdk.datasets.get(dataset.id)
