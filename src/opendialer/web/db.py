"""The request's database session: commit on success, roll back on error, before the response
is sent (the module doc of ``opendialer.db`` describes the writer gate and connection slots)."""

from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from opendialer.db import (
    READ_METHODS,
    async_wait,
    connection_slot,
    end_session,
    grouped_session,
    held_session,
    writer_gate,
)
from opendialer.web.state import state_of

FINISHED = "opendialer_finished"  # session info: committed and closed by the endpoint's trip
ONE_TRIP = "opendialer_one_trip"  # an endpoint's attribute: it finishes its sessions itself


def finish(session: Session) -> None:
    """Commit and close the request's session where the endpoint ran (a worker thread), so
    its dependency need not make a trip of its own (``opendialer.web.routes``)."""
    end_session(session, True)
    session.info[FINISHED] = True


async def _end(session: Session, commit: bool) -> None:
    """Commit (or roll back) and close in a worker thread, unless the endpoint did."""
    if not session.info.get(FINISHED):
        await to_thread.run_sync(partial(end_session, session, commit))


async def _request_session(request: Request) -> AsyncIterator[Session]:
    """The request's transaction. A writing request on SQLite holds the writer gate from here
    to its commit; it queued for it on the loop, and its SQL runs in worker threads. Unless its
    endpoint makes one trip (``opendialer.web.routes.OneTripRoute``): that trip joins a group
    commit, which holds the gate for the group (``opendialer.db.run_grouped``)."""
    sessions = state_of(request.app).sessions
    writes = request.method not in READ_METHODS
    gate = writer_gate(sessions) if writes else None
    async with connection_slot(sessions):
        if gate is not None and getattr(request.scope.get("endpoint"), ONE_TRIP, False):
            gate = None  # its endpoint's trip joins a group commit (opendialer.web.routes)
            session = grouped_session(sessions)
        else:
            if gate is not None:
                await gate.acquire_async(async_wait(sessions))
            session = held_session(sessions, writes=writes)
        try:
            try:
                yield session
            except BaseException:
                await _end(session, False)
                raise
            await _end(session, True)  # a GET may write too (it commits)
        finally:
            if gate is not None:
                gate.release()


async def _read_session(request: Request) -> AsyncIterator[Session]:
    """A read-only transaction for routes that wait on the engine, which writes meanwhile."""
    sessions = state_of(request.app).sessions
    async with connection_slot(sessions):
        session = held_session(sessions, writes=False)
        try:
            yield session
        finally:
            await _end(session, False)


get_session = _request_session
# "function" scope: the commit happens before the response is sent, so a failed commit
# becomes an error response instead of a silently lost write.
DbSession = Annotated[Session, Depends(_request_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
