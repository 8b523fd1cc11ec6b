"""Native API: an agent's live session (log in, ready, pause, log out), the engine's agent
actions (dial or skip a preview, hang up) and the agent's wrap-up (result code, callback)."""

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import Depends, Request

from opendialer.accounts.roles import AgentReadScope, AgentScope
from opendialer.agents import sessions as agent_sessions
from opendialer.agents.schemas import (
    AgentSessionRead,
    CallbackBody,
    LogoutBody,
    PauseBody,
    ResultBody,
)
from opendialer.db import after_commit
from opendialer.dialing import service
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import Conflict, NotFound
from opendialer.models import AgentSession, User, UserRole
from opendialer.scoping import get_owned, require_self
from opendialer.web.db import DbSession, ReadSession
from opendialer.web.params import RecordId, WallClock
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

router = IndexedRouter(route_class=OneTripRoute, tags=["agents"])


def _act(
    session: DbSession,
    who: AgentScope,
    user_id: int,
    event: AgentEvent,
    now: datetime,
    reason: str | None = None,
) -> AgentSession:
    return agent_sessions.act(session, who, user_id=user_id, event=event, at=now, reason=reason)


@router.get("/agents/{user_id}/session", response_model=AgentSessionRead)
def agent_session(user_id: RecordId, session: DbSession, who: AgentScope) -> AgentSession:
    return agent_sessions.agent_session(session, who, user_id=user_id)


@router.post("/agents/{user_id}:login", response_model=AgentSessionRead)
def login(user_id: RecordId, session: DbSession, who: AgentScope, now: WallClock) -> AgentSession:
    """Log in: the agent starts paused ("login") until they say ready."""
    return _act(session, who, user_id, AgentEvent.LOGIN, now())


@router.post("/agents/{user_id}:ready", response_model=AgentSessionRead)
def ready(user_id: RecordId, session: DbSession, who: AgentScope, now: WallClock) -> AgentSession:
    """Ready for calls (also: wrap-up finished)."""
    return _act(session, who, user_id, AgentEvent.READY, now())


@router.post("/agents/{user_id}:pause", response_model=AgentSessionRead)
def pause(
    user_id: RecordId, body: PauseBody, session: DbSession, who: AgentScope, now: WallClock
) -> AgentSession:
    """Pause with a reason; during a call the pause starts when the wrap-up ends."""
    return _act(session, who, user_id, AgentEvent.PAUSE, now(), body.reason)


@router.post("/agents/{user_id}:logout", response_model=AgentSessionRead)
def logout(
    user_id: RecordId,
    request: Request,
    session: DbSession,
    who: AgentScope,
    now: WallClock,
    body: LogoutBody | None = None,
) -> AgentSession:
    """Log out (ready, paused or in wrap-up). ``{"force": true}``: a supervisor or admin logs
    the agent out from any state; a call they are on is ended, a preview goes back to the queue.
    """
    if body is None or not body.force:
        return _act(session, who, user_id, AgentEvent.LOGOUT, now())
    row = _act(session, who, user_id, AgentEvent.FORCE_LOGOUT, now())
    engine = app_state(request).engine
    if engine is not None:
        after_commit(session, partial(engine.agent_forced_out, user_id))
    return row


def owned_agent(user_id: RecordId, session: ReadSession, who: AgentReadScope) -> int:
    """The path's agent, resolved in the caller's tenant before the engine is asked (404), and
    for an agent scope their own (403, as the engine itself would answer)."""
    user = get_owned(session, User, who, user_id, "agent")
    if user.role is not UserRole.AGENT:
        raise NotFound("agent", user_id)
    require_self(who, user.id)
    return user.id


OwnedAgent = Annotated[int, Depends(owned_agent)]


async def _engine_action(request: Request, ok: bool, what: str) -> None:
    if app_state(request).engine is None:
        raise Conflict("The dialing engine does not run in this process", code="engine_not_here")
    if not ok:
        raise Conflict(f"The agent has no {what} right now", code=f"no_{what.replace(' ', '_')}")


@router.post("/agents/{user_id}:dial-preview", status_code=204)
async def dial_preview(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    """Dial the previewed contact now instead of waiting for the preview time to run out."""
    engine = app_state(request).engine
    await _engine_action(
        request, engine is not None and await engine.dial_preview(who, user_id=user_id), "preview"
    )


@router.post("/agents/{user_id}:skip-preview", status_code=204)
async def skip_preview(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    engine = app_state(request).engine
    await _engine_action(
        request, engine is not None and await engine.skip_preview(who, user_id=user_id), "preview"
    )


@router.post("/agents/{user_id}:hangup", status_code=204)
async def hang_up(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    """End the agent's current call; the agent goes to wrap-up."""
    engine = app_state(request).engine
    await _engine_action(
        request,
        engine is not None and await engine.hang_up_agent_call(who, user_id=user_id),
        "call",
    )


@router.post("/agents/{user_id}:result", status_code=204)
def set_result(
    user_id: RecordId,
    body: ResultBody,
    request: Request,
    session: DbSession,
    who: AgentScope,
    now: WallClock,
) -> None:
    """Set the result code of one of the agent's calls (during or after wrap-up)."""
    attempt_id, code_id = body.call_attempt_id, body.result_code_id
    machine_in = service.set_result(
        session, who, user_id=user_id, attempt_id=attempt_id, code_id=code_id, now=now()
    )
    engine = app_state(request).engine
    if machine_in is not None and engine is not None:
        after_commit(session, partial(engine.answering_machine_found, machine_in))


@router.post("/agents/{user_id}:callback", status_code=204)
def callback(
    user_id: RecordId, body: CallbackBody, session: DbSession, who: AgentScope, now: WallClock
) -> None:
    """Schedule a callback: personal (only this agent, rung first) or for anyone."""
    service.schedule_callback(session, who, body, user_id=user_id, now=now())
