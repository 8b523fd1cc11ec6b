"""Native API: start and stop campaigns, watch them live, read the pacing log, drive agents."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from opendialer.accounts.roles import AgentReadScope, AgentScope, SupervisorScope
from opendialer.campaigns.service import get_campaign
from opendialer.db import after_commit, run_unit_of_work
from opendialer.dialing import service
from opendialer.dialing.schemas import (
    AgentSessionRead,
    CallbackBody,
    CampaignRunState,
    LiveState,
    LogoutBody,
    PacingDecisionRead,
    PauseBody,
    ResultBody,
)
from opendialer.engine import agents
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.runner import Engine
from opendialer.errors import Conflict, NotFound
from opendialer.inputs import MAX_DB_INT
from opendialer.models import AgentSession, CampaignStatus, PacingDecision, User, UserRole
from opendialer.models.base import utcnow
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.scoping import get_owned, require_self
from opendialer.web.db import DbSession, ReadSession
from opendialer.web.params import RecordId
from opendialer.web.state import app_state

router = APIRouter(tags=["dialing"])


async def wall_clock() -> Callable[[], datetime]:
    """Where these endpoints read the time; tests pin it through ``dependency_overrides``."""
    return utcnow


WallClock = Annotated[Callable[[], datetime], Depends(wall_clock)]


def _engine(request: Request) -> Engine | None:
    return app_state(request).engine


@router.post("/campaigns/{campaign_id}:start", response_model=CampaignRunState)
def start_campaign(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope, now: WallClock
) -> CampaignRunState:
    """Enable the campaign; the answer says whether it is dialling, and if not, why."""
    campaign = get_campaign(session, who, campaign_id)
    return service.set_status(session, campaign, CampaignStatus.ENABLED, now())


@router.post("/campaigns/{campaign_id}:stop", response_model=CampaignRunState)
def stop_campaign(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope, now: WallClock
) -> CampaignRunState:
    campaign = get_campaign(session, who, campaign_id)
    return service.set_status(session, campaign, CampaignStatus.DISABLED, now())


@router.get("/campaigns/{campaign_id}/live", response_model=LiveState)
def live(
    campaign_id: RecordId,
    request: Request,
    session: DbSession,
    who: SupervisorScope,
    now: WallClock,
) -> LiveState:
    campaign = get_campaign(session, who, campaign_id)
    return service.live_state(session, campaign, now(), _engine(request))


@router.get("/campaigns/{campaign_id}/live/stream", response_class=StreamingResponse)
def live_stream(
    campaign_id: RecordId,
    request: Request,
    session: DbSession,
    who: SupervisorScope,
    now: WallClock,
    interval: Annotated[float, Query(ge=0.2, le=60)] = 1.0,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_DB_INT, description="Stop after this many events")
    ] = None,
) -> StreamingResponse:
    """Server-sent events: one ``live`` event with the LiveState every ``interval`` seconds."""
    get_campaign(session, who, campaign_id)
    sessions = app_state(request).sessions

    async def events() -> AsyncIterator[str]:
        sent = 0
        while limit is None or sent < limit:
            if await request.is_disconnected():
                return
            state = await run_unit_of_work(
                sessions,
                lambda s: service.live_state(
                    s, get_campaign(s, who, campaign_id), now(), _engine(request)
                ),
                writes=False,
            )
            yield f"event: live\ndata: {json.dumps(state.model_dump(mode='json'))}\n\n"
            sent += 1
            if limit is None or sent < limit:
                await asyncio.sleep(interval)

    return StreamingResponse(events(), media_type="text/event-stream")


@router.get("/campaigns/{campaign_id}/pacing-log", response_model=Page[PacingDecisionRead])
def pacing_log(
    campaign_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[PacingDecisionRead]:
    """Every pacing decision with the estimates behind it (oldest first; page with the cursor)."""
    get_campaign(session, who, campaign_id)
    stmt = select(PacingDecision).where(PacingDecision.campaign_id == campaign_id)
    return fetch_page(session, stmt, PacingDecision.id, page, PacingDecisionRead)


# -- agents ---------------------------------------------------------------------------------


def _act(
    session: DbSession,
    who: AgentScope,
    user_id: int,
    event: AgentEvent,
    now: datetime,
    reason: str | None = None,
) -> AgentSession:
    return agents.act(session, who, user_id=user_id, event=event, at=now, reason=reason)


@router.get("/agents/{user_id}/session", response_model=AgentSessionRead)
def agent_session(user_id: RecordId, session: DbSession, who: AgentScope) -> AgentSession:
    return agents.agent_session(session, who, user_id=user_id)


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
    engine = _engine(request)
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
    if _engine(request) is None:
        raise Conflict("The dialing engine does not run in this process", code="engine_not_here")
    if not ok:
        raise Conflict(f"The agent has no {what} right now", code=f"no_{what.replace(' ', '_')}")


@router.post("/agents/{user_id}:dial-preview", status_code=204)
async def dial_preview(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    """Dial the previewed contact now instead of waiting for the preview time to run out."""
    engine = _engine(request)
    await _engine_action(
        request, engine is not None and await engine.dial_preview(who, user_id=user_id), "preview"
    )


@router.post("/agents/{user_id}:skip-preview", status_code=204)
async def skip_preview(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    engine = _engine(request)
    await _engine_action(
        request, engine is not None and await engine.skip_preview(who, user_id=user_id), "preview"
    )


@router.post("/agents/{user_id}:hangup", status_code=204)
async def hang_up(user_id: OwnedAgent, who: AgentReadScope, request: Request) -> None:
    """End the agent's current call; the agent goes to wrap-up."""
    engine = _engine(request)
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
    engine = _engine(request)
    if machine_in is not None and engine is not None:
        after_commit(session, partial(engine.answering_machine_found, machine_in))


@router.post("/agents/{user_id}:callback", status_code=204)
def callback(
    user_id: RecordId, body: CallbackBody, session: DbSession, who: AgentScope, now: WallClock
) -> None:
    """Schedule a callback: personal (only this agent, rung first) or for anyone."""
    service.schedule_callback(session, who, body, user_id=user_id, now=now())
