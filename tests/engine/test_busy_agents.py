import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.engine.agent_state import AgentEvent
from opendialer.engine.busy_agents import BusyAgents, BusyRow, busy_rows, counts_and_busy_rows
from opendialer.models import AgentState, Campaign
from opendialer.scoping import Scope
from tests.engine.helpers import NOW, make_campaign
from tests.factories import make_agent

E = AgentEvent


def _agent(session: Session, tenant: NewTenant, name: str, *campaigns: Campaign) -> int:
    return make_agent(session, tenant.tenant.id, name, campaigns=campaigns, ready_at=NOW).id


def _on_call(session: Session, tenant: NewTenant, campaign: Campaign, agent_id: int) -> None:
    assert agent_sessions.reserve_longest_idle(session, campaign.id, NOW, "test") == agent_id
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent_id, event=E.CONNECT, at=NOW
    )


def _call_then_ready(
    session: Session, tenant: NewTenant, campaign: Campaign, agent: int, ended_at: float | None
) -> BusyAgents:
    """The agent's call connected at 0 s and ended (the tracker told at ``ended_at``, if at all);
    the agent is ready again in the database."""
    busy = BusyAgents(campaign.id)
    _on_call(session, tenant, campaign, agent)
    busy.connected(agent, now=0.0)
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent, event=E.END_CALL, at=NOW
    )
    if ended_at is not None:
        busy.call_ended(agent, now=ended_at)
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent, event=E.READY, at=NOW
    )
    return busy


@pytest.fixture
def campaign(session: Session, tenant: NewTenant) -> Campaign:
    return make_campaign(session, tenant)


def test_a_call_then_wrap_up_then_ready(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    agent = _agent(session, tenant, "a", campaign)
    busy = BusyAgents(campaign.id)
    _on_call(session, tenant, campaign, agent)
    assert busy.connected(agent, now=100.0) is None
    assert busy.ages(130.0) == ((30.0,), (None,))
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent, event=E.END_CALL, at=NOW
    )
    busy.call_ended(agent, now=160.0)
    assert busy.ages(170.0) == ((70.0,), (10.0,))
    assert busy.releases(session, now=175.0) == []  # still in wrap-up
    agent_sessions.act(
        session, Scope.system(tenant.tenant.id), user_id=agent, event=E.READY, at=NOW
    )
    [released] = busy.releases(session, now=180.5)
    assert (released.handle_seconds, released.wrap_up_seconds) == (80.5, 20.5)
    assert len(busy) == 0 and busy.releases(session, now=181.0) == []


def test_an_agent_reserved_again_between_two_looks_is_free_of_the_first_call(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    agent = _agent(session, tenant, "a", campaign)
    busy = _call_then_ready(session, tenant, campaign, agent, ended_at=100.0)
    assert agent_sessions.reserve_longest_idle(session, campaign.id, NOW, "test") == agent
    [released] = busy.releases(session, now=112.0)  # reserved for a waiting caller
    assert (released.handle_seconds, released.wrap_up_seconds) == (112.0, 12.0)


def test_a_second_call_before_the_next_look_reports_the_first(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    busy = BusyAgents(campaign.id)
    busy.connected(7, now=0.0)
    busy.call_ended(7, now=90.0)
    earlier = busy.connected(7, now=101.0)
    assert earlier is not None
    assert (earlier.handle_seconds, earlier.wrap_up_seconds) == (101.0, 11.0)
    assert busy.ages(111.0) == ((10.0,), (None,))


def test_a_call_of_another_campaign_ends_this_one(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    other = make_campaign(session, tenant, "Other")
    agent = _agent(session, tenant, "a", campaign, other)
    busy = _call_then_ready(session, tenant, campaign, agent, ended_at=60.0)
    _on_call(session, tenant, other, agent)
    [released] = busy.releases(session, now=75.0)
    assert (released.handle_seconds, released.wrap_up_seconds) == (75.0, 15.0)


def test_an_agent_who_asked_for_a_pause_is_not_expected_back(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    staying, leaving = (
        _agent(session, tenant, "a", campaign),
        _agent(session, tenant, "b", campaign),
    )
    busy = BusyAgents(campaign.id)
    for agent in (staying, leaving):
        _on_call(session, tenant, campaign, agent)
        busy.connected(agent, now=0.0)
    agent_sessions.act(
        session,
        Scope.system(tenant.tenant.id),
        reason="lunch",
        user_id=leaving,
        event=E.PAUSE,
        at=NOW,
    )
    assert busy.releases(session, now=30.0) == []
    assert len(busy) == 2  # both still busy
    assert busy.ages(40.0) == ((40.0,), (None,))  # only one will be free again


def test_an_agent_freed_before_the_call_end_was_seen_has_no_wrap_up(
    session: Session, tenant: NewTenant, campaign: Campaign
) -> None:
    agent = _agent(session, tenant, "a", campaign)
    # The call's end reached the database, not the tracker.
    busy = _call_then_ready(session, tenant, campaign, agent, ended_at=None)
    [released] = busy.releases(session, now=50.0)
    assert (released.handle_seconds, released.wrap_up_seconds) == (50.0, None)


def test_counts_and_busy_rows_in_one_statement_are_what_the_three_reads_give(
    session: Session, tenant: NewTenant
) -> None:
    """Members in every state, a busy agent of the campaign who is no member any more and one
    of another campaign: the counts, the rows and the campaign's version are those of the
    three separate reads."""
    campaign = make_campaign(session, tenant)
    other = make_campaign(session, tenant, name="Other")
    talking = _agent(session, tenant, "talking", campaign)
    wrapping = _agent(session, tenant, "wrapping", campaign)
    _agent(session, tenant, "ready", campaign)
    paused = _agent(session, tenant, "paused", campaign)
    elsewhere = _agent(session, tenant, "elsewhere", other)
    scope = Scope.system(tenant.tenant.id)
    for agent in (talking, wrapping):
        _on_call(session, tenant, campaign, agent)
    agent_sessions.act(session, scope, user_id=wrapping, event=E.END_CALL, at=NOW)
    agent_sessions.act(session, scope, user_id=talking, event=E.PAUSE, at=NOW, reason="x")
    agent_sessions.act(session, scope, user_id=paused, event=E.PAUSE, at=NOW, reason="lunch")
    _on_call(session, tenant, other, elsewhere)
    asked = [talking, wrapping, elsewhere, 999_999]
    session.flush()
    version = session.scalar(select(Campaign.updated_at).where(Campaign.id == campaign.id))
    counts, rows, read_version = counts_and_busy_rows(session, campaign.id, asked)
    assert version is not None and read_version == version
    assert counts == agent_sessions.campaign_agent_counts(session, campaign.id)
    assert (counts.ready, counts.busy, counts.paused, counts.logged_in) == (1, 2, 1, 4)
    assert sorted(rows) == sorted(busy_rows(session, asked))
    assert sorted(rows) == [
        BusyRow(talking, AgentState.ON_CALL, campaign.id, "x"),
        BusyRow(wrapping, AgentState.WRAP_UP, campaign.id, None),
        BusyRow(elsewhere, AgentState.ON_CALL, other.id, None),
    ]
    assert counts_and_busy_rows(session, campaign.id, []) == (counts, [], version)


def test_a_deleted_campaign_has_no_version(session: Session, tenant: NewTenant) -> None:
    campaign = make_campaign(session, tenant)
    agent = _agent(session, tenant, "talking", campaign)
    _on_call(session, tenant, campaign, agent)
    campaign_id = campaign.id
    session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    for asked in ([agent], []):
        _counts, _rows, version = counts_and_busy_rows(session, campaign_id, asked)
        assert version is None
