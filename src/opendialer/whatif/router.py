"""Native API: the what-if simulation of a campaign."""

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from opendialer.accounts.roles import SupervisorScope
from opendialer.clock import RealClock
from opendialer.db import run_unit_of_work
from opendialer.errors import OpendialerError
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import SessionsDep, app_state
from opendialer.whatif import service
from opendialer.whatif.schemas import FiguresRead, WhatIfRead, WhatIfRequest

router = IndexedRouter(route_class=OneTripRoute, tags=["campaigns"])


@router.post("/campaigns/{campaign_id}/what-if", response_model=WhatIfRead)
async def what_if(
    campaign_id: RecordId,
    body: WhatIfRequest,
    request: Request,
    sessions: SessionsDep,
    who: SupervisorScope,
) -> WhatIfRead:
    """Fit a simulation to the campaign's last 30 days, run one day of it with the changes on
    a virtual clock, and answer the day as it was beside the day as simulated (409
    `no_history` for a campaign without finished calls). Takes seconds to minutes: the
    simulation runs the real engine. At most 400 agent-hours (422 `what_if_too_large`), and one
    what-if at a time per server process (429 `what_if_busy`, with `Retry-After`)."""
    running = app_state(request).what_if_running
    if not running.acquire(blocking=False):
        raise WhatIfBusy()
    try:
        return await _what_if(campaign_id, body, sessions, who)
    finally:
        running.release()


class WhatIfBusy(OpendialerError):
    status_code = 429
    code = "what_if_busy"
    headers = {"Retry-After": "30"}

    def __init__(self) -> None:
        super().__init__("another what-if is running on this server; try again when it is done")


async def _what_if(
    campaign_id: int, body: WhatIfRequest, sessions: SessionsDep, who: SupervisorScope
) -> WhatIfRead:
    now = RealClock().now()

    fitted = await run_unit_of_work(
        sessions,
        lambda session: service.fit_campaign(session, who, campaign_id=campaign_id, now=now),
        writes=False,
    )
    changes = service.Changes(
        agents=body.agents,
        agents_delta=body.agents_delta,
        abandon_target=body.abandon_target,
        dial_mode=body.dial_mode,
        hours=body.hours,
        seed=body.seed,
    )
    result = await run_in_threadpool(service.simulate_changes, fitted, changes)
    return WhatIfRead(
        campaign_id=campaign_id,
        dial_mode=result.dial_mode,
        observed=FiguresRead.of(fitted.observed),
        simulated=FiguresRead.of(result.simulated),
        scenario=result.scenario.model_dump(mode="json"),
    )
