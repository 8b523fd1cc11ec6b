"""The unit of work: where it runs, that it is one transaction, and SQLite's writer discipline."""

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import (
    LoopBlocked,
    SessionMaker,
    WriterBusy,
    WriterGate,
    after_commit,
    create_db_engine,
    create_sessionmaker,
    is_sqlite,
    run_unit_of_work,
    transaction_memo,
    unit_of_work,
    writer_gate,
)
from opendialer.models import Tenant
from tests.conftest import _pg_admin_dsn, on_sqlite


def _rename(tenant_id: int, name: str) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        session.get_one(Tenant, tenant_id).name = name
        session.flush()
        return threading.get_ident()

    return work


def _name(sessions: SessionMaker, tenant_id: int) -> str:
    with sessions() as session:
        return session.get_one(Tenant, tenant_id).name


def test_every_unit_runs_in_a_worker_thread(sessions: SessionMaker, tenant: NewTenant) -> None:
    async def main() -> tuple[int, int, int]:
        wrote_on = await run_unit_of_work(sessions, _rename(tenant.tenant.id, "Long"), writes=True)
        read_on = await run_unit_of_work(
            sessions, lambda _session: threading.get_ident(), writes=False
        )
        return wrote_on, read_on, threading.get_ident()

    wrote_on, read_on, loop_thread = asyncio.run(main())
    assert loop_thread not in (wrote_on, read_on)
    assert _name(sessions, tenant.tenant.id) == "Long"


def test_a_write_waits_for_another_writer_off_the_loop(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    gate = writer_gate(sessions)
    if gate is None:
        pytest.skip("the writer gate is SQLite's")

    async def main() -> tuple[int, int, int]:
        gate.acquire()  # another thread's long write holds the writer
        ticks = 0
        task = asyncio.create_task(
            run_unit_of_work(sessions, _rename(tenant.tenant.id, "After"), writes=True)
        )
        for _ in range(5):  # the loop keeps running while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done()
        gate.release()
        ran_on = await asyncio.wait_for(task, timeout=10)
        return ran_on, threading.get_ident(), ticks

    ran_on, loop_thread, ticks = asyncio.run(main())
    assert ticks == 5
    assert ran_on != loop_thread
    assert _name(sessions, tenant.tenant.id) == "After"
    assert not gate.held


def test_a_failing_unit_writes_nothing(sessions: SessionMaker, tenant: NewTenant) -> None:
    rename = _rename(tenant.tenant.id, "Half-written")

    def work(session: Session) -> None:
        rename(session)
        raise ValueError("late failure")

    with pytest.raises(ValueError, match="late failure"):
        asyncio.run(run_unit_of_work(sessions, work, writes=True))
    assert _name(sessions, tenant.tenant.id) == tenant.tenant.name
    gate = writer_gate(sessions)
    assert gate is None or not gate.held


def _sqlite_path(sessions: SessionMaker) -> str:
    database = sessions.kw["bind"].url.database
    assert database
    return str(database)


def _other_connection_can_write(path: str) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return False
    finally:
        other.close()


def test_an_immediate_writer_holds_the_write_lock_from_its_first_statement(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """BEGIN IMMEDIATE: a writer never has to upgrade a read snapshot (and fail) later on."""
    if not on_sqlite(sessions):
        pytest.skip("SQLite's locking")
    path = _sqlite_path(sessions)
    gate = writer_gate(sessions)
    assert gate is not None
    with unit_of_work(sessions, immediate=True) as session:
        session.get_one(Tenant, tenant.tenant.id)  # reads only, so far
        assert gate.held and not _other_connection_can_write(path)
    assert not gate.held

    def check(session: Session) -> bool:
        session.get_one(Tenant, tenant.tenant.id)
        return _other_connection_can_write(path)

    assert asyncio.run(run_unit_of_work(sessions, check, writes=True)) is False
    assert asyncio.run(run_unit_of_work(sessions, check, writes=False)) is True
    assert not gate.held


def test_a_plain_writer_takes_the_gate_at_its_first_write(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    gate = writer_gate(sessions)
    if gate is None:
        pytest.skip("the writer gate is SQLite's")
    with unit_of_work(sessions) as session:
        row = session.get_one(Tenant, tenant.tenant.id)
        assert not gate.held  # reads take no gate
        row.name = "Written"
        session.flush()
        assert gate.held
    assert not gate.held
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        session.get_one(Tenant, tenant.tenant.id).name = "Rolled back"
        session.flush()
        raise RuntimeError("failed")
    assert not gate.held
    assert _name(sessions, tenant.tenant.id) == "Written"


def test_the_gate_is_first_come_first_served_and_skips_a_cancelled_waiter() -> None:
    gate = WriterGate()
    order: list[str] = []

    async def writer(name: str) -> None:
        await gate.acquire_async()
        order.append(name)
        await asyncio.sleep(0)
        gate.release()

    async def main() -> None:
        gate.acquire()
        first = asyncio.create_task(writer("first"))
        left = asyncio.create_task(writer("left"))
        second = asyncio.create_task(writer("second"))
        await asyncio.sleep(0.01)
        left.cancel()
        await asyncio.sleep(0.01)
        gate.release()
        await asyncio.wait_for(asyncio.gather(first, second), timeout=5)

    asyncio.run(main())
    assert order == ["first", "second"]
    assert not gate.held


def test_a_place_released_on_the_waiters_loop_is_granted_without_waking_the_loop() -> None:
    """A request's end releases the gate on the loop its next waiter waits on: the grant is a
    plain callback there, not a wake-up through the loop's self-pipe (a thread's grant)."""
    gate = WriterGate()
    woken: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        threadsafe = loop.call_soon_threadsafe

        def waking(callback: Callable[..., object], *args: Any) -> asyncio.Handle:
            woken.append(getattr(callback, "__name__", "?"))
            return threadsafe(callback, *args)

        loop.call_soon_threadsafe = waking  # type: ignore[method-assign, assignment]
        await gate.acquire_async()
        waiter = asyncio.create_task(gate.acquire_async())
        await asyncio.sleep(0)
        gate.release()  # on the loop: the waiter's turn
        await asyncio.wait_for(waiter, timeout=5)
        assert gate.held
        await asyncio.to_thread(gate.release)  # from a thread: nobody waits, nothing to wake

        await gate.acquire_async()
        from_thread = asyncio.create_task(gate.acquire_async())
        await asyncio.sleep(0)
        await asyncio.to_thread(gate.release)  # from a thread: the loop is woken
        await asyncio.wait_for(from_thread, timeout=5)
        gate.release()

    asyncio.run(main())
    assert woken.count("_grant") == 1  # the thread's grant only
    assert not gate.held


def test_a_waiter_gives_up_with_a_clear_error_and_leaves_the_queue() -> None:
    gate = WriterGate()
    gate.acquire()
    with pytest.raises(WriterBusy, match="busy"):
        gate.acquire(timeout=0.05)

    async def wait_on_the_loop() -> None:
        await gate.acquire_async(timeout=0.05)

    with pytest.raises(WriterBusy, match="busy"):
        asyncio.run(wait_on_the_loop())
    gate.release()
    assert not gate.held


def test_the_server_refuses_database_work_on_the_event_loop(database_url: str) -> None:
    """The class of the freeze: any path that would wait for the database on the loop fails
    loudly in tests instead of stalling the server in production."""
    engine = create_db_engine(database_url, forbid_on_loop=True)
    sessions = create_sessionmaker(engine)

    def read(session: Session) -> int:
        return int(session.execute(text("SELECT 1")).scalar_one())

    async def on_the_loop() -> int:
        with unit_of_work(sessions, writes=False) as session:
            return read(session)

    async def off_the_loop() -> int:
        return await run_unit_of_work(sessions, read, writes=False)

    try:
        with pytest.raises(LoopBlocked):
            asyncio.run(on_the_loop())
        assert asyncio.run(off_the_loop()) == 1
        with unit_of_work(sessions, writes=False) as session:  # no loop at all: fine
            assert read(session) == 1
    finally:
        engine.dispose()


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


def test_a_transaction_memo_lasts_as_long_as_its_transaction(sessions: SessionMaker) -> None:
    session = sessions()
    try:
        assert transaction_memo(session) is None  # no transaction yet
        session.execute(text("SELECT 1"))  # begins one
        memo = transaction_memo(session)
        assert memo is not None
        memo["read"] = 1
        assert transaction_memo(session) is memo
        with session.begin_nested():  # a savepoint is still the same transaction
            assert transaction_memo(session) is memo
        session.commit()
        assert transaction_memo(session) is None
        session.execute(text("SELECT 1"))
        assert transaction_memo(session) == {}  # the next transaction starts empty
        session.rollback()
        session.execute(text("SELECT 1"))
        assert transaction_memo(session) == {}
    finally:
        session.close()


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
