"""The agent state history: one row each time an agent enters a state (the reports' source for
logged-in, ready, talk, wrap-up and pause times), written in the same transaction as the state.

And its publication: whoever changes an agent's row (the engine, the API, the console, a
supervisor's pause or forced logout, the wrap-up timer, the simulator), :func:`publishing` tells
the listener the agent's id once the transaction has committed. It watches the session's flushes,
not the callers, so no source can forget to tell. On PostgreSQL the same transaction also sends
``NOTIFY opendialer_agents`` with the ids (delivered at its commit, dropped with a rollback), and
:func:`listening` hears every server process's on one connection of its own: an agent's console
or a wallboard connected to one server hears changes made through another.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import Insert, Table, event, func, insert, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from opendialer.db import transaction_memo, when_committed
from opendialer.engine.agent_state import AgentStatus
from opendialer.models import AgentSession, AgentState, AgentStateChange

log = logging.getLogger(__name__)
CHANNEL = "opendialer_agents"
RETRY_SECONDS = 1.0  # a lost listening connection is made again after this
STATE_CHANGES: Table = AgentStateChange.__table__  # type: ignore[assignment]
PLAIN_CHANGES = "opendialer.agents_changed_plainly"
"""The transaction memo's key: agents whose row plain statements changed in it."""


def record(session: Session, row: AgentSession, at: datetime) -> None:
    """The agent's row has just entered its current state (or pause reason) at ``at``."""
    session.add(
        AgentStateChange(
            tenant_id=row.tenant_id,
            user_id=row.user_id,
            state=row.state,
            pause_reason=row.pause_reason if row.state is AgentState.PAUSED else None,
            campaign_id=row.campaign_id,
            at=at,
        )
    )


def record_plain(
    session: Session,
    tenant_id: int,
    user_id: int,
    status: AgentStatus,
    campaign_id: int | None,
    at: datetime,
) -> None:
    """:func:`record` for a plain statement's move, which left no ORM row at hand: one
    ``INSERT`` (the session flushes nothing for it)."""
    paused = status.state is AgentState.PAUSED
    row = {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "state": status.state,
        "pause_reason": status.pause_reason if paused else None,
        "campaign_id": campaign_id,
        "at": at,
    }
    session.execute(_history_insert(), row)


@cache
def _history_insert() -> Insert:
    return insert(STATE_CHANGES)


def changed(session: Session, user_id: int) -> None:
    """A plain statement changed the agent's row in the session's transaction: the
    publication tells it after the commit, as it tells a flushed ORM change."""
    memo = transaction_memo(session)
    if memo is not None:  # the statement that changed the row began the transaction
        memo.setdefault(PLAIN_CHANGES, set()).add(user_id)


@contextmanager
def publishing(sessions: sessionmaker[Session], tell: Callable[[int], None]) -> Iterator[None]:
    """While open: ``tell(user_id)`` after each commit of ``sessions`` that changed the agent's
    live row or history (in the committing thread; a rolled-back change is never told): those
    its flushes show, and those :func:`changed` names."""
    changed = object()  # this publication's key in a session's info: the agents changed

    def flushed(session: Session, _context: Any) -> None:
        agents: set[int] = session.info.setdefault(changed, set())
        flushed_now = {
            row.user_id
            for row in (*session.new, *session.dirty)
            if isinstance(row, AgentSession | AgentStateChange)
        }
        agents |= flushed_now
        if flushed_now:
            _notify(session, flushed_now)

    def committing(session: Session) -> None:
        memo = transaction_memo(session)
        plainly = memo.get(PLAIN_CHANGES) if memo is not None else None
        if plainly:
            session.info.setdefault(changed, set()).update(plainly)
            _notify(session, plainly)

    def committed(session: Session) -> None:
        agents = session.info.pop(changed, ())
        if agents:  # after a group commit's COMMIT when the session was one of its writers
            when_committed(session, lambda: _tell_each(tell, agents))

    def rolled_back(session: Session, *_: Any) -> None:
        session.info.pop(changed, None)

    listeners = (
        ("after_flush", flushed),
        ("before_commit", committing),
        ("after_commit", committed),
        ("after_rollback", rolled_back),
    )
    for name, listener in listeners:
        event.listen(sessions, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.remove(sessions, name, listener)


def _tell_each(tell: Callable[[int], None], user_ids: set[int]) -> None:
    for user_id in user_ids:
        tell(user_id)


def _notify(session: Session, user_ids: set[int]) -> None:
    """On PostgreSQL: tell the other server processes, at this transaction's commit."""
    if session.connection().dialect.name == "postgresql":
        ids = ",".join(str(user_id) for user_id in sorted(user_ids))
        session.connection().execute(select(func.pg_notify(CHANNEL, ids)))


@contextmanager
def listening(url: URL, tell: Callable[[int], None]) -> Iterator[None]:
    """While open, on PostgreSQL: ``tell(user_id)`` (in a thread of its own) for every agent
    any server process published. Nothing on another database (one process serves it)."""
    if url.get_backend_name() != "postgresql":
        yield
        return
    stop = threading.Event()
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    thread = threading.Thread(
        target=_listen, args=(conninfo, tell, stop), name="agents-listen", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(RETRY_SECONDS * 5)


def _listen(conninfo: str, tell: Callable[[int], None], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                connection.execute(f"LISTEN {CHANNEL}")
                while not stop.is_set():
                    for notice in connection.notifies(timeout=RETRY_SECONDS):
                        for user_id in notice.payload.split(","):
                            tell(int(user_id))
        except psycopg.OperationalError:
            log.warning("agent changes from other servers: connection lost; listening again")
            stop.wait(RETRY_SECONDS)
