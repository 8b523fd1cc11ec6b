"""The freeze of issue 17: with a campaign dialling, clients that write must not stop the engine,
the readers, or each other. A real app (its engine on the sim network, simulated agents, the
loop guard on) on SQLite and PostgreSQL; the test asserts progress, never speed."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as clock_time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import SessionMaker, unit_of_work
from opendialer.demo import SimulationSetup, prepare_campaign
from opendialer.models import CallAttempt, Contact, DialMode, Tenant
from opendialer.web.state import state_of
from tests.conftest import make_tenant

DEADLINE = 60.0  # seconds: generous, the machine may be busy; progress is what is asserted


def _attempts(sessions: SessionMaker, campaign_id: int) -> int:
    with unit_of_work(sessions, writes=False) as session:
        stmt = select(func.count()).where(CallAttempt.campaign_id == campaign_id)
        return int(session.scalar(stmt) or 0)


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"no progress: {what}"
        time.sleep(0.1)


@contextmanager
def _patching(client: TestClient, contact_ids: list[int], statuses: list[int]) -> Iterator[None]:
    """Three clients patching contacts of the dialling campaign, as in the issue."""
    stop = threading.Event()

    def patch(offset: int) -> None:
        n = offset
        while not stop.is_set():
            contact_id = contact_ids[n % len(contact_ids)]
            answer = client.patch(f"/api/v1/contacts/{contact_id}", json={"user_data": str(n)})
            statuses.append(answer.status_code)
            n += 3

    threads = [threading.Thread(target=patch, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE)


@contextmanager
def _writer_holding(sessions: SessionMaker, tenant_id: int) -> Iterator[None]:
    """Another writer in the middle of its transaction (it has written, not yet committed)."""
    written, release = threading.Event(), threading.Event()

    def hold() -> None:
        with unit_of_work(sessions, immediate=True) as session:
            session.get_one(Tenant, tenant_id).name = "Held"
            session.flush()
            written.set()
            release.wait(DEADLINE)

    thread = threading.Thread(target=hold)
    thread.start()
    assert written.wait(DEADLINE)
    try:
        yield
    finally:
        release.set()
        thread.join(DEADLINE)


def test_the_engine_and_the_api_keep_going_while_clients_write(
    database_url: str, sessions: SessionMaker
) -> None:
    tenant = make_tenant(sessions, "Busy")
    setup = SimulationSetup(
        agents=4,
        contacts=400,
        dial_mode=DialMode.PREDICTIVE,
        calling_hours=(clock_time(0), clock_time(23, 59, 59)),
    )
    campaign_id = prepare_campaign(sessions, setup, datetime.now(UTC), tenant_id=tenant.tenant.id)
    with unit_of_work(sessions, writes=False) as session:
        contact_ids = list(
            session.scalars(select(Contact.id).where(Contact.campaign_id == campaign_id))
        )
    settings = Settings(
        database_url=database_url,
        default_region="DE",
        engine_enabled=True,
        simulate_agents=True,
        telephony_backend="sim",
        housekeeping_enabled=False,
    )
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    statuses: list[int] = []
    with (
        TestClient(app, headers=headers, raise_server_exceptions=False) as client,
        _patching(client, contact_ids, statuses),
    ):
        _wait_for(lambda: len(statuses) >= 30, "the patching clients")
        before = _attempts(sessions, campaign_id)
        _wait_for(lambda: _attempts(sessions, campaign_id) > before, "the engine under writes")
        with _writer_holding(sessions, tenant.tenant.id):
            # Readers do not wait for a writer, on either database.
            answer = client.get(f"/api/v1/contacts/{contact_ids[0]}")
            assert answer.status_code == 200
            live = client.get(f"/api/v1/campaigns/{campaign_id}/live")
            assert live.status_code == 200
        after_hold = _attempts(sessions, campaign_id)
        seen = len(statuses)
        _wait_for(lambda: _attempts(sessions, campaign_id) > after_hold, "the engine afterwards")
        _wait_for(lambda: len(statuses) > seen + 10, "the writers afterwards")
        engine = live.json()["engine"]
        assert engine["ticks"] > 0 and engine["unwritten_endings"] == 0
    assert statuses and set(statuses) == {200}
    state_of(app).db_engine.dispose()
