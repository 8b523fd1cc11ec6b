"""run_unit_of_work: where the work runs, and that it is one transaction."""

import asyncio
import threading
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import (
    SessionMaker,
    _sqlite_writer,
    after_commit,
    create_db_engine,
    is_sqlite,
    run_unit_of_work,
    unit_of_work,
)
from opendialer.models import Tenant
from tests.conftest import _pg_admin_dsn


def _is_sqlite(sessions: SessionMaker) -> bool:
    return bool(sessions.kw["bind"].dialect.name == "sqlite")


def _rename(tenant_id: int, name: str) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        session.get_one(Tenant, tenant_id).name = name
        session.flush()
        return threading.get_ident()

    return work


def _name(sessions: SessionMaker, tenant_id: int) -> str:
    with sessions() as session:
        return session.get_one(Tenant, tenant_id).name


def test_a_quick_write_runs_on_the_loop_thread_on_sqlite_only(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    async def main() -> tuple[int, int]:
        ran_on = await run_unit_of_work(
            sessions, _rename(tenant.tenant.id, "Renamed"), writes=True, quick=True
        )
        return ran_on, threading.get_ident()

    ran_on, loop_thread = asyncio.run(main())
    assert (ran_on == loop_thread) is _is_sqlite(sessions)
    assert _name(sessions, tenant.tenant.id) == "Renamed"


def test_a_long_unit_runs_in_a_worker_thread(sessions: SessionMaker, tenant: NewTenant) -> None:
    async def main() -> tuple[int, int]:
        ran_on = await run_unit_of_work(
            sessions, _rename(tenant.tenant.id, "Long"), writes=True, quick=False
        )
        return ran_on, threading.get_ident()

    ran_on, loop_thread = asyncio.run(main())
    assert ran_on != loop_thread
    assert _name(sessions, tenant.tenant.id) == "Long"


def test_a_quick_write_waits_for_another_writer_off_the_loop(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    if not _is_sqlite(sessions):
        pytest.skip("the writer lock is SQLite's")
    writer = _sqlite_writer(sessions)
    assert writer is not None

    async def main() -> tuple[int, int, int]:
        writer.acquire()  # another thread's long write holds the writer
        ticks = 0
        task = asyncio.create_task(
            run_unit_of_work(sessions, _rename(tenant.tenant.id, "After"), writes=True, quick=True)
        )
        for _ in range(5):  # the loop keeps running while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done()
        writer.release()
        ran_on = await asyncio.wait_for(task, timeout=10)
        return ran_on, threading.get_ident(), ticks

    ran_on, loop_thread, ticks = asyncio.run(main())
    assert ticks == 5
    assert ran_on != loop_thread
    assert _name(sessions, tenant.tenant.id) == "After"


def test_a_failing_unit_writes_nothing(sessions: SessionMaker, tenant: NewTenant) -> None:
    rename = _rename(tenant.tenant.id, "Half-written")

    def work(session: Session) -> None:
        rename(session)
        raise ValueError("late failure")

    for quick in (True, False):
        with pytest.raises(ValueError, match="late failure"):
            asyncio.run(run_unit_of_work(sessions, work, writes=True, quick=quick))
    assert _name(sessions, tenant.tenant.id) == tenant.tenant.name


def test_after_commit_runs_once_the_commit_is_done_and_never_on_rollback(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    seen: list[str] = []
    with unit_of_work(sessions) as session:
        session.get_one(Tenant, tenant.tenant.id).name = "Committed"
        after_commit(session, lambda: seen.append(_name(sessions, tenant.tenant.id)))
        assert seen == []
    assert seen == ["Committed"]  # it saw the committed row
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        after_commit(session, lambda: seen.append("rolled back"))
        raise RuntimeError("the request failed")
    assert seen == ["Committed"]


def _pooled_backend_killed(url: str, ping_after_idle: float) -> Engine:
    """An engine whose only pooled connection's server process has been terminated."""
    engine = create_db_engine(url, ping_after_idle=ping_after_idle, pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(_pg_admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_pooled_connection_is_checked_and_replaced(database_url: str) -> None:
    if is_sqlite(database_url):
        pytest.skip("SQLite has no server connections")
    engine = _pooled_backend_killed(database_url, ping_after_idle=0.0)
    try:
        assert _backend_pid(engine) > 0
    finally:
        engine.dispose()


def test_a_connection_used_moments_ago_is_not_pinged(database_url: str) -> None:
    """The converse, which shows the check above is the idle ping's doing: without it the
    dead connection is handed out (the pool drops it once the error is seen)."""
    if is_sqlite(database_url):
        pytest.skip("SQLite has no server connections")
    engine = _pooled_backend_killed(database_url, ping_after_idle=3600.0)
    try:
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) > 0
    finally:
        engine.dispose()
