"""Push delivery against a real HTTP receiver on 127.0.0.1 that fails the first deliveries:
HTTP 500, a timeout, an unreachable CRM, a sender restart mid-delivery. Back-off runs on a
hand-driven clock, so the test waits only for the HTTP timeouts themselves."""

import asyncio
import itertools
import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.crm import service
from opendialer.crm.payloads import SIGNATURE_HEADER, verify_signature
from opendialer.crm.schemas import EndpointCreate
from opendialer.crm.sender import OutboxSender
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import CrmEndpoint, OutboxMessage, OutboxStatus
from opendialer.scoping import Scope
from opendialer.web.state import state_of
from tests.crm.helpers import (
    ManualClock,
    Receiver,
    arrange_campaign,
    finished_call,
    running_receiver,
)
from tests.engine.helpers import NOW


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "outbox_http_timeout_seconds": 0.3,
            "outbox_retry_base_seconds": 10.0,
            "outbox_retry_max_seconds": 3600.0,
            "outbox_max_attempts": 4,
            "outbox_lease_seconds": 60.0,
        }
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def add_endpoint(session: Session, tenant: NewTenant, **fields: object) -> CrmEndpoint:
    body = EndpointCreate.model_validate({"name": "crm", **fields})
    return service.create_endpoint(session, Scope.system(tenant.tenant.id), body)


def messages(sessions: SessionMaker) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def drive(
    sender: OutboxSender, clock: ManualClock, sessions: SessionMaker
) -> list[tuple[int, int, datetime]]:
    """Run rounds; when nothing is due, jump the clock to the next due message. Returns every
    (message id, attempt number, clock time) claimed."""
    claims: list[tuple[int, int, datetime]] = []

    async def main() -> None:
        for _ in range(100):
            before = {m.id: m.attempts for m in messages(sessions)}
            claimed = await sender.run_once()
            after = messages(sessions)
            claims.extend(
                (m.id, m.attempts, clock.now()) for m in after if m.attempts > before[m.id]
            )
            pending = [m for m in after if m.status is OutboxStatus.PENDING]
            if not pending:
                break
            if claimed == 0:
                clock.at = max(clock.at, min(m.next_attempt_at for m in pending))
        await sender.aclose()

    asyncio.run(main())
    return claims


def test_failures_are_retried_with_backoff_then_dead_lettered_and_retriggered(
    sessions: SessionMaker,
    fast_settings: Settings,
    tenant: NewTenant,
    receiver: Receiver,
    api: TestClient,
) -> None:
    receiver.cues["/calllog"] = [500, "hang", 500]  # then 200
    receiver.cues["/hook"] = [503]
    with unit_of_work(sessions) as session:
        minicrm = add_endpoint(
            session, tenant, kind="minicrm_calllog", url=receiver.url("/calllog"), api_key="K1"
        )
        hook = add_endpoint(session, tenant, kind="webhook", url=receiver.url("/hook"))
        down = add_endpoint(
            session, tenant, kind="webhook", url=f"http://127.0.0.1:{closed_port()}/x"
        )
        campaign, agent = arrange_campaign(session, tenant)
        attempt, _ = finished_call(session, campaign, "+4930111111", agent=agent, talk_seconds=42)
        ids = (minicrm.id, hook.id, down.id, attempt.id)
    minicrm_id, hook_id, down_id, attempt_id = ids
    clock = ManualClock(NOW)
    started = time.monotonic()
    claims = drive(OutboxSender(sessions, fast_settings, clock), clock, sessions)
    elapsed = time.monotonic() - started

    final = {(m.endpoint_id, m.event_type): m for m in messages(sessions)}
    call_log = final[(minicrm_id, "call.finished")]
    assert call_log.status is OutboxStatus.DELIVERED and call_log.attempts == 4
    times = [at for mid, _, at in claims if mid == call_log.id]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps == [10.0, 20.0, 40.0]  # exponential back-off from 10 s
    dead = [m for (e, _), m in final.items() if e == down_id]
    assert dead and all(m.status is OutboxStatus.DEAD and m.attempts == 4 for m in dead)
    assert all("ConnectError" in (m.last_error or "") for m in dead)
    hooks = [m for (e, _), m in final.items() if e == hook_id]
    assert {m.event_type for m in hooks} == {"call.finished", "contact.done"}
    assert all(m.status is OutboxStatus.DELIVERED for m in hooks)

    # The CRM saw the call at least once, in MiniCRM's format, with the agent's extension.
    bodies = receiver.bodies("/calllog")
    assert len(bodies) == 4
    assert bodies[-1] == {
        "ApiKey": "K1",
        "UserExtension": "007",
        "Data": [
            {"Date": "2026-11-23 10:00:00", "Number": "+4930111111", "CallType": 0, "Duration": 42}
        ],
    }
    assert elapsed < 20

    # Dead letters are visible and can be sent again once the CRM is back.
    listed = api.get("/api/v1/crm/outbox", params={"status": "dead"}).json()["items"]
    assert sorted(m["id"] for m in listed) == sorted(m.id for m in dead)
    patched = api.patch(f"/api/v1/crm/endpoints/{down_id}", json={"url": receiver.url("/back")})
    assert patched.status_code == 200, patched.text
    again = api.post("/api/v1/crm/outbox:retrigger", json={"endpoint_id": down_id}).json()
    assert again["retriggered"] == len(dead)
    drive(OutboxSender(sessions, fast_settings, clock), clock, sessions)
    assert {m.status for m in messages(sessions)} == {OutboxStatus.DELIVERED}
    back = receiver.bodies("/back")
    assert {b["type"] for b in back} == {"call.finished", "contact.done"}
    assert next(b for b in back if b["type"] == "call.finished")["data"]["call_attempt_id"] == (
        attempt_id
    )


def test_webhook_bodies_are_signed(
    sessions: SessionMaker, fast_settings: Settings, tenant: NewTenant, receiver: Receiver
) -> None:
    with unit_of_work(sessions) as session:
        hook = add_endpoint(
            session, tenant, kind="webhook", url=receiver.url("/hook"), secret="s" * 32
        )
        campaign, agent = arrange_campaign(session, tenant)
        finished_call(session, campaign, "+4930222222", agent=agent)
        secret = hook.secret
    clock = ManualClock(NOW)
    drive(OutboxSender(sessions, fast_settings, clock), clock, sessions)
    requests = [r for r in receiver.received if r.path == "/hook"]
    assert len(requests) == 2
    for request in requests:
        header = request.headers[SIGNATURE_HEADER]
        assert verify_signature(secret, request.body, header, time.time(), 300)
        assert not verify_signature("other" * 8, request.body, header, time.time(), 300)
        assert not verify_signature(secret, request.body + b" ", header, time.time(), 300)
        assert request.headers["X-Opendialer-Delivery"] == request.json()["id"]


def test_sender_restart_mid_delivery_loses_nothing(
    sessions: SessionMaker, fast_settings: Settings, tenant: NewTenant, receiver: Receiver
) -> None:
    """The first sender dies while the CRM holds its request; the restarted one redelivers
    after the lease, so the CRM sees the same delivery id twice (at-least-once)."""
    receiver.cues["/hook"] = ["hold", "hold"]
    settings = fast_settings.model_copy(update={"outbox_http_timeout_seconds": 30.0})
    with unit_of_work(sessions) as session:
        add_endpoint(session, tenant, kind="webhook", url=receiver.url("/hook"))
        campaign, agent = arrange_campaign(session, tenant)
        finished_call(session, campaign, "+4930333333", agent=agent)
    clock = ManualClock(NOW + timedelta(minutes=1))  # the call has ended: its messages are due

    async def crash_mid_delivery() -> None:
        first = OutboxSender(sessions, settings, clock)
        task = asyncio.create_task(first.run_once())
        async with asyncio.timeout(5):
            while len(receiver.received) < 2:  # both requests are at the CRM, unanswered
                await asyncio.sleep(0.01)
        task.cancel()  # the process dies: no result is recorded
        await asyncio.gather(task, return_exceptions=True)
        await first.aclose()

    asyncio.run(crash_mid_delivery())
    assert {m.status for m in messages(sessions)} == {OutboxStatus.DELIVERING}
    receiver.release.set()

    async def restarted() -> int:
        second = OutboxSender(sessions, settings, clock)
        claimed_in_lease = await second.run_once()
        clock.advance(settings.outbox_lease_seconds)
        claimed_after = await second.run_once()
        await second.aclose()
        return claimed_in_lease * 100 + claimed_after

    assert asyncio.run(restarted()) == 2  # nothing during the lease, both after it
    final = messages(sessions)
    assert {m.status for m in final} == {OutboxStatus.DELIVERED}
    assert [m.attempts for m in final] == [2, 2]
    delivery_ids = [r.headers["X-Opendialer-Delivery"] for r in receiver.received]
    assert sorted(delivery_ids) == sorted(m.delivery_id for m in final for _ in range(2))


def test_batched_endpoint_sends_a_window_in_one_request(
    sessions: SessionMaker, fast_settings: Settings, tenant: NewTenant, receiver: Receiver
) -> None:
    with unit_of_work(sessions) as session:
        add_endpoint(
            session,
            tenant,
            kind="minicrm_calllog",
            url=receiver.url("/calllog"),
            api_key="K",
            batch_interval_seconds=300,
            default_user_extension="100",
        )
        campaign, agent = arrange_campaign(session, tenant)
        for i in range(5):
            finished_call(
                session,
                campaign,
                f"+493044400{i}",
                agent=agent if i % 2 else None,
                started=NOW + timedelta(seconds=20 * i),
            )
    clock = ManualClock(NOW + timedelta(seconds=120))
    sender = OutboxSender(sessions, fast_settings, clock)
    assert asyncio.run(sender.run_once()) == 0  # the 5-minute window is still open
    drive(OutboxSender(sessions, fast_settings, clock), clock, sessions)
    bodies = receiver.bodies("/calllog")
    assert sorted((b["UserExtension"], len(b["Data"])) for b in bodies) == [("007", 2), ("100", 3)]
    missed = [item for b in bodies for item in b["Data"] if item["Duration"] == 0]
    assert len(missed) == 3 and all(item["CallType"] == 0 for item in missed)


def test_server_lifespan_runs_the_sender(
    settings: Settings, tenant: NewTenant, receiver: Receiver
) -> None:
    live = settings.model_copy(update={"outbox_enabled": True, "outbox_poll_seconds": 0.05})
    application = create_app(live)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    try:
        with TestClient(application, headers=headers) as client:
            created = client.post(
                "/api/v1/crm/endpoints",
                json={
                    "name": "hooks",
                    "kind": "webhook",
                    "url": receiver.url("/hook"),
                    "events": ["campaign.started", "campaign.stopped"],
                },
            )
            assert created.status_code == 201, created.text
            campaign = client.post(
                "/api/v1/campaigns", json={"name": "Live", "dial_mode": "progressive"}
            ).json()
            assert client.post(f"/api/v1/campaigns/{campaign['id']}:start").status_code == 200
            assert client.post(f"/api/v1/campaigns/{campaign['id']}:stop").status_code == 200
            deadline = time.monotonic() + 10
            while len(receiver.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        state_of(application).db_engine.dispose()
    # Messages due together are sent together: the CRM may see them in either order.
    bodies = receiver.bodies("/hook")
    assert sorted(b["type"] for b in bodies) == ["campaign.started", "campaign.stopped"]
    assert {b["data"]["campaign_id"] for b in bodies} == {campaign["id"]}
