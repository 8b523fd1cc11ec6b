"""The agent state history: one row each time an agent enters a state (the reports' source for
logged-in, ready, talk, wrap-up and pause times), written in the same transaction as the state.

And its publication: whoever changes an agent's row (the engine, the API, the console, a
supervisor's pause or forced logout, the wrap-up timer, the simulator), :func:`publishing` tells
the listener the agent's id once the transaction has committed. It watches the session's flushes,
not the callers, so no source can forget to tell.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from opendialer.models import AgentSession, AgentState, AgentStateChange


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


def record_reserved(
    session: Session,
    tenant_id: int,
    user_id: int,
    state: AgentState,
    campaign_id: int,
    at: datetime,
) -> None:
    """After a compare-and-set reservation, which left no ORM row at hand (its ``RETURNING``
    gave the tenant)."""
    session.add(
        AgentStateChange(
            tenant_id=tenant_id, user_id=user_id, state=state, campaign_id=campaign_id, at=at
        )
    )


@contextmanager
def publishing(sessions: sessionmaker[Session], tell: Callable[[int], None]) -> Iterator[None]:
    """While open: ``tell(user_id)`` after each commit of ``sessions`` that changed the agent's
    live row or history (in the committing thread; a rolled-back change is never told). A
    reservation's compare-and-set leaves no ORM row, but it writes a history row."""
    changed = object()  # this publication's key in a session's info: the agents changed

    def flushed(session: Session, _context: Any) -> None:
        agents: set[int] = session.info.setdefault(changed, set())
        for row in (*session.new, *session.dirty):
            if isinstance(row, AgentSession | AgentStateChange):
                agents.add(row.user_id)

    def committed(session: Session) -> None:
        for user_id in session.info.pop(changed, ()):
            tell(user_id)

    def rolled_back(session: Session, *_: Any) -> None:
        session.info.pop(changed, None)

    listeners = (
        ("after_flush", flushed),
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
