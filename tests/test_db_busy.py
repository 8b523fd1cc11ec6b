"""A caller that waits too long for the database answers 503 with Retry-After, in each face's
own vocabulary, and the message says what it waited for (db.py's queues, errors.DatabaseBusy)."""

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.campaigns.codes import CodeKey
from opendialer.config import Settings
from opendialer.db import (
    ConnectionsBusy,
    SessionMaker,
    connection_slot,
    create_db_engine,
    create_sessionmaker,
    unit_of_work,
)
from opendialer.models import Contact, DialMode, Tenant
from opendialer.web.state import state_of
from tests.dialects.voicenter.conftest import add_campaign

WAIT = 0.3  # seconds a request queues here before it gives up


@contextmanager
def writer_held(sessions: SessionMaker, tenant_id: int) -> Iterator[None]:
    """Another writer of the same database, in its own thread, mid-transaction for the block."""
    holding, finish = threading.Event(), threading.Event()

    def write() -> None:
        with unit_of_work(sessions) as session:
            session.get_one(Tenant, tenant_id).name = "Busy"
            session.flush()  # the first write statement: it holds the writer from here
            holding.set()
            finish.wait(30)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        finish.set()
        writer.join(30)


def _contacts(sessions: SessionMaker) -> int:
    with unit_of_work(sessions, writes=False) as session:
        return int(session.scalar(select(func.count()).select_from(Contact)) or 0)


def test_writers_that_wait_too_long_answer_503_in_their_face_s_envelope(
    settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    if settings.database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL has no writer queue: its writers wait on row locks")
    impatient = settings.model_copy(update={"database_wait_seconds": WAIT})
    app = create_app(impatient)
    key = CodeKey(impatient.secret_key.get_secret_value())
    campaign_id, code = add_campaign(sessions, tenant.tenant.id, "Busy", DialMode.PREDICTIVE, key)
    native = f"/api/v1/campaigns/{campaign_id}/contacts"
    add_call = {"Campaign": code, "Target": "030 1234567"}
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    try:
        with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
            with writer_held(sessions, tenant.tenant.id):
                created = client.post(native, json={"phones": ["030 1234567"]})
                voicenter = client.post("/ForwardDialer/Dialer/AddCall", json=add_call)
            assert created.status_code == 503, created.text
            assert created.headers["Retry-After"] == "1"
            error = created.json()["error"]
            assert error["code"] == "database_busy"
            assert "busy with other writes" in error["message"]
            assert voicenter.status_code == 503, voicenter.text
            assert voicenter.headers["Retry-After"] == "1"
            assert voicenter.json()["ErrorCode"] == -1
            assert "busy with other writes" in voicenter.json()["Description"]
            assert _contacts(sessions) == 0  # nothing half-written
            # The writer is gone: the same requests go through, once each.
            assert client.post(native, json={"phones": ["030 1234567"]}).status_code == 201
            assert client.post("/ForwardDialer/Dialer/AddCall", json=add_call).json() == {
                "ErrorCode": 0,
                "Description": "OK",
            }
            assert _contacts(sessions) == 2
    finally:
        state_of(app).db_engine.dispose()


def test_a_wait_for_a_connection_says_so(database_url: str) -> None:
    """Not every wait is for the writer: a caller that finds every connection taken says that."""
    engine = create_db_engine(database_url, pool_size=4, async_wait=WAIT)  # 3 async places
    sessions = create_sessionmaker(engine)
    holders_in: list[int] = []
    taken, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with connection_slot(sessions):
            holders_in.append(1)
            if len(holders_in) == 3:
                taken.set()
            await done.wait()

    async def main() -> str:
        holders = [asyncio.create_task(hold()) for _ in range(3)]
        await taken.wait()
        try:
            with pytest.raises(ConnectionsBusy) as busy:
                async with connection_slot(sessions):
                    pass
        finally:
            done.set()
            await asyncio.gather(*holders)
        async with connection_slot(sessions):  # free again
            return busy.value.message

    try:
        message = asyncio.run(main())
    finally:
        engine.dispose()
    assert "connection" in message and "writes" not in message
