"""Leases and take-over: what a dead engine left open is closed once, by one engine."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.outcomes import start_attempt
from opendialer.engine.recovery import (
    LOST_CALL_CAUSE,
    dead_engines,
    recover_engine,
    renew_lease,
    take_over_dead,
)
from opendialer.engine.selection import claim_next
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignMember,
    Contact,
    ContactStatus,
    EngineLease,
    User,
    UserRole,
)
from opendialer.scoping import Scope
from tests.engine.helpers import NOW, make_campaign, make_contact

LEASE = 30.0


def _busy_engine(session: Session, tenant: NewTenant, engine_id: str) -> Campaign:
    """A campaign with one open attempt (contact in call) and one agent on it, by ``engine_id``."""
    campaign = make_campaign(session, tenant, name=f"C-{engine_id}")
    make_contact(session, campaign, "+4930123456")
    claim = claim_next(session, campaign, NOW, engine_id)
    assert claim is not None
    attempt = start_attempt(session, campaign, claim, NOW, engine_id)
    agent = User(tenant_id=tenant.tenant.id, username=f"a-{engine_id}", role=UserRole.AGENT)
    session.add(agent)
    session.flush()
    session.add(CampaignMember(campaign_id=campaign.id, user_id=agent.id, created_at=NOW))
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent.id, event=AgentEvent.LOGIN, at=NOW
    )
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent.id, event=AgentEvent.READY, at=NOW
    )
    reserved = agent_sessions.reserve_longest_idle(
        session, campaign.id, NOW, engine_id, attempt_id=attempt.id
    )
    assert reserved == agent.id
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent.id, event=AgentEvent.CONNECT, at=NOW
    )
    return campaign


def _held_by(session: Session, engine_id: str) -> tuple[int, int, int]:
    attempts = session.scalars(
        select(CallAttempt.id).where(
            CallAttempt.engine_id == engine_id, CallAttempt.outcome.is_(None)
        )
    ).all()
    contacts = session.scalars(
        select(Contact.id).where(
            Contact.claimed_by == engine_id, Contact.status == ContactStatus.IN_CALL
        )
    ).all()
    busy = [
        row
        for row in session.scalars(select(AgentSession))
        if row.engine_id == engine_id and row.state is AgentState.ON_CALL
    ]
    return len(attempts), len(contacts), len(busy)


def test_an_expired_lease_is_taken_over_once(sessions: SessionMaker, tenant: NewTenant) -> None:
    with unit_of_work(sessions) as session:
        _busy_engine(session, tenant, "dead")
        _busy_engine(session, tenant, "alive")
        renew_lease(session, "dead", NOW, LEASE)
        renew_lease(session, "alive", NOW + timedelta(seconds=25), LEASE)
    later = NOW + timedelta(seconds=LEASE + 1)
    with unit_of_work(sessions) as session:
        assert dead_engines(session, later) == ["dead"]
        freed = take_over_dead(session, "taker", later)
        assert (freed.attempts, len(freed.agents)) == (1, 1)
    with unit_of_work(sessions) as session:
        assert _held_by(session, "dead") == (0, 0, 0)
        assert _held_by(session, "alive") == (1, 1, 1)  # its lease still runs
        assert session.get(EngineLease, "dead") is None
        closed = session.scalars(select(CallAttempt).where(CallAttempt.engine_id == "dead")).one()
        assert (closed.outcome, closed.cause_code) == (CallOutcome.FAILED, LOST_CALL_CAUSE)
        agent = session.scalars(select(AgentSession).where(AgentSession.engine_id == "dead")).one()
        assert agent.state is AgentState.WRAP_UP  # :ready works again
    with unit_of_work(sessions) as session:
        again = take_over_dead(session, "other-taker", later)
        assert (again.attempts, again.contacts, again.agents) == (0, 0, [])


def test_a_renewed_lease_is_not_taken_over(sessions: SessionMaker, tenant: NewTenant) -> None:
    with unit_of_work(sessions) as session:
        _busy_engine(session, tenant, "slow")
        renew_lease(session, "slow", NOW, LEASE)
    with unit_of_work(sessions) as session:
        assert renew_lease(session, "slow", NOW + timedelta(seconds=20), LEASE) is True
    with unit_of_work(sessions) as session:
        freed = take_over_dead(session, "taker", NOW + timedelta(seconds=LEASE + 1))
        assert freed.attempts == 0
        assert _held_by(session, "slow") == (1, 1, 1)


def test_work_of_an_engine_without_any_lease_is_recovered(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """An engine of a version before leases (or a lease row lost) never renews: it is dead."""
    with unit_of_work(sessions) as session:
        _busy_engine(session, tenant, "engine-3f2a9c1b")
    with unit_of_work(sessions) as session:
        assert dead_engines(session, NOW) == ["engine-3f2a9c1b"]
        assert take_over_dead(session, "taker", NOW).attempts == 1
        assert _held_by(session, "engine-3f2a9c1b") == (0, 0, 0)


def test_an_attempt_whose_campaign_was_deleted_is_closed(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    with unit_of_work(sessions) as session:
        _busy_engine(session, tenant, "crashed")
        attempt_id = session.scalars(select(CallAttempt.id)).one()
    with unit_of_work(sessions) as session:  # as a delete that raced a dial would leave it
        session.get_one(CallAttempt, attempt_id).campaign_id = None
    with unit_of_work(sessions) as session:
        assert recover_engine(session, "crashed", NOW).attempts == 1
        attempt = session.get_one(CallAttempt, attempt_id)
        assert attempt.outcome is CallOutcome.FAILED
        assert attempt.ended_at == NOW


def test_the_first_renewal_creates_the_lease(sessions: SessionMaker) -> None:
    with unit_of_work(sessions) as session:
        assert renew_lease(session, "new", NOW, LEASE) is False
    with unit_of_work(sessions) as session:
        lease = session.get_one(EngineLease, "new")
        assert lease.lease_until == NOW + timedelta(seconds=LEASE)
        assert dead_engines(session, NOW + timedelta(seconds=LEASE - 1)) == []
        assert dead_engines(session, NOW + timedelta(seconds=LEASE + 1)) == ["new"]
