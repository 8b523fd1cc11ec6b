"""The engine's way to the database: off the loop, in order, and no write lost to a passing
fault (a real one: a terminated PostgreSQL backend, a SQLite database locked by another
process's connection)."""

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.clock import RealClock
from opendialer.db import (
    SessionMaker,
    after_commit,
    create_db_engine,
    create_sessionmaker,
    unit_of_work,
    writer_gate,
)
from opendialer.engine.campaign_runner import CampaignRunner
from opendialer.engine.database import EngineDatabase
from opendialer.engine.live import LiveCall
from opendialer.engine.outcomes import Ending, start_attempt
from opendialer.engine.runner import Engine, _Unwritten
from opendialer.engine.selection import claim_next
from opendialer.models import CallAttempt, CallOutcome, Tenant
from opendialer.telephony import CallId
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario
from tests.conftest import on_sqlite
from tests.engine.helpers import NOW, make_campaign, make_contact


def _rename(tenant_id: int, name: str, tries: list[int]) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        tries.append(threading.get_ident())
        session.get_one(Tenant, tenant_id).name = name
        session.flush()
        return threading.get_ident()

    return work


def _name(sessions: SessionMaker, tenant_id: int) -> str:
    with unit_of_work(sessions, writes=False) as session:
        return session.get_one(Tenant, tenant_id).name


@contextmanager
def _locked_by_another_process(path: str) -> Iterator[None]:
    """SQLite's write lock held by a connection outside our gate (as another process would)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def _short_busy_sessions(sessions: SessionMaker) -> SessionMaker:
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    return create_sessionmaker(create_db_engine(url, busy_timeout_ms=20))


def test_work_runs_off_the_loop_in_order(sessions: SessionMaker, tenant: NewTenant) -> None:
    db = EngineDatabase(sessions, inline=False)
    tries: list[int] = []

    async def main() -> tuple[list[int], int]:
        ran_on = await asyncio.gather(
            *(db.run(_rename(tenant.tenant.id, f"Name {i}", tries)) for i in range(5))
        )
        await db.close()
        return list(ran_on), threading.get_ident()

    ran_on, loop_thread = asyncio.run(main())
    assert loop_thread not in ran_on and len(set(ran_on)) == 1  # one engine thread
    assert _name(sessions, tenant.tenant.id) == "Name 4"  # submitted last, written last


def test_a_lost_postgresql_connection_is_retried(sessions: SessionMaker, tenant: NewTenant) -> None:
    if on_sqlite(sessions):
        pytest.skip("a server connection to lose")
    tries: list[int] = []
    rename = _rename(tenant.tenant.id, "After the fault", tries)

    def work(session: Session) -> int:
        if not tries:
            tries.append(0)
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return rename(session)

    db = EngineDatabase(sessions, inline=False, retry_delays=(0.01, 0.05))
    asyncio.run(db.run(work))
    assert len(tries) == 2  # the failed try, then the one that wrote
    assert _name(sessions, tenant.tenant.id) == "After the fault"


def test_a_locked_sqlite_database_is_waited_out(sessions: SessionMaker, tenant: NewTenant) -> None:
    if not on_sqlite(sessions):
        pytest.skip("SQLite's file lock")
    short = _short_busy_sessions(sessions)
    db = EngineDatabase(short, inline=False, retry_delays=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6))
    tries: list[int] = []

    async def main() -> None:
        with _locked_by_another_process(str(short.kw["bind"].url.database)):
            task = asyncio.ensure_future(db.run(_rename(tenant.tenant.id, "Waited", tries)))
            while len(tries) < 2:  # a try failed on the lock and another began
                await asyncio.sleep(0.01)
            assert not task.done()
        await asyncio.wait_for(task, timeout=30)
        await db.close()

    asyncio.run(main())
    assert len(tries) >= 2
    assert _name(sessions, tenant.tenant.id) == "Waited"


def test_an_ending_that_cannot_be_written_is_closed_at_the_next_chance(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    if not on_sqlite(sessions):
        pytest.skip("SQLite's file lock keeps the fault on for as long as the test wants")
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant)
        make_contact(session, campaign, "+4930100")
        claim = claim_next(session, campaign, NOW, "t")
        assert claim is not None
        attempt_id, campaign_id = start_attempt(session, campaign, claim, NOW, "t").id, campaign.id
        contact_id = claim.contact_id
    short = _short_busy_sessions(sessions)
    clock = RealClock()
    engine = Engine(short, SimNetwork(clock, Scenario(), seed=1), clock, engine_id="t")
    engine.db.retry_delays = (0.01, 0.01)
    call = LiveCall(CallId("c1"), campaign_id, attempt_id, contact_id, dialled_at=0.0)
    ending = Ending(CallOutcome.NO_ANSWER, NOW, 480, 19)

    async def main() -> None:
        runner = await CampaignRunner.start(engine, campaign_id)
        with _locked_by_another_process(str(short.kw["bind"].url.database)):
            await engine._close_attempt(_Unwritten(runner, call, ending, None))
            assert engine.unwritten == 1  # kept, not lost
        await engine.close_unwritten()  # the next tick's try
        assert engine.unwritten == 0
        await engine.db.close()

    asyncio.run(main())
    with unit_of_work(sessions, writes=False) as session:
        attempt = session.get_one(CallAttempt, attempt_id)
        assert attempt.outcome is CallOutcome.NO_ANSWER and attempt.ended_at is not None


def test_a_lease_renewal_never_waits_for_the_engines_queued_work(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """The engine's thread is held busy, with more work queued behind it: a renewal still runs
    (its own thread and connection), and the queue keeps its order."""
    db = EngineDatabase(sessions, inline=False)
    held, release = threading.Event(), threading.Event()

    def hold(_session: Session) -> None:
        held.set()
        release.wait(60)

    queued: list[int] = []

    async def main() -> None:
        busy = asyncio.ensure_future(db.run(hold, writes=False))
        behind = [asyncio.ensure_future(db.run(_rename(tenant.tenant.id, "Queued", queued)))]
        await asyncio.to_thread(held.wait, 30)
        try:
            await asyncio.wait_for(db.renew(_rename(tenant.tenant.id, "Renewed", [])), 30)
            assert not busy.done() and not queued  # the engine's thread is still held
            assert _name(sessions, tenant.tenant.id) == "Renewed"
        finally:
            release.set()
        await asyncio.wait_for(asyncio.gather(busy, *behind), 30)
        await db.close()

    asyncio.run(main())
    assert len(queued) == 1 and _name(sessions, tenant.tenant.id) == "Queued"


def test_a_lease_renewal_takes_the_sqlite_writer_gate_ahead_of_waiting_writers(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    gate = writer_gate(sessions)
    if gate is None:
        pytest.skip("the writer gate is SQLite's")
    db = EngineDatabase(sessions, inline=False)
    order: list[str] = []

    def write(name: str) -> Callable[[Session], None]:
        def work(session: Session) -> None:
            _rename(tenant.tenant.id, name, [])(session)
            order.append(name)

        return work

    async def wait_for_waiters(count: int) -> None:
        for _ in range(3000):  # a bounded wait for the waiter to queue
            if gate.waiting >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the writer never queued")

    async def main() -> None:
        gate.acquire()
        try:
            writer = asyncio.ensure_future(db.run(write("ordinary")))
            await wait_for_waiters(1)
            renewal = asyncio.ensure_future(db.renew(write("renewal")))
            await wait_for_waiters(2)
        finally:
            gate.release()
        await asyncio.wait_for(asyncio.gather(writer, renewal), 30)
        await db.close()

    asyncio.run(main())
    assert order == ["renewal", "ordinary"]


def _pool_checkouts(sessions: SessionMaker) -> list[object]:
    """The DBAPI connections checked out of the pool from now on (a listener)."""
    taken: list[object] = []

    def checkout(dbapi_connection: object, *_args: object) -> None:
        taken.append(dbapi_connection)

    event.listen(sessions.kw["bind"], "checkout", checkout)
    return taken


def test_the_engines_transactions_keep_one_connection_and_give_the_gate_back_after_each(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """On SQLite the engine's thread keeps its connection across transactions, reads and
    writes alike (no checkout after the first), and after each the writer gate is free:
    another writer's turn comes between two of the engine's transactions, and it sees what
    the first committed."""
    if not on_sqlite(sessions):
        pytest.skip("the kept connection is SQLite's")
    db = EngineDatabase(sessions, inline=True)
    gate = writer_gate(sessions)
    assert gate is not None
    taken = _pool_checkouts(sessions)
    tenant_id = tenant.tenant.id
    try:
        for name in ("First", "Second", "Third"):
            db._with_retries(_rename(tenant_id, name, []), True)
            assert not gate.held
            assert db._with_retries(lambda s: s.get_one(Tenant, tenant_id).name, False) == name
            other_writer = threading.Thread(
                target=_rename_in_own_transaction, args=(sessions, tenant_id, name + "!")
            )
            other_writer.start()
            other_writer.join(timeout=10)
            assert not other_writer.is_alive()
            assert _name(sessions, tenant_id) == name + "!"
        kept = taken[0]  # one connection for writes and reads (one page cache), checked out once
        assert taken.count(kept) == 1, taken
    finally:
        asyncio.run(db.close())
    assert not gate.held


def _rename_in_own_transaction(sessions: SessionMaker, tenant_id: int, name: str) -> None:
    with unit_of_work(sessions) as session:
        session.get_one(Tenant, tenant_id).name = name


def test_a_failed_engine_transaction_gives_its_connection_back_and_the_next_takes_another(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    if not on_sqlite(sessions):
        pytest.skip("the kept connection is SQLite's")
    db = EngineDatabase(sessions, inline=True)
    gate = writer_gate(sessions)
    assert gate is not None
    taken = _pool_checkouts(sessions)
    tenant_id = tenant.tenant.id

    def rename_then_fail(session: Session) -> None:
        _rename(tenant_id, "Lost", [])(session)
        raise LookupError("the work failed")

    try:
        db._with_retries(_rename(tenant_id, "Kept", []), True)
        with pytest.raises(LookupError):
            db._with_retries(rename_then_fail, True)
        assert not gate.held
        assert _name(sessions, tenant_id) == "Kept"  # rolled back
        checked_out = len(taken)
        db._with_retries(_rename(tenant_id, "After", []), True)
        assert len(taken) == checked_out + 1  # a new connection, kept from now on
        db._with_retries(_rename(tenant_id, "Later", []), True)
        assert len(taken) == checked_out + 1
        assert _name(sessions, tenant_id) == "Later"
    finally:
        asyncio.run(db.close())
    assert not gate.held


def test_a_transaction_an_after_commit_action_starts_takes_a_pooled_connection(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Inline, an action run after a commit may start another engine transaction while the
    first's session is still closing: it runs on a pooled connection of its own."""
    db = EngineDatabase(sessions, inline=True)
    tenant_id = tenant.tenant.id
    seen: list[str] = []

    def rename_then_read(session: Session) -> None:
        _rename(tenant_id, "Renamed", [])(session)
        read = partial(db._with_retries, lambda s: s.get_one(Tenant, tenant_id).name, False)
        after_commit(session, lambda: seen.append(read()))

    try:
        db._with_retries(rename_then_read, True)
        db._with_retries(_rename(tenant_id, "Again", []), True)
    finally:
        asyncio.run(db.close())
    assert seen == ["Renamed"]
    assert _name(sessions, tenant_id) == "Again"
