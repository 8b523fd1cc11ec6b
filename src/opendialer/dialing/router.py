"""Native API: start and stop campaigns, watch them live, read the pacing log (the agents'
sessions are ``agents/session_router.py``)."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from opendialer.accounts.roles import SupervisorScope
from opendialer.campaigns.service import get_campaign
from opendialer.db import run_unit_of_work
from opendialer.dialing import service
from opendialer.dialing.schemas import (
    CampaignRunState,
    LiveState,
    PacingDecisionRead,
)
from opendialer.inputs import MAX_DB_INT
from opendialer.models import CampaignStatus, PacingDecision
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId, WallClock
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

router = IndexedRouter(route_class=OneTripRoute, tags=["dialing"])


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
    parts = app_state(request)
    return service.live_state(session, campaign, now(), parts.engine, parts.recent_counts)


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
    parts = app_state(request)

    async def events() -> AsyncIterator[str]:
        sent = 0
        while limit is None or sent < limit:
            if await request.is_disconnected():
                return
            state = await run_unit_of_work(
                parts.sessions,
                lambda s: service.live_state(
                    s, get_campaign(s, who, campaign_id), now(), parts.engine, parts.recent_counts
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
