"""Database engine, sessions and the unit of work, with one writer discipline for SQLite.

SQLite lets one connection write at a time. Writers in this process never meet inside SQLite's
busy handler (which sleeps, and can leave a writer waiting on a writer that waits on it): each
write transaction takes the database's :class:`WriterGate` (one first-come-first-served queue per
database file, waited on in a thread or, without holding a thread, on the event loop).

- Async code (requests, the Voicenter and jtel faces, imports, housekeeping) never waits for the
  database on the loop: it awaits :func:`run_unit_of_work` (or the request's session), which
  queues for the gate on the loop, then runs the transaction in a worker thread with
  ``BEGIN IMMEDIATE``, so it never has to upgrade a read snapshot to a writer half-way.
- The engine's thread uses ``unit_of_work(..., immediate=True)``: the gate and ``BEGIN IMMEDIATE``
  at the transaction's first statement.
- Other synchronous code (CLI, tests, the CRM sender's threads) takes the gate at its first write
  statement, keeping the reads before it lock-free.
- Reads (``writes=False``) take no gate: WAL snapshots do not block writers or each other.

Connections (both databases): the pool keeps ``pool_size`` connections open, and async callers
(requests, the faces, housekeeping) queue on the event loop for one of the engine's
:func:`connection_slots` (three quarters of the pool; the rest stays for the engine's thread and
other background threads). So no burst of requests can take more connections than the pool keeps:
a connection beyond the pool is closed when it comes back, and opening one costs PostgreSQL a new
server process, with its caches empty, for every one of them.
"""

import asyncio
import contextvars
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from functools import partial
from typing import Any, TypeVar
from weakref import WeakKeyDictionary, ref

from anyio import to_thread
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from opendialer.audit import recorder as audit_recorder
from opendialer.errors import DatabaseBusy

SessionMaker = sessionmaker[Session]
T = TypeVar("T")
PING_AFTER_IDLE = 1.0  # seconds
BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 40  # connections kept open: as many as the server's worker threads (anyio's 40)
REQUEST_SHARE = 0.75  # of the pool, for async callers; the rest for background threads
GATE_TIMEOUT = 60.0  # seconds a thread waits for the writer before it gives up
IDLE_SINCE = "opendialer_idle_since"
WRITES = "opendialer_writes"  # execution option: how this connection's transactions write
# The gate at the first write (the default, for any connection) | at BEGIN | held by the caller;
# READ: reads only, no gate.
LAZY, IMMEDIATE, HELD, READ = "lazy", "immediate", "held", "read"
URGENT = "urgent"  # as IMMEDIATE, ahead of every writer waiting at the gate (lease renewals)
GATE_INFO = "opendialer_gate"  # connection info: the gate this transaction took itself
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_gates: dict[str, "WriterGate"] = {}  # per database file: engines on one file share it
_engine_gates: WeakKeyDictionary[Engine, "WriterGate"] = WeakKeyDictionary()  # the file's gate
_writer_binds: WeakKeyDictionary[Engine, dict[str, Engine]] = WeakKeyDictionary()
_slots: WeakKeyDictionary[Engine, "Gate"] = WeakKeyDictionary()
_async_waits: WeakKeyDictionary[Engine, float] = WeakKeyDictionary()


_on_loop_ok: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "opendialer_db_on_loop_ok", default=False
)


# Set while a request (or other async caller) holds one of the connection slots: work it
# nests (a second transaction of its own) rides on that place instead of waiting for another.
_holding_slot: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "opendialer_holding_slot", default=None
)


class LoopBlocked(RuntimeError):
    """Database work was started on the event loop's thread, where it would stop the loop."""


class _LoopAllowed:
    """A plain class, not ``@contextmanager``: the simulation enters it at every transaction."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _on_loop_ok.set(True)

    def __exit__(self, *_exc: object) -> None:
        _on_loop_ok.reset(self._token)


def on_loop_allowed() -> AbstractContextManager[None]:
    """Let the block use the database on the loop (a simulation under a jumping virtual clock,
    where the loop standing still costs nothing)."""
    return _LoopAllowed()


def _refuse_on_loop(*_args: Any) -> None:
    if _on_loop_ok.get():
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # a worker thread, or synchronous code with no loop: fine
    raise LoopBlocked("database work on the event loop: await run_unit_of_work(...) instead")


class WriterBusy(DatabaseBusy):
    """A writer waited too long for the SQLite writer gate (a client sees 503)."""

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"The database is busy with other writes (waited {waited:g} s); retry in a moment"
        )


class ConnectionsBusy(DatabaseBusy):
    """An async caller waited too long for a database connection (a client sees 503)."""

    def __init__(self, waited: float) -> None:
        super().__init__(
            f"Every database connection is in use (waited {waited:g} s); retry in a moment"
        )


class Gate:
    """At most ``capacity`` holders at a time, first come first served, for threads and event
    loops alike.

    ``release`` hands the place straight to the next waiter, so no one overtakes a waiter. A loop
    waiter holds no thread while it waits, which is what keeps a request that holds a place
    across a hop through the event loop from waiting on threads that wait on it.
    """

    def __init__(
        self, capacity: int = 1, busy: Callable[[float], DatabaseBusy] = ConnectionsBusy
    ) -> None:
        self._busy = busy  # the error for a waiter that gave up, saying what it waited for
        self._mutex = threading.Lock()
        self._free = capacity
        self._waiters: deque[Callable[[], None]] = deque()

    @property
    def held(self) -> bool:
        """Every place is taken."""
        return self._free == 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _take_free(self) -> bool:
        """Under the mutex: take a free place if there is one."""
        if self._free == 0:
            return False
        self._free -= 1
        return True

    def acquire(self, timeout: float = GATE_TIMEOUT, *, first: bool = False) -> None:
        """Wait for a place; ``first``: ahead of every waiter (work that must not queue, such
        as a lease renewal: the waiters' turns are short, a lease that runs out is not)."""
        with self._mutex:
            if self._take_free():
                return
            granted = threading.Event()  # only for a waiter: most turns find the place free
            if first:
                self._waiters.appendleft(granted.set)
            else:
                self._waiters.append(granted.set)
        if granted.wait(timeout):
            return
        with self._mutex:
            if granted.set in self._waiters:
                self._waiters.remove(granted.set)
                raise self._busy(timeout)
        # granted between the timeout and the mutex: we hold it after all

    async def acquire_async(self, timeout: float = GATE_TIMEOUT) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._mutex:
            if self._take_free():
                return
            self._waiters.append(lambda: self._grant_soon(loop, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except (asyncio.CancelledError, TimeoutError) as error:
            if future.done() and not future.cancelled():
                self.release()  # granted, then cancelled before it resumed
            else:
                future.cancel()  # a grant that comes later passes the gate on
            if isinstance(error, TimeoutError):
                raise self._busy(timeout) from None
            raise

    def _grant_soon(self, loop: asyncio.AbstractEventLoop, future: "asyncio.Future[None]") -> None:
        if asyncio.events._get_running_loop() is loop:
            # Released on the waiter's own loop (a request's end): no wake-up through the
            # loop's self-pipe, which a grant from another thread needs.
            loop.call_soon(self._grant, future)
            return
        try:
            loop.call_soon_threadsafe(self._grant, future)
        except RuntimeError:  # that loop has closed: pass the gate on
            self.release()

    def _grant(self, future: "asyncio.Future[None]") -> None:
        if future.cancelled():
            self.release()  # the waiter left
        else:
            future.set_result(None)

    def release(self) -> None:
        with self._mutex:
            if not self._waiters:
                self._free += 1
                return
            grant = self._waiters.popleft()
        grant()  # outside the mutex: a grant that finds its waiter gone releases again


class WriterGate(Gate):
    """One writer at a time (SQLite)."""

    def __init__(self) -> None:
        super().__init__(capacity=1, busy=WriterBusy)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_connect(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (SQLAlchemy's pysqlite recipe), so writers can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return connect


def _gate_of(conn: Connection) -> "WriterGate":
    return _engine_gate(conn.engine)


_BEGINS = {
    IMMEDIATE: "BEGIN IMMEDIATE",
    URGENT: "BEGIN IMMEDIATE",
    HELD: "BEGIN IMMEDIATE",
    READ: "BEGIN",  # one snapshot for the reads
}
# LAZY sends none: reads run outside a transaction (always fresh, as pysqlite did); the first
# write takes the gate and begins IMMEDIATE, so there is no read snapshot to go stale.


def sqlite_begin_statement(conn: Connection) -> str | None:
    """The ``BEGIN`` a SQLite transaction on ``conn`` starts with (by its writes mode)."""
    return _BEGINS.get(conn.get_execution_options().get(WRITES, LAZY))


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(WRITES, LAZY)
    if mode in (IMMEDIATE, URGENT):
        _take_gate(conn, first=mode == URGENT)
    if (statement := _BEGINS.get(mode)) is not None:
        _send_begin(conn, statement)


def _send_begin(conn: Connection, statement: str) -> None:
    """``statement`` on the DBAPI connection itself: through ``exec_driver_sql`` it cost as
    much as any statement (an execution context, the statement events), at every
    transaction. It fails as a statement would: as SQLAlchemy's error (a database locked
    past the busy timeout is an ``OperationalError``, which the engine retries)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        conn.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
    except dbapi.Error as error:
        raise DBAPIError.instance(
            statement, None, error, dbapi.Error, dialect=conn.dialect
        ) from error


_READ_STATEMENTS = ("SELECT", "PRAGMA", "BEGIN", "EXPLAIN", "WITH")


def _gate_first_write(conn: Connection, cursor: Any, statement: str, *_args: Any) -> None:
    if conn.get_execution_options().get(WRITES, LAZY) != LAZY or GATE_INFO in conn.info:
        return
    if not statement.lstrip()[:7].upper().startswith(_READ_STATEMENTS):
        _take_gate(conn)
        if not cursor.connection.in_transaction:
            cursor.execute("BEGIN IMMEDIATE")


def _take_gate(conn: Connection, *, first: bool = False) -> None:
    if GATE_INFO in conn.info:
        return  # a later transaction on the same checked-out connection: still ours
    gate = _gate_of(conn)
    gate.acquire(first=first)
    conn.info[GATE_INFO] = gate


def _give_gate_back(_dbapi_connection: Any, record: ConnectionPoolEntry, *_: Any) -> None:
    """When the connection goes back to the pool (or is thrown away): after its COMMIT or
    ROLLBACK has run, unlike the engine's commit event, which fires before it."""
    gate = record.info.pop(GATE_INFO, None)
    if gate is not None:
        gate.release()


def create_db_engine(
    url: str,
    *,
    ping_after_idle: float = PING_AFTER_IDLE,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    forbid_on_loop: bool = False,
    pool_size: int = POOL_SIZE,
    async_wait: float = GATE_TIMEOUT,
    **kwargs: Any,
) -> Engine:
    """The engine for ``url``. ``forbid_on_loop``: taking a connection on an event loop's
    thread raises :class:`LoopBlocked` (the server turns it on, so no path can freeze it).
    ``pool_size``: connections kept open (see the module's doc). ``async_wait``: seconds an
    async caller (a request) queues for a connection or the writer before it gives up with
    :class:`DatabaseBusy` (503)."""
    kwargs = {**_pool_arguments(url, pool_size), **kwargs}
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_connect(busy_timeout_ms))
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _gate_first_write)
        for returned in ("checkin", "invalidate"):
            event.listen(engine, returned, _give_gate_back)
    else:
        engine = create_engine(url, **kwargs)
        _ping_idle_connections(engine, ping_after_idle)
    if forbid_on_loop:
        event.listen(engine, "checkout", _refuse_on_loop)
    _async_waits[engine] = async_wait
    return engine


def _pool_arguments(url: str, pool_size: int) -> dict[str, Any]:
    """A queue pool of ``pool_size``, most recently used first (the connections that stay idle
    are the ones closed or pinged, not every one in turn), with some overflow for work inside a
    request that takes a second connection. In-memory SQLite keeps its one-connection pool."""
    if is_sqlite(url) and make_url(url).database in (None, "", ":memory:"):
        return {}
    return {"pool_size": pool_size, "max_overflow": pool_size // 4, "pool_use_lifo": True}


def connection_slots(engine: Engine) -> Gate:
    """The places async callers queue for before they take one of ``engine``'s connections."""
    slots = _slots.get(engine)
    if slots is None:
        size = engine.pool.size() if isinstance(engine.pool, QueuePool) else POOL_SIZE
        slots = _slots.setdefault(engine, Gate(max(1, math.floor(size * REQUEST_SHARE))))
    return slots


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
    """Every session audits the changes made through a face (``opendialer.audit.recorder``)."""
    sessions = sessionmaker(engine, expire_on_commit=False)
    audit_recorder.install(sessions)
    audit_recorder.refuse_changes()
    return sessions


def async_wait(sessions: SessionMaker) -> float:
    """Seconds an async caller of ``sessions`` queues for the database (create_db_engine)."""
    return _async_waits.get(sessions.kw["bind"], GATE_TIMEOUT)


def writer_gate(sessions: SessionMaker) -> WriterGate | None:
    """The gate every writer of this SQLite database passes; None for other databases."""
    engine: Engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return None
    return _engine_gate(engine)


def _engine_gate(engine: Engine) -> WriterGate:
    """The gate of ``engine``'s database file (found by its URL once per engine: rendering the
    URL costs more than the rest of a gate's turn)."""
    gate = _engine_gates.get(engine)
    if gate is None:
        gate = _engine_gates.setdefault(
            engine, _gate_for_url(engine.url.render_as_string(hide_password=False))
        )
    return gate


def _gate_for_url(url: str) -> WriterGate:
    gate = _gates.get(url)
    return gate if gate is not None else _gates.setdefault(url, WriterGate())


def _session(sessions: SessionMaker, mode: str | None) -> Session:
    """A session whose SQLite transactions write the ``mode`` way (None: reads only). Its
    connection is taken on first use: where the work runs, not where the session is made."""
    engine: Engine = sessions.kw["bind"]
    if engine.dialect.name != "sqlite":
        return sessions()
    mode = mode or READ
    binds = _writer_binds.get(engine)
    if binds is None:
        binds = _writer_binds.setdefault(engine, {})
    bind = binds.get(mode)
    if bind is None:
        bind = binds.setdefault(mode, engine.execution_options(**{WRITES: mode}))
    return sessions(bind=bind)


class _Transaction:
    """``session`` committed when the block succeeds, rolled back when it raises, then closed.
    A plain class, not ``@contextmanager``: its generator's machinery cost as much as the rest
    of our own code in a transaction's set-up and end."""

    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        session = self.session
        try:
            if exc_type is not None:
                session.rollback()
                return
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
        finally:
            session.close()


def unit_of_work(
    sessions: SessionMaker, *, writes: bool = True, immediate: bool = False, urgent: bool = False
) -> AbstractContextManager[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises.

    For synchronous code (a worker thread, the CLI), never on the event loop. On SQLite a
    writing unit waits its turn at the database's writer gate at its first write statement, or
    with ``immediate`` at its first statement (``BEGIN IMMEDIATE``: nothing read in the
    transaction can go stale), or with ``urgent`` there too but ahead of every waiting writer
    (a lease renewal, which must not wait out a queue). ``writes=False`` reads from a snapshot
    and must not write.
    """
    mode = (URGENT if urgent else IMMEDIATE if immediate else LAZY) if writes else None
    return _Transaction(_session(sessions, mode))


class KeptConnections:
    """The SQLite connection one engine thread keeps across its transactions, so that a
    transaction does not check a connection out of the pool, build it and check it back in
    (with the pool's reset ``ROLLBACK``) each time: about a third of a one-statement
    transaction's Python calls.

    One connection for every writes mode (``immediate`` or ``read``, set on it as the mode's
    bind would set it), as the pool's most-recently-used order gave the engine before: SQLite
    drops a connection's page cache when another connection has written since its last
    transaction, so a reader and a writer kept apart would start every transaction cold.

    Each transaction still has a session of its own (``session.info`` and the ``after_commit``
    actions are the transaction's, as before) bound to the kept connection, with the same
    ``BEGIN``, ``COMMIT`` or ``ROLLBACK``; the writer gate, which a pooled connection gives
    back at its checkin, is given back once the ``COMMIT`` has run. A transaction that fails
    gives the connection back to the pool (its reset and the gate's hand-back as before) and
    the next takes a new one. A transaction begun while the kept connection is in use (an
    after-commit action that starts another) takes a pooled connection, as every transaction
    did. Other databases take a pooled connection every time. One thread only: an engine's
    database thread, or the loop of an inline engine."""

    __slots__ = ("__weakref__", "_busy", "_kept", "_sessions", "_sqlite")

    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions
        self._sqlite = sessions.kw["bind"].dialect.name == "sqlite"
        self._kept: list[Connection] = []  # none or one
        self._busy = False
        weakref.finalize(self, _close_all, self._kept)

    def unit_of_work(self, *, writes: bool) -> AbstractContextManager[Session]:
        """:func:`unit_of_work` (``immediate`` when it ``writes``) on the kept connection."""
        if self._busy or not self._sqlite:
            return unit_of_work(self._sessions, writes=writes, immediate=writes)
        return _KeptTransaction(self, IMMEDIATE if writes else READ)

    def close(self) -> None:
        """Give the kept connection back to the pool."""
        _close_all(self._kept)


def _close_all(kept: list[Connection]) -> None:
    connections = list(kept)
    kept.clear()
    for connection in connections:
        connection.close()


class _KeptTransaction:
    """:class:`_Transaction` on a :class:`KeptConnections` connection."""

    __slots__ = ("_connection", "_kept", "_mode", "session")

    def __init__(self, kept: KeptConnections, mode: str) -> None:
        self._kept = kept
        self._mode = mode

    def __enter__(self) -> Session:
        kept = self._kept
        if kept._kept:
            connection = kept._kept[0]
        else:
            connection = kept._sessions.kw["bind"].connect()
            kept._kept.append(connection)
        if connection.get_execution_options().get(WRITES) != self._mode:
            connection.execution_options(**{WRITES: self._mode})  # in place
        kept._busy = True
        self._connection = connection
        self.session = kept._sessions(bind=connection)
        return self.session

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        session, connection, kept = self.session, self._connection, self._kept
        ended = False
        try:
            if exc_type is not None:
                session.rollback()
                return
            try:
                session.commit()
            except BaseException:
                session.rollback()
                raise
            ended = True
        finally:
            try:
                session.close()
            finally:
                kept._busy = False
                if ended and not connection.in_transaction():
                    gate = connection.info.pop(GATE_INFO, None)
                    if gate is not None:
                        gate.release()  # after the COMMIT, as a checkin would
                else:  # to the pool: its reset's ROLLBACK, then the gate back (_give_gate_back)
                    kept._kept.clear()
                    connection.close()


TRANSACTION_MEMO = "opendialer_transaction_memo"  # session info: (its transaction, the memo)


def transaction_memo(session: Session) -> dict[object, Any] | None:
    """What was read in the session's current transaction, kept until it ends (the next
    transaction starts empty); None outside a transaction. A caller that reads first asks again
    after its read, which begins a transaction if none had."""
    transaction = session.get_transaction()
    if transaction is None:
        return None
    held: tuple[ref[SessionTransaction], dict[object, Any]] | None = session.info.get(
        TRANSACTION_MEMO
    )
    if held is None or held[0]() is not transaction:
        held = session.info[TRANSACTION_MEMO] = (ref(transaction), {})
    return held[1]


def after_commit(session: Session, action: Callable[[], object]) -> None:
    """Run ``action`` once the session's transaction has committed; never if it rolls back."""
    event.listen(session, "after_commit", lambda _: action(), once=True)


async def run_unit_of_work(
    sessions: SessionMaker, work: Callable[[Session], T], *, writes: bool
) -> T:
    """``work`` in one transaction, from async code: in a worker thread, never on the loop.

    A writer on SQLite queues for the gate on the loop first, so no worker thread is held while
    it waits.
    """
    gate = writer_gate(sessions) if writes else None
    async with connection_slot(sessions):
        if gate is not None:
            await gate.acquire_async(async_wait(sessions))
        try:
            mode = HELD if writes else None
            return await to_thread.run_sync(partial(_in_transaction, sessions, work, mode))
        finally:
            if gate is not None:
                gate.release()


@asynccontextmanager
async def connection_slot(sessions: SessionMaker) -> AsyncIterator[None]:
    """A place among the async callers of the database, queued for on the loop (the module's
    doc). Work nested in a holder's task uses the holder's place."""
    holding = _holding_slot.get()
    if holding is not None and holding[0]:
        yield
        return
    slots = connection_slots(sessions.kw["bind"])
    await slots.acquire_async(async_wait(sessions))
    holding = [True]
    token = _holding_slot.set(holding)
    try:
        yield
    finally:
        holding[0] = False  # for tasks that copied the context (a response stream, for one)
        slots.release()
        _holding_slot.reset(token)


def _in_transaction(sessions: SessionMaker, work: Callable[[Session], T], mode: str | None) -> T:
    with _Transaction(_session(sessions, mode)) as session:
        return work(session)


def held_session(sessions: SessionMaker, *, writes: bool) -> Session:
    """A session for a caller that already queued for the gate itself (a writer) or only
    reads: the request's session (``opendialer.web.db``)."""
    return _session(sessions, HELD if writes else None)


def end_session(session: Session, commit: bool) -> None:
    """Commit (or roll back) and close in one trip to a worker thread."""
    try:
        if commit:
            session.commit()
    finally:
        session.close()
