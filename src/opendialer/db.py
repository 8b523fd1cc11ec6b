"""Database engine, sessions and the request-scoped unit of work."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Annotated, Any, TypeVar
from weakref import WeakKeyDictionary

from fastapi import Depends, Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.concurrency import run_in_threadpool

SessionMaker = sessionmaker[Session]
T = TypeVar("T")
PING_AFTER_IDLE = 1.0  # seconds
IDLE_SINCE = "opendialer_idle_since"
_sqlite_writers: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_db_engine(
    url: str, *, ping_after_idle: float = PING_AFTER_IDLE, **kwargs: Any
) -> Engine:
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    engine = create_engine(url, **{"pool_size": 10, "max_overflow": 20, **kwargs})
    _ping_idle_connections(engine, ping_after_idle)
    return engine


def _ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use when it has been idle for ``idle_seconds``.

    A database restart leaves the pool with dead connections; pinging finds them before a
    request or a claim does. SQLAlchemy's ``pool_pre_ping`` pings on every checkout, a round
    trip that is a tenth of a claim; a connection handed back moments ago is checked by the
    work it just did. Raising ``DisconnectionError`` makes the pool replace the connection.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the pooled connection is gone") from error


def create_sessionmaker(engine: Engine) -> SessionMaker:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(sessions: SessionMaker) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    with sessions() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run ``action`` once the session's transaction has committed; never if it rolls back."""
    event.listen(session, "after_commit", lambda _: action(), once=True)


def _sqlite_writer(sessions: SessionMaker) -> "threading.Lock | None":
    """The lock that lets one writer at a time into a SQLite database; None for other
    databases. Writers queue on it instead of in SQLite's busy handler, which sleeps up to
    100 ms between retries."""
    engine: Engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return None
    return _sqlite_writers.setdefault(engine, threading.Lock())


async def run_unit_of_work(
    sessions: SessionMaker, work: Callable[[Session], T], *, writes: bool, quick: bool
) -> T:
    """``work`` in one transaction, from async code.

    A quick unit on SQLite runs right here on the event loop when no other thread is writing:
    SQLite work is CPU under the GIL, and handing it to a worker thread costs a third of a
    small request in GIL hand-offs. Anything else runs in a worker thread, so the loop never
    waits for the network, a long unit, or another writer.
    """
    writer = _sqlite_writer(sessions)
    if writer is not None and quick:
        if not writes:
            return _in_transaction(sessions, work, nullcontext())
        if writer.acquire(blocking=False):
            try:
                return _in_transaction(sessions, work, nullcontext())
            finally:
                writer.release()
    guard = writer if writer is not None and writes else nullcontext()
    return await run_in_threadpool(_in_transaction, sessions, work, guard)


def _in_transaction(
    sessions: SessionMaker,
    work: Callable[[Session], T],
    guard: AbstractContextManager[Any],
) -> T:
    with guard, unit_of_work(sessions) as session:
        return work(session)


def get_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.sessions) as session:
        yield session


# "function" scope: the commit happens before the response is sent, so a failed commit
# becomes an error response instead of a silently lost write.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
