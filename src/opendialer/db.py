"""Database engine, sessions and the unit of work, with one writer discipline for SQLite.

SQLite lets one connection write at a time. Writers in this process never meet inside SQLite's
busy handler (which sleeps, and can leave a writer waiting on a writer that waits on it): each
write transaction takes the database's :class:`WriterGate` (one first-come-first-served queue per
database file, waited on in a thread or, without holding a thread, on the event loop).

- Async code (requests, the Voicenter and jtel faces, imports, housekeeping) never waits for the
  database on the loop: it awaits :func:`run_unit_of_work` (or the request's session), which
  queues for the gate on the loop, then runs the transaction in a worker thread with
  ``BEGIN IMMEDIATE``, so it never has to upgrade a read snapshot to a writer half-way. The
  writers queued at one moment share one such transaction and trip, each in a savepoint of its
  own (group commit, :class:`GroupCommit` at the end of this module).
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
import atexit
import contextvars
import logging
import math
import sqlite3
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
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.session import JoinTransactionMode
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

from opendialer.audit import recorder as audit_recorder
from opendialer.errors import DatabaseBusy

log = logging.getLogger(__name__)
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
# As IMMEDIATE, waiting at most the engine's async wait (a request's session used before its
# group commit: it answers 503 after as long as a request queued on the loop would).
REQUEST = "request"
WAIT = "opendialer_wait"  # execution option: seconds a thread waits for the gate (REQUEST)
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
    REQUEST: "BEGIN IMMEDIATE",
    HELD: "BEGIN IMMEDIATE",
    READ: "BEGIN",  # one snapshot for the reads
}
# LAZY sends none: reads run outside a transaction (always fresh, as pysqlite did); the first
# write takes the gate and begins IMMEDIATE, so there is no read snapshot to go stale.


def sqlite_begin_statement(conn: Connection) -> str | None:
    """The ``BEGIN`` a SQLite transaction on ``conn`` starts with (by its writes mode)."""
    return _BEGINS.get(conn.get_execution_options().get(WRITES, LAZY))


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    mode = options.get(WRITES, LAZY)
    if mode in (IMMEDIATE, URGENT, REQUEST):
        _take_gate(conn, first=mode == URGENT, timeout=options.get(WAIT, GATE_TIMEOUT))
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


def _take_gate(conn: Connection, *, first: bool = False, timeout: float = GATE_TIMEOUT) -> None:
    if GATE_INFO in conn.info:
        return  # a later transaction on the same checked-out connection: still ours
    gate = _gate_of(conn)
    gate.acquire(timeout, first=first)
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
    return sessions(bind=_mode_bind(engine, mode or READ))


def _mode_bind(engine: Engine, mode: str) -> Engine:
    """``engine`` whose SQLite transactions write the ``mode`` way (made once per mode)."""
    binds = _writer_binds.get(engine)
    if binds is None:
        binds = _writer_binds.setdefault(engine, {})
    bind = binds.get(mode)
    if bind is None:
        options: dict[str, Any] = {WRITES: mode}
        if mode == REQUEST:
            options[WAIT] = _async_waits.get(engine, GATE_TIMEOUT)
        bind = binds.setdefault(mode, engine.execution_options(**options))
    return bind


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
        try:
            _end_transaction(self.session, failed=exc_type is not None)
        finally:
            self.session.close()


def _end_transaction(session: Session, *, failed: bool) -> bool:
    """Commit, or roll back when the block failed or the commit does; True when committed."""
    if failed:
        session.rollback()
        return False
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return True


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
            ended = _end_transaction(session, failed=exc_type is not None)
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
    event.listen(session, "after_commit", lambda _: when_committed(session, action), once=True)


def when_committed(session: Session, action: Callable[[], object]) -> None:
    """For a listener of the session's ``after_commit``: run ``action`` now, unless the session
    is one writer of a group commit, whose commit released its savepoint only: then ``action``
    runs after the group's COMMIT, and never if that fails."""
    waiting: list[Callable[[], object]] | None = session.info.get(_AFTER_GROUP)
    if waiting is None:
        action()
    else:
        waiting.append(action)


async def run_unit_of_work(
    sessions: SessionMaker, work: Callable[[Session], T], *, writes: bool
) -> T:
    """``work`` in one transaction, from async code: in a worker thread, never on the loop.

    A writer on SQLite queues for the gate on the loop first, so no worker thread is held while
    it waits.
    """
    gate = writer_gate(sessions) if writes else None
    async with connection_slot(sessions):
        if gate is not None:  # a writer on SQLite: one of a group commit
            job = _Job(partial(_unit_in_group, sessions, work))
            return await _group_of(sessions).run(job, async_wait(sessions))  # type: ignore[no-any-return]
        return await to_thread.run_sync(partial(_in_transaction, sessions, work, None))


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


# Group commit (SQLite). Every writer of one database file waits for the one writer gate, and
# a transaction's fixed costs (a connection taken, ``BEGIN IMMEDIATE``, ``COMMIT``, a trip to a
# worker thread and back) were a third of a cheap write's CPU. So async writers (requests and
# ``run_unit_of_work``) queue on the loop; the first of them leads: it waits for the gate, takes
# every writer queued by then (at most ``GROUP_LIMIT``) and runs them in one worker-thread trip
# and one transaction, each in a SAVEPOINT of its own (its session joins the group's connection
# with ``join_transaction_mode="create_savepoint"``): a writer that fails is rolled back to its
# savepoint and gets its own error, the others go on. One COMMIT ends the group; if it (or the
# BEGIN) fails, every writer of the group gets that failure (a locked database: 503) and nothing
# is written. A session's ``after_commit`` actions (``after_commit``, ``when_committed``) wait for
# that COMMIT and run for the writers whose savepoint was released. The next leader queues for
# the gate while a group runs, so writers that arrive meanwhile form the next group.

GROUP_LIMIT = 64  # writers in one group at most: a bound on a group's latency
GROUPED = "opendialer_grouped"  # session info: a request's session that may join a group
_AFTER_GROUP = "opendialer_after_group"  # session info: actions waiting for the group's COMMIT
_groups: WeakKeyDictionary[Engine, "GroupCommit"] = WeakKeyDictionary()
_Actions = list[Callable[[], object]]


class GroupNotCommitted(DatabaseBusy):
    """The group's transaction could not begin or commit: the database file is locked by
    another process past the busy timeout (a client sees 503 and may retry)."""

    def __init__(self) -> None:
        super().__init__("The database is locked by another writer; retry in a moment")


class _GroupBroken(RuntimeError):
    """A writer's failure ended the group's transaction itself."""


class _Job:
    """One writer of a group: ``run_in(connection, actions)`` in the writer's own context
    (its audit context, its connection slot), with its result or error kept for its task."""

    __slots__ = ("actions", "context", "error", "result", "run_in", "wake")

    def __init__(self, run_in: Callable[[Connection, _Actions, JoinTransactionMode], Any]) -> None:
        self.run_in = run_in
        self.context = contextvars.copy_context()
        self.wake: asyncio.Future[bool] | None = None  # True: lead; False: done
        self.result: Any = None
        self.error: BaseException | None = None
        self.actions: _Actions = []

    def run(self, conn: Connection, join: JoinTransactionMode) -> None:
        try:
            self.result = self.run_in(conn, self.actions, join)
        except BaseException as error:  # that writer's own failure, for its own task
            self.error = error
            self.actions.clear()

    def outcome(self) -> Any:
        error, self.error = self.error, None
        if error is not None:
            raise error
        return self.result


class GroupCommit:
    """The writers of one SQLite engine that queue at a moment, in one transaction (above)."""

    def __init__(self, engine: Engine) -> None:
        self._bind = _mode_bind(engine, HELD)  # BEGIN IMMEDIATE; the leader holds the gate
        self._gate = _engine_gate(engine)
        self._queue: deque[_Job] = deque()
        self._leading = False  # a writer is leading: waiting for the gate or taking a group
        self.groups = 0  # groups run, and the writers they held (the bench's average)
        self.writers = 0

    @property
    def queued(self) -> int:
        """Writers waiting for the next group."""
        return len(self._queue)

    async def run(self, job: _Job, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        job.wake = loop.create_future()
        deadline = loop.time() + timeout
        self._queue.append(job)
        leads = not self._leading
        self._leading = True
        if not leads and not await self._wait(job, loop, deadline, timeout):
            return job.outcome()
        await self._lead(job, loop, deadline, timeout)
        return job.outcome()

    async def _wait(
        self, job: _Job, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float
    ) -> bool:
        """Until a group ran the job (False) or the job is to lead the next group (True)."""
        wake = job.wake
        assert wake is not None
        try:
            return await asyncio.wait_for(asyncio.shield(wake), max(deadline - loop.time(), 0))
        except TimeoutError:
            if wake.done():
                return wake.result()
            if job in self._queue:
                self._queue.remove(job)
                raise WriterBusy(timeout) from None
            return await wake  # its group is running: its answer comes
        except asyncio.CancelledError:
            if job in self._queue:
                self._queue.remove(job)
                if wake.done() and wake.result():  # made leader: pass it on
                    self._hand_on()
            raise

    def _hand_on(self) -> None:
        """The leader took its group (or left): the first writer queued leads next."""
        if self._queue:
            wake = self._queue[0].wake
            assert wake is not None and not wake.done()
            wake.set_result(True)
        else:
            self._leading = False

    async def _lead(
        self, job: _Job, loop: asyncio.AbstractEventLoop, deadline: float, timeout: float
    ) -> None:
        try:
            await self._gate.acquire_async(max(deadline - loop.time(), 0))
        except BaseException as error:
            if job in self._queue:
                self._queue.remove(job)
            self._hand_on()
            if isinstance(error, WriterBusy):
                raise WriterBusy(timeout) from None
            raise
        group = [self._queue.popleft() for _ in range(min(GROUP_LIMIT, len(self._queue)))]
        self._hand_on()
        self.groups += 1
        self.writers += len(group)
        try:
            await to_thread.run_sync(self._commit, group)
        finally:
            self._gate.release()
            for other in group:
                if other.wake is not None and not other.wake.done():
                    other.wake.set_result(False)

    def _commit(self, group: list[_Job]) -> None:
        """In a worker thread: the group's transaction, then the committed writers' actions.
        A writer alone needs no savepoint: its session's rollback is the transaction's."""
        alone = len(group) == 1
        join: JoinTransactionMode = "rollback_only" if alone else "create_savepoint"
        try:
            with self._bind.connect() as conn:
                conn.begin()
                for job in group:
                    job.context.run(job.run, conn, join)
                    if conn.invalidated or not conn.in_transaction():
                        if alone:
                            return  # its session rolled it back: nothing to commit
                        raise _GroupBroken("a writer's failure ended the group's transaction")
                conn.commit()
        except BaseException as error:
            failure = _group_failure(error)
            for job in group:
                job.actions.clear()
                if job.error is None:
                    job.error = failure()
            return
        for job in group:
            for action in job.actions:
                try:
                    job.context.run(action)
                except Exception as error:  # as when a plain commit's listener raises
                    job.error = job.error or error


def _group_failure(error: BaseException) -> Callable[[], BaseException]:
    """What each writer of a group that did not commit raises: a locked database (another
    process held it past the busy timeout) or a writer that broke the transaction is worth a
    retry (503); any other failure is that failure, as for a transaction of its own."""
    locked = isinstance(error, OperationalError) and isinstance(
        error.orig, sqlite3.OperationalError
    )
    if locked or isinstance(error, _GroupBroken):
        return GroupNotCommitted
    return lambda: error


def _group_of(sessions: SessionMaker) -> GroupCommit:
    engine: Engine = sessions.kw["bind"]
    group = _groups.get(engine)
    if group is None:
        group = _groups.setdefault(engine, GroupCommit(engine))
        atexit.register(_log_counts, ref(group))
    return group


def _log_counts(group: "ref[GroupCommit]") -> None:
    """At exit: how many writers a group held (``bench/group_sizes.py`` reads it)."""
    counted = group()
    if counted is not None and counted.groups:
        log.info(
            "group commit: %d writers in %d groups (%.2f a group)",
            counted.writers,
            counted.groups,
            counted.writers / counted.groups,
        )


def group_commit(sessions: SessionMaker) -> GroupCommit | None:
    """The group commit of ``sessions``' SQLite database (None before its first writer, or
    for other databases): its counters say how many writers a group held."""
    return _groups.get(sessions.kw["bind"])


def _unit_in_group(
    sessions: SessionMaker,
    work: Callable[[Session], T],
    conn: Connection,
    actions: _Actions,
    join: JoinTransactionMode,
) -> T:
    """``run_unit_of_work``'s writer, in its savepoint of the group's transaction."""
    session = sessions(bind=conn, join_transaction_mode=join)
    session.info[_AFTER_GROUP] = actions
    with _Transaction(session):
        return work(session)


def grouped_session(sessions: SessionMaker) -> Session:
    """A request's writing session on SQLite that joins a group commit when its endpoint's trip
    runs (:func:`run_grouped`). Used before that (a dependency's look-up, in a worker thread),
    it takes the writer gate itself at its first statement (waiting in that thread, at most
    as long as a request queues on the loop), and the request runs on its own."""
    session = _session(sessions, REQUEST)
    session.info[GROUPED] = sessions
    return session


async def run_grouped(session: Session, work: Callable[[], T]) -> T:
    """``work``, which ends ``session``'s transaction (commits and closes it, or leaves it to be
    rolled back), in a group commit when ``session`` is an unused :func:`grouped_session`;
    otherwise in a worker thread of its own."""
    sessions: SessionMaker | None = session.info.get(GROUPED)
    if sessions is None or _begun(session):
        return await to_thread.run_sync(work)
    job = _Job(partial(_joined_request, session, work))
    return await _group_of(sessions).run(job, async_wait(sessions))  # type: ignore[no-any-return]


async def read_beside(session: Session, read: Callable[[Session], T]) -> T:
    """``read`` (reads only) before the endpoint, with ``session``: for an unused
    :func:`grouped_session`, in a read transaction of its own, so the session still joins its
    group (a look-up such as an API key's, which a cache could have answered as well);
    otherwise with ``session`` in a worker thread."""
    sessions: SessionMaker | None = session.info.get(GROUPED)
    if sessions is None or _begun(session):
        return await to_thread.run_sync(read, session)
    return await run_unit_of_work(sessions, read, writes=False)


def _begun(session: Session) -> bool:
    """The session has a transaction already (a dependency read with it): no I/O."""
    return session.in_transaction()


def _joined_request(
    session: Session,
    work: Callable[[], T],
    conn: Connection,
    actions: _Actions,
    join: JoinTransactionMode,
) -> T:
    """A request's endpoint trip, its session in a savepoint of the group's transaction."""
    session.bind = conn
    session.join_transaction_mode = join
    session.info[_AFTER_GROUP] = actions
    try:
        return work()
    finally:
        if session.in_transaction():  # it raised, or its answer did not validate: not written
            try:
                session.rollback()
            finally:
                session.close()
