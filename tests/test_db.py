"""run_unit_of_work: where the work runs, and that it is one transaction."""

import asyncio
import threading
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.db import SessionMaker, _sqlite_writer, after_commit, run_unit_of_work, unit_of_work
from opendialer.models import Tenant


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
