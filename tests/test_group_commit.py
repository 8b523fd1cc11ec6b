"""Group commit of SQLite writers (opendialer.db.GroupCommit): the writers queued at a moment
run in one transaction, each in a savepoint of its own. A writer that fails is rolled back
alone and gets its own error; a group that cannot commit fails every writer and writes nothing;
after-commit actions run once per committed writer, never for a rolled-back one; no write is
lost or written twice under many concurrent clients."""

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.campaigns.codes import CodeKey
from opendialer.config import Settings
from opendialer.db import (
    GroupCommit,
    SessionMaker,
    after_commit,
    create_db_engine,
    create_sessionmaker,
    group_commit,
    run_unit_of_work,
    unit_of_work,
    writer_gate,
)
from opendialer.errors import DatabaseBusy
from opendialer.models import Contact, DialMode, DncEntry
from opendialer.web.db import DbSession
from opendialer.web.routes import OneTripRoute
from opendialer.web.state import state_of
from tests.dialects.voicenter.conftest import add_campaign


def _sqlite_only(sessions: SessionMaker) -> None:
    if writer_gate(sessions) is None:
        pytest.skip("group commit is SQLite's (PostgreSQL has no writer gate)")


def _numbers(sessions: SessionMaker) -> list[str]:
    with unit_of_work(sessions, writes=False) as session:
        return sorted(session.scalars(select(DncEntry.e164)))


def _add(
    tenant_id: int, e164: str, fired: list[str], fail: bool = False
) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.add(DncEntry(tenant_id=tenant_id, e164=e164))
        after_commit(session, lambda: fired.append(e164))
        session.flush()  # a duplicate fails here (IntegrityError)
        if fail:
            raise ValueError(f"{e164} failed after its write")
        return e164

    return work


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the writers never queued")


def _group(sessions: SessionMaker) -> GroupCommit:
    group = group_commit(sessions)
    assert group is not None
    return group


def test_a_failing_writer_is_rolled_back_alone_and_gets_its_own_error(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    _sqlite_only(sessions)
    tenant_id, fired = tenant.tenant.id, list[str]()
    asyncio.run(run_unit_of_work(sessions, _add(tenant_id, "+49301", []), writes=True))
    gate = writer_gate(sessions)
    assert gate is not None
    group = _group(sessions)

    async def main() -> list[Any]:
        gate.acquire()  # another writer holds the database: the four queue meanwhile
        groups, writers = group.groups, group.writers
        works = [
            _add(tenant_id, "+49302", fired),
            _add(tenant_id, "+49301", fired),  # a duplicate: violates the unique index
            _add(tenant_id, "+49303", fired, fail=True),  # raises after its write
            _add(tenant_id, "+49304", fired),
        ]
        tasks = [
            asyncio.create_task(run_unit_of_work(sessions, work, writes=True)) for work in works
        ]
        await _until(lambda: group.queued == 4)
        gate.release()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert (group.groups - groups, group.writers - writers) == (1, 4)  # one group of four
        return results

    results = asyncio.run(main())
    assert results[0] == "+49302" and results[3] == "+49304"
    assert isinstance(results[1], IntegrityError)
    assert isinstance(results[2], ValueError) and "+49303" in str(results[2])
    assert _numbers(sessions) == ["+49301", "+49302", "+49304"]
    assert sorted(fired) == ["+49302", "+49304"]  # once each, never for a rolled-back writer
    assert not gate.held


_HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
"""


def test_a_group_that_cannot_commit_fails_every_writer_and_writes_nothing(
    database_url: str, tenant: NewTenant
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("group commit is SQLite's")
    engine = create_db_engine(database_url, busy_timeout_ms=200, async_wait=30)
    sessions = create_sessionmaker(engine)
    gate = writer_gate(sessions)
    assert gate is not None and engine.url.database
    fired: list[str] = []
    # Another process holds SQLite's write lock past the busy timeout (200 ms here).
    other = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, engine.url.database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "locked"

        async def main() -> list[Any]:
            gate.acquire()  # released below: the three queue meanwhile
            works = [_add(tenant.tenant.id, f"+4930{n}", fired) for n in range(3)]
            tasks = [
                asyncio.create_task(run_unit_of_work(sessions, work, writes=True)) for work in works
            ]
            await _until(lambda: group_commit(sessions) is not None)
            group = _group(sessions)
            await _until(lambda: group.queued == 3)
            gate.release()
            return await asyncio.gather(*tasks, return_exceptions=True)

        results = asyncio.run(main())
    finally:
        other.communicate("", timeout=30)
        engine.dispose()
    assert all(isinstance(result, DatabaseBusy) for result in results), results
    assert all(result.status_code == 503 for result in results)
    assert all(result.headers == {"Retry-After": "1"} for result in results)
    assert fired == []
    with unit_of_work(create_sessionmaker(create_db_engine(database_url)), writes=False) as s:
        assert s.scalar(select(func.count()).select_from(DncEntry)) == 0


class _Added(BaseModel):
    e164: str


def _dnc_router(fired: list[str]) -> APIRouter:
    router = APIRouter(route_class=OneTripRoute)

    @router.post("/dnc/{tenant_id}/{e164}", response_model=_Added)
    def add(session: DbSession, tenant_id: int, e164: str, answer: str = "valid") -> Any:
        session.add(DncEntry(tenant_id=tenant_id, e164=e164))
        after_commit(session, lambda: fired.append(e164))
        session.flush()
        if answer == "raise":
            raise ValueError("the endpoint failed after its write")
        return {"e164": e164} if answer == "valid" else {"number": e164}

    return router


@pytest.fixture
def dnc_app(settings: Settings) -> Iterator[tuple[FastAPI, list[str]]]:
    fired: list[str] = []
    app = create_app(settings)
    app.include_router(_dnc_router(fired), prefix="/test")
    yield app, fired
    state_of(app).db_engine.dispose()


def test_requests_of_one_group_fail_alone_over_http(
    dnc_app: tuple[FastAPI, list[str]], sessions: SessionMaker, tenant: NewTenant
) -> None:
    _sqlite_only(sessions)
    app, fired = dnc_app
    tenant_id = tenant.tenant.id
    gate = writer_gate(sessions)
    assert gate is not None
    cases = [
        ("+49302", "valid", 200),
        ("+49301", "valid", 409),  # a duplicate of the row written first: a constraint
        ("+49303", "raise", 500),
        ("+49304", "invalid", 500),  # an answer that does not match its model
        ("+49305", "valid", 200),
    ]
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post(f"/test/dnc/{tenant_id}/+49301").status_code == 200
        group = _group(state_of(app).sessions)
        groups, writers = group.groups, group.writers
        gate.acquire()
        with ThreadPoolExecutor(len(cases)) as pool:
            answers = [
                pool.submit(client.post, f"/test/dnc/{tenant_id}/{e164}", params={"answer": a})
                for e164, a, _status in cases
            ]
            deadline = time.monotonic() + 10
            while group.queued < len(cases) and time.monotonic() < deadline:
                time.sleep(0.005)
            gate.release()
            statuses = [answer.result().status_code for answer in answers]
    assert statuses == [status for _e164, _answer, status in cases]
    assert (group.groups - groups, group.writers - writers) == (1, len(cases))
    assert _numbers(sessions) == ["+49301", "+49302", "+49305"]
    assert sorted(fired) == ["+49301", "+49302", "+49305"]


def test_many_concurrent_writers_lose_nothing_and_write_nothing_twice(
    settings: Settings, sessions: SessionMaker, tenant: NewTenant
) -> None:
    """AddCall over HTTP from 16 threads and ``run_unit_of_work`` from 200 tasks at once."""
    key = CodeKey(settings.secret_key.get_secret_value())
    _campaign_id, code = add_campaign(sessions, tenant.tenant.id, "C", DialMode.PREDICTIVE, key)
    app = create_app(settings)
    try:
        with TestClient(app) as client:

            def add_calls(thread: int) -> list[int]:
                return [
                    client.post(
                        "/ForwardDialer/Dialer/AddCall",
                        json={"Campaign": code, "Target": f"030 {thread:03d}{n:04d}"},
                    ).json()["ErrorCode"]
                    for n in range(15)
                ]

            with ThreadPoolExecutor(16) as pool:
                codes = [c for answers in pool.map(add_calls, range(16)) for c in answers]
    finally:
        state_of(app).db_engine.dispose()
    assert codes == [0] * 240
    with unit_of_work(sessions, writes=False) as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 240

    fired: list[str] = []
    numbers = [f"+4940{n:05d}" for n in range(200)]

    async def main() -> list[Any]:
        works = [_add(tenant.tenant.id, e164, fired) for e164 in numbers]
        works += [_add(tenant.tenant.id, e164, fired) for e164 in numbers[:20]]  # duplicates
        return await asyncio.gather(
            *(run_unit_of_work(sessions, work, writes=True) for work in works),
            return_exceptions=True,
        )

    results = asyncio.run(main())
    written = [result for result in results if isinstance(result, str)]
    assert sorted(written) == numbers  # each number once: 20 duplicates refused, whichever
    assert sum(isinstance(result, IntegrityError) for result in results) == 20
    assert _numbers(sessions) == numbers
    assert sorted(fired) == numbers
    assert threading.active_count() < 100


def test_writers_that_wait_too_long_leave_the_queue_and_the_next_one_leads(
    database_url: str, tenant: NewTenant
) -> None:
    """The leader and the writers queued behind it each give up after the wait (503), the
    queue is left empty, and the next writer leads a group of its own."""
    if not database_url.startswith("sqlite"):
        pytest.skip("group commit is SQLite's")
    engine = create_db_engine(database_url, async_wait=0.3)
    sessions = create_sessionmaker(engine)
    gate = writer_gate(sessions)
    assert gate is not None
    fired: list[str] = []

    async def main() -> tuple[list[Any], str]:
        gate.acquire()
        try:
            works = [_add(tenant.tenant.id, f"+4930{n}", fired) for n in range(3)]
            results = await asyncio.gather(
                *(run_unit_of_work(sessions, work, writes=True) for work in works),
                return_exceptions=True,
            )
            assert _group(sessions).queued == 0
        finally:
            gate.release()
        last = _add(tenant.tenant.id, "+49309", fired)
        after = await run_unit_of_work(sessions, last, writes=True)
        return results, after

    try:
        results, after = asyncio.run(main())
    finally:
        engine.dispose()
    assert [type(result).__name__ for result in results] == ["WriterBusy"] * 3
    assert all("busy with other writes" in str(result) for result in results)
    assert after == "+49309"
    assert fired == ["+49309"]
