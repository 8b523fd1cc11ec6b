"""The connection pool under bursts: async callers queue for a place on the loop, so a burst
never opens connections beyond what the pool keeps (each costs PostgreSQL a new server process)."""

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.app import create_app
from opendialer.config import Settings
from opendialer.db import (
    Gate,
    SessionMaker,
    connection_slot,
    connection_slots,
    create_db_engine,
    create_sessionmaker,
    run_unit_of_work,
)
from opendialer.web.state import state_of

POOL = 4  # connections kept: three places for async callers, one for background threads
PLACES = 3


@pytest.fixture
def small_pool(database_url: str) -> Iterator[SessionMaker]:
    engine = create_db_engine(database_url, pool_size=POOL, forbid_on_loop=True)
    try:
        yield create_sessionmaker(engine)
    finally:
        engine.dispose()


def _connections_opened(engine: Engine) -> list[int]:
    opened = [0]

    def count(*_args: object) -> None:
        opened[0] += 1

    event.listen(engine, "connect", count)
    return opened


def _until_one_waits(gate: Gate) -> None:
    deadline = time.monotonic() + 30
    while gate.waiting == 0:
        assert time.monotonic() < deadline, "nobody queued for the gate"
        time.sleep(0.01)


class _Concurrency:
    """Work that records how many run at once, and waits until ``PLACES`` of them do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(PLACES, timeout=30)
        self.running = 0
        self.most = 0

    def work(self, session: Session) -> int:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self._barrier.wait()  # fails if fewer than PLACES could run together
            value = int(session.execute(text("SELECT 1")).scalar_one())
            # each holds its connection until all have one: a burst needs PLACES connections
            # however the threads are scheduled
            self._barrier.wait()
            return value
        finally:
            with self._lock:
                self.running -= 1


def test_the_gate_lets_capacity_holders_in_and_queues_the_next() -> None:
    gate = Gate(capacity=2)
    gate.acquire()
    gate.acquire()
    assert gate.held
    granted = threading.Event()

    def wait_for_a_place() -> None:
        gate.acquire(timeout=30)
        granted.set()

    waiter = threading.Thread(target=wait_for_a_place)
    waiter.start()
    _until_one_waits(gate)
    assert not granted.is_set()
    gate.release()  # handed straight to the waiter
    waiter.join(timeout=30)
    assert granted.is_set() and gate.held
    gate.release()
    gate.release()
    assert not gate.held


def test_a_burst_of_async_callers_never_opens_more_connections_than_the_pool_keeps(
    small_pool: SessionMaker,
) -> None:
    engine: Engine = small_pool.kw["bind"]
    opened = _connections_opened(engine)
    assert connection_slots(engine).held is False

    async def burst() -> list[int]:
        concurrency = _Concurrency()
        results = await asyncio.gather(
            *(run_unit_of_work(small_pool, concurrency.work, writes=False) for _ in range(21))
        )
        assert concurrency.most == PLACES
        return results

    assert asyncio.run(burst()) == [1] * 21
    assert opened[0] <= PLACES
    first = opened[0]
    assert asyncio.run(burst()) == [1] * 21
    assert opened[0] == first  # the second burst reuses them all: nothing was closed


def _seven(session: Session) -> int:
    return int(session.execute(text("SELECT 7")).scalar_one())


def test_work_nested_in_a_holders_task_uses_the_holders_place(small_pool: SessionMaker) -> None:
    """A request that runs a transaction of its own (an import, say) must not wait for a second
    place, or requests holding every place would wait on each other for ever."""
    slots = connection_slots(small_pool.kw["bind"])

    async def nested() -> int:
        async with connection_slot(small_pool):
            for _ in range(PLACES - 1):
                await slots.acquire_async()  # every other place taken
            assert slots.held
            try:
                work = run_unit_of_work(small_pool, _seven, writes=False)
                return await asyncio.wait_for(work, timeout=30)
            finally:
                for _ in range(PLACES - 1):
                    slots.release()

    assert asyncio.run(nested()) == 7
    assert not slots.held


def test_requests_queue_for_a_place(database_url: str, tenant: NewTenant) -> None:
    """The request's session takes its place on the loop, before any connection."""
    settings = Settings(
        database_url=database_url, engine_enabled=False, housekeeping_enabled=False
    )  # nothing else in the app takes a place meanwhile
    app = create_app(settings)
    slots = connection_slots(state_of(app).db_engine)
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    answered: list[int] = []
    try:
        with TestClient(app, headers=headers) as client:
            taken = 0
            while not slots.held:
                slots.acquire()
                taken += 1
            asker = threading.Thread(
                target=lambda: answered.append(client.get("/api/v1/tenant").status_code)
            )
            asker.start()
            _until_one_waits(slots)
            assert answered == []
            for _ in range(taken):
                slots.release()
            asker.join(timeout=30)
    finally:
        state_of(app).db_engine.dispose()
    assert answered == [200]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_engine_without_a_queue_pool_has_places_too(url: str) -> None:
    engine = create_db_engine(url)
    try:
        assert connection_slots(engine).waiting == 0
        assert not connection_slots(engine).held
    finally:
        engine.dispose()
