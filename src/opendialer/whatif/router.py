"""Native API: the what-if simulation of a campaign."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from opendialer.accounts.roles import SupervisorScope
from opendialer.clock import RealClock
from opendialer.db import run_unit_of_work
from opendialer.web.params import RecordId
from opendialer.web.state import SessionsDep
from opendialer.whatif import service
from opendialer.whatif.schemas import FiguresRead, WhatIfRead, WhatIfRequest

router = APIRouter(tags=["campaigns"])


@router.post("/campaigns/{campaign_id}/what-if", response_model=WhatIfRead)
async def what_if(
    campaign_id: RecordId, body: WhatIfRequest, sessions: SessionsDep, who: SupervisorScope
) -> WhatIfRead:
    """Fit a simulation to the campaign's last 30 days, run one day of it with the changes on
    a virtual clock, and answer the day as it was beside the day as simulated (409
    `no_history` for a campaign without finished calls). Takes seconds to minutes: the
    simulation runs the real engine."""
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
