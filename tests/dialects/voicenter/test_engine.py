"""The API drives the real engine: targets added here are dialled on the simulated network,
Start/Stop start and stop the dialling, and the settings method changes the pacing."""

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opendialer.agents import sessions as agent_sessions
from opendialer.clock import VirtualClock
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.campaign_runner import CampaignRunner, PacingParams
from opendialer.engine.live import LiveCall, Phase
from opendialer.engine.pacing.select import policy_for
from opendialer.engine.runner import Engine
from opendialer.engine.simulation import simulate
from opendialer.models import CallAttempt, CampaignMember, DncEntry
from opendialer.scoping import Scope
from opendialer.telephony import CallId
from opendialer.telephony.sim import SimNetwork
from opendialer.telephony.sim_scenario import Scenario
from tests.dialects.voicenter.conftest import Account, add_agent, call

TARGETS = [f"05012345{i:02d}" for i in range(20)]
BLOCKED, ALLOWED = "0521111111", "0522222222"


def virtual_start() -> datetime:
    """Tomorrow 09:00 UTC (11:00 or 12:00 in Jerusalem): after every target's due time."""
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(9), tzinfo=UTC)


def log_in(sessions: SessionMaker, tenant_id: int, user_ids: list[int], at: datetime) -> None:
    with unit_of_work(sessions) as session:
        for user_id in user_ids:
            agent_sessions.act(
                session, Scope.system(tenant_id), user_id=user_id, event=AgentEvent.LOGIN, at=at
            )
            agent_sessions.act(
                session, Scope.system(tenant_id), user_id=user_id, event=AgentEvent.READY, at=at
            )


def attempts(sessions: SessionMaker, campaign_id: int) -> list[str]:
    with unit_of_work(sessions) as session:
        stmt = select(CallAttempt.b_number).where(CallAttempt.campaign_id == campaign_id)
        return list(session.scalars(stmt))


def pending(client: TestClient, code: str) -> int:
    data = call(client, "GetCampaignPendingCalls", {"Campaign": code})["Data"]
    count: int = data["Campaign"]["TotalPendingCalls"]
    return count


def test_targets_added_here_are_dialled_until_stopped(
    client: TestClient, account: Account, sessions: SessionMaker
) -> None:
    members = [
        add_agent(sessions, account.tenant_id, f"SIPSIP{i}", f"Agent {i}") for i in (1, 2, 3)
    ]
    for i in (1, 2, 3):
        call(client, "AddMember", Campaign=account.agent, Member=f"SIPSIP{i}")
    with unit_of_work(sessions) as session:
        for number in ("+972521111111", "+972522222222"):
            session.add(DncEntry(tenant_id=account.tenant_id, e164=number))
    bulk: list[dict[str, Any]] = [{"Campaign": account.agent, "Target": n} for n in TARGETS]
    bulk += [
        {"Campaign": account.agent, "Target": BLOCKED, "Priority": 100},
        {"Campaign": account.agent, "Target": ALLOWED, "Priority": 100, "IgnoreDncStatus": True},
    ]
    assert all(r["ErrorCode"] == 0 for r in call(client, "AddCallsBulk", bulk)["AddResult"])
    assert call(client, "StartCampaign", Campaign=account.agent)["ErrorCode"] == 0
    assert pending(client, account.agent) == 22

    clock = VirtualClock(virtual_start())
    log_in(sessions, account.tenant_id, members, clock.now())
    clock.run(simulate(sessions, clock, account.agent_id, Scenario(), seconds=900, seed=5))

    dialled = attempts(sessions, account.agent_id)
    assert len(dialled) >= 8
    assert "+972522222222" in dialled  # DNC-listed, but IgnoreDncStatus
    assert "+972521111111" not in dialled  # DNC-listed: accepted, never dialled
    assert set(dialled) <= {f"+9725012345{i:02d}" for i in range(20)} | {"+972522222222"}
    left = pending(client, account.agent)
    assert 1 <= left < 22  # the blocked one stays queued

    assert call(client, "StopCampaign", Campaign=account.agent)["ErrorCode"] == 0
    clock.run(simulate(sessions, clock, account.agent_id, Scenario(), seconds=300, seed=6))
    assert len(attempts(sessions, account.agent_id)) == len(dialled)
    assert pending(client, account.agent) == left
    with unit_of_work(sessions) as session:  # the history and the members are still there
        members_left = session.scalar(
            select(func.count())
            .select_from(CampaignMember)
            .where(CampaignMember.campaign_id == account.agent_id)
        )
    assert members_left == 3


def _planned_dials(
    runner: CampaignRunner, sessions: SessionMaker, now: datetime, ready: int
) -> int:
    """Dials the engine's planner launches now; the claims are rolled back afterwards. The
    campaign is the runner's kept copy, checked in this transaction as its claim does."""
    with sessions() as session:
        campaign = runner.settings.get_one(session)
        decision = runner.policy.decide(runner._snapshot(PacingParams.of(campaign), ready))
        launches = runner._claim(session, campaign, decision.dials, now)
        session.rollback()
    return len(launches)


def test_settings_change_what_the_engine_dials(
    client: TestClient, account: Account, sessions: SessionMaker
) -> None:
    members = [
        add_agent(sessions, account.tenant_id, f"SIP{i:03d}", f"Agent {i}") for i in range(4)
    ]
    with unit_of_work(sessions) as session:  # smart campaigns get their agents natively
        now = datetime.now(UTC)
        for user_id in members:
            session.add(
                CampaignMember(campaign_id=account.smart_id, user_id=user_id, created_at=now)
            )
    bulk = [{"Campaign": account.smart, "Target": n} for n in TARGETS]
    call(client, "AddCallsBulk", bulk)
    call(client, "StartCampaign", Campaign=account.smart)
    clock = VirtualClock(virtual_start())
    log_in(sessions, account.tenant_id, members, clock.now())
    engine = Engine(
        sessions, SimNetwork(clock, Scenario(), seed=1), clock, policy_factory=policy_for
    )
    runner = asyncio.run(CampaignRunner.start(engine, account.smart_id))
    engine.calls[CallId("waiting-1")] = LiveCall(
        call_id=CallId("waiting-1"),
        campaign_id=account.smart_id,
        attempt_id=0,
        contact_id=0,
        dialled_at=clock.monotonic(),
        phase=Phase.WAITING,
    )
    free_dials = _planned_dials(runner, sessions, clock.now(), ready=4)
    assert free_dials >= 3

    settings = {"Campaign": account.smart, "setQueueForMonitoring": 7, "setCoefficient": 2}
    capped = call(client, "UpdateCampaignSettings", {**settings, "setQueueMaximumCallers": 1})
    assert capped["ErrorCode"] == 0
    # One answered caller already waits and the cap is one: the engine holds back.
    assert _planned_dials(runner, sessions, clock.now(), ready=4) == 0

    call(client, "UpdateCampaignSettings", {**settings, "setQueueMaximumCallers": 5})
    del engine.calls[CallId("waiting-1")]
    # No cap reached; the coefficient allows 2 dials in flight per ready agent.
    assert 0 < _planned_dials(runner, sessions, clock.now(), ready=1) <= 2
