"""A made-up working day of call history (attempts with outcomes and result codes, agents'
state changes, DNC refusals) for the report pages and the wallboard, from a seeded RNG."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from opendialer.campaigns.schemas import CampaignCreate
from opendialer.campaigns.service import add_member, create_campaign
from opendialer.db import SessionMaker, unit_of_work
from opendialer.models import (
    AgentState,
    AgentStateChange,
    CallAttempt,
    CallOutcome,
    DncRefusal,
    ResultCode,
    User,
    UserRole,
)
from opendialer.scoping import Scope

OUTCOMES = [
    (CallOutcome.CONNECTED, 0.35),
    (CallOutcome.NO_ANSWER, 0.3),
    (CallOutcome.BUSY, 0.1),
    (CallOutcome.MACHINE, 0.2),
    (CallOutcome.ABANDONED, 0.05),
]


@dataclass(frozen=True)
class History:
    campaign_ids: list[int]
    agent_ids: list[int]


def seed_day(sessions: SessionMaker, tenant_id: int, day: datetime, seed: int = 1) -> History:
    """Two campaigns, three agents working 09:10-17:10 UTC of ``day``; every agent's calls in
    turn (talk, wrap-up, ready), a lunch pause, and the dialer's other attempts."""
    rng = random.Random(seed)
    scope = Scope.system(tenant_id)
    with unit_of_work(sessions) as session:
        campaigns = [
            create_campaign(
                session,
                scope,
                CampaignCreate(name=name, dial_mode="predictive", timezone="UTC"),
            )
            for name in ("Spring", "Autumn")
        ]
        agents = []
        for i, name in enumerate(("anna", "ben", "cleo")):
            user = User(tenant_id=tenant_id, username=name, role=UserRole.AGENT)
            session.add(user)
            session.flush()
            add_member(session, campaigns[i % 2], user.id)
            agents.append(user)
        codes = {}
        for campaign in campaigns:
            for code in ("sale", "no_interest", "call_back"):
                row = ResultCode(
                    tenant_id=tenant_id,
                    campaign_id=campaign.id,
                    code=code,
                    text_en=code.replace("_", " ").title(),
                    text_de=code,
                )
                session.add(row)
                codes[(campaign.id, code)] = row
        session.flush()
        start = datetime.combine(day.date(), time(9, 10), UTC)
        for i, agent in enumerate(agents):
            _agent_day(session, rng, tenant_id, agent.id, campaigns[i % 2].id, start, codes)
        for campaign in campaigns:
            _dialer_attempts(session, rng, tenant_id, campaign.id, start)
            session.add(
                DncRefusal(
                    tenant_id=tenant_id, campaign_id=campaign.id, e164="+4930555000", at=start
                )
            )
        return History([c.id for c in campaigns], [a.id for a in agents])


def _agent_day(
    session: Session,
    rng: random.Random,
    tenant_id: int,
    user_id: int,
    campaign_id: int,
    start: datetime,
    codes: dict[tuple[int, str], ResultCode],
) -> None:
    def state(kind: AgentState, at: datetime, reason: str | None = None) -> None:
        cid = campaign_id if kind in (AgentState.ON_CALL, AgentState.WRAP_UP) else None
        session.add(
            AgentStateChange(
                tenant_id=tenant_id,
                user_id=user_id,
                state=kind,
                pause_reason=reason,
                campaign_id=cid,
                at=at,
            )
        )

    at, end = start, start + timedelta(hours=8)
    state(AgentState.READY, at)
    lunch = start + timedelta(hours=3, minutes=rng.randint(0, 60))
    while at < end:
        at += timedelta(seconds=rng.randint(5, 120))
        if lunch <= at < lunch + timedelta(minutes=30):
            state(AgentState.PAUSED, at, "lunch")
            at += timedelta(minutes=30)
            state(AgentState.READY, at)
            continue
        talk = timedelta(seconds=rng.randint(30, 400))
        code = rng.choice(["sale", "no_interest", "call_back"])
        session.add(
            CallAttempt(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                user_id=user_id,
                b_number="+4930123456",
                started_at=at - timedelta(seconds=8),
                answered_at=at,
                connected_at=at,
                ended_at=at + talk,
                outcome=CallOutcome.CONNECTED,
                result_code_id=codes[(campaign_id, code)].id,
            )
        )
        state(AgentState.ON_CALL, at)
        at += talk
        state(AgentState.WRAP_UP, at)
        at += timedelta(seconds=rng.randint(5, 40))
        state(AgentState.READY, at)
    state(AgentState.LOGGED_OUT, at)


def _dialer_attempts(
    session: Session, rng: random.Random, tenant_id: int, campaign_id: int, start: datetime
) -> None:
    outcomes = [o for o, _w in OUTCOMES if o is not CallOutcome.CONNECTED]
    weights = [w for o, w in OUTCOMES if o is not CallOutcome.CONNECTED]
    for _ in range(600):
        at = start + timedelta(seconds=rng.randint(0, 8 * 3600))
        outcome = rng.choices(outcomes, weights)[0]
        session.add(
            CallAttempt(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                b_number="+4930765432",
                started_at=at,
                ended_at=at + timedelta(seconds=20),
                outcome=outcome,
                answered_at=at + timedelta(seconds=5)
                if outcome is not CallOutcome.NO_ANSWER
                else None,
            )
        )
