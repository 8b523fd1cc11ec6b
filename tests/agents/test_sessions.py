from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import NotFound
from opendialer.models import AgentSession, AgentState, AgentStateChange
from opendialer.scoping import Scope
from tests.factories import make_agent, make_campaign
from tests.statements import statements_sent

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _statements_while(session: Session, work: Callable[[], object]) -> list[str]:
    with statements_sent(session.connection().engine) as statements:
        work()
    return statements


def test_an_agent_row_the_transaction_holds_is_not_read_again(
    session: Session, tenant: NewTenant
) -> None:
    """Closing a call reads the agent's state, then moves it: one read, not one per step."""
    agent_id = make_agent(session, tenant.tenant.id, ready_at=NOW).id
    session.expire_all()
    scope = Scope.system(tenant.tenant.id)

    def read_then_pause() -> None:
        row = agent_sessions.agent_session(session, scope, user_id=agent_id)
        assert row.state is AgentState.READY
        at = NOW + timedelta(seconds=5)
        agent_sessions.act(session, scope, user_id=agent_id, event=AgentEvent.PAUSE, at=at)

    statements = _statements_while(session, read_then_pause)
    reads = [s for s in statements if s.startswith("SELECT") and "FROM agent_sessions" in s]
    assert len(reads) == 1, statements
    assert session.get_one(AgentSession, agent_id).state is AgentState.PAUSED


def test_another_tenants_agent_row_in_the_session_is_still_not_found(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    theirs = make_agent(session, other_tenant.tenant.id, ready_at=NOW)
    assert session.get(AgentSession, theirs.id) is not None  # held by this session
    with pytest.raises(NotFound):
        agent_sessions.agent_session(session, Scope.system(tenant.tenant.id), user_id=theirs.id)
    with pytest.raises(NotFound):
        agent_sessions.act(
            session,
            Scope.system(tenant.tenant.id),
            user_id=theirs.id,
            event=AgentEvent.PAUSE,
            at=NOW,
        )
    assert session.get_one(AgentSession, theirs.id).state is AgentState.READY


def test_a_reservation_logs_the_agents_state_with_the_tenant_its_update_returned(
    session: Session, tenant: NewTenant
) -> None:
    campaign = make_campaign(session, tenant.tenant.id)
    agent_id = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW).id
    at = NOW + timedelta(seconds=3)

    def reserve() -> None:
        reserved = agent_sessions.reserve_longest_idle(session, campaign.id, at, "engine-1")
        assert reserved == agent_id
        session.flush()

    statements = _statements_while(session, reserve)
    assert [s.split()[0] for s in statements] == ["SELECT", "UPDATE", "INSERT"], statements
    logged = session.scalars(
        select(AgentStateChange).where(
            AgentStateChange.user_id == agent_id, AgentStateChange.state == AgentState.RESERVED
        )
    ).one()
    assert (logged.tenant_id, logged.state, logged.campaign_id) == (
        tenant.tenant.id,
        AgentState.RESERVED,
        campaign.id,
    )
