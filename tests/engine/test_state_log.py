"""The agent state publication: every committed change of an agent's row is told, whatever
made it (the state machine, a reservation's compare-and-set, a plain ORM write); a rolled-back
one never is. Both databases; on PostgreSQL other processes hear it too."""

import contextlib
import queue
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import make_url, select

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.campaigns.service import add_member
from opendialer.db import SessionMaker, unit_of_work
from opendialer.engine import state_log
from opendialer.engine.agent_state import AgentEvent
from opendialer.models import AgentSession, AgentState, AgentStateChange, UserRole
from opendialer.scoping import Scope
from tests.console.browser import make_agent
from tests.engine.helpers import NOW, make_campaign

HEAR_WITHIN = 20.0  # seconds: a deadline, not a goal


@pytest.fixture
def told(sessions: SessionMaker) -> Iterator[list[int]]:
    heard: list[int] = []
    with state_log.publishing(sessions, heard.append):
        yield heard


def _logged_in(sessions: SessionMaker, tenant_id: int, user_id: int) -> None:
    with unit_of_work(sessions) as session:
        agent_sessions.act(
            session, Scope.system(tenant_id), AgentEvent.LOGIN, user_id=user_id, at=NOW
        )


def test_a_supervisors_pause_is_told_after_its_commit(
    sessions: SessionMaker, tenant: NewTenant, told: list[int]
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "paula")
    boss = Scope(tenant_id=tenant.tenant.id, role=UserRole.SUPERVISOR, user_id=None)
    _logged_in(sessions, tenant.tenant.id, agent)
    told.clear()
    with unit_of_work(sessions) as session:
        agent_sessions.act(session, boss, AgentEvent.READY, user_id=agent, at=NOW)
        agent_sessions.act(
            session, boss, AgentEvent.PAUSE, user_id=agent, at=NOW, reason="supervisor"
        )
        assert told == []  # not before the commit
    assert told == [agent]


def test_a_reservation_is_told(sessions: SessionMaker, tenant: NewTenant, told: list[int]) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "rita")
    with unit_of_work(sessions) as session:
        campaign = make_campaign(session, tenant)
        add_member(session, campaign, agent)
        campaign_id = campaign.id
    _logged_in(sessions, tenant.tenant.id, agent)
    with unit_of_work(sessions) as session:
        agent_sessions.act(
            session, Scope.system(tenant.tenant.id), AgentEvent.READY, user_id=agent, at=NOW
        )
    told.clear()
    with unit_of_work(sessions) as session:
        reserved = agent_sessions.reserve_longest_idle(session, campaign_id, NOW, "e1")
    assert (reserved, told) == (agent, [agent])


def test_a_plain_write_of_the_row_is_told_and_a_rollback_is_not(
    sessions: SessionMaker, tenant: NewTenant, told: list[int]
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "olga")
    _logged_in(sessions, tenant.tenant.id, agent)
    told.clear()
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        session.get_one(AgentSession, agent).state = AgentState.READY
        session.flush()
        raise RuntimeError("rolled back")
    assert told == []
    with unit_of_work(sessions) as session:
        session.get_one(AgentSession, agent).state = AgentState.READY
    assert told == [agent]


def test_nothing_is_told_once_closed(sessions: SessionMaker, tenant: NewTenant) -> None:
    heard: list[int] = []
    with state_log.publishing(sessions, heard.append):
        pass
    agent = make_agent(sessions, tenant.tenant.id, "nils")
    _logged_in(sessions, tenant.tenant.id, agent)
    with unit_of_work(sessions) as session:
        assert session.scalars(select(AgentStateChange.user_id)).all() == [agent]
    assert heard == []


def test_two_publications_on_one_sessionmaker_each_hear_every_change(
    sessions: SessionMaker, tenant: NewTenant
) -> None:
    """Two apps (or two test clients of one) on the same sessions, opened and closed apart."""
    first: list[int] = []
    second: list[int] = []
    agent = make_agent(sessions, tenant.tenant.id, "zoe")
    with state_log.publishing(sessions, first.append):
        with state_log.publishing(sessions, second.append):
            _logged_in(sessions, tenant.tenant.id, agent)
        with unit_of_work(sessions) as session:
            session.get_one(AgentSession, agent).state = AgentState.READY
    assert (first, second) == ([agent, agent], [agent])


def _flip(sessions: SessionMaker, agent: int) -> None:
    with unit_of_work(sessions) as session:
        row = session.get_one(AgentSession, agent)
        row.state = AgentState.READY if row.state is AgentState.PAUSED else AgentState.PAUSED


def test_other_processes_hear_what_was_committed_and_not_what_was_rolled_back(
    database_url: str, sessions: SessionMaker, tenant: NewTenant
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("one server process serves SQLite: nothing to hear")
    kept, dropped, last = (
        make_agent(sessions, tenant.tenant.id, name) for name in ("kim", "dora", "lea")
    )
    for agent in (kept, dropped, last):
        _logged_in(sessions, tenant.tenant.id, agent)
    heard: queue.Queue[int] = queue.Queue()
    with (
        state_log.publishing(sessions, lambda _user_id: None),
        state_log.listening(make_url(database_url), heard.put),
    ):
        deadline = time.monotonic() + HEAR_WITHIN
        while True:  # until the listener (its own thread and connection) is listening
            _flip(sessions, kept)
            with contextlib.suppress(queue.Empty):
                assert heard.get(timeout=0.5) == kept
                break
            assert time.monotonic() < deadline, "nothing heard"
        with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
            session.get_one(AgentSession, dropped).state = AgentState.READY
            session.flush()
            raise RuntimeError("rolled back")
        _flip(sessions, last)
        after: list[int] = []
        while not after or after[-1] != last:  # notifications come in commit order
            after.append(heard.get(timeout=HEAR_WITHIN))
        scope = Scope.system(tenant.tenant.id)
        with unit_of_work(sessions) as session:  # a move in plain statements is heard too
            agent_sessions.move(session, scope, dropped, AgentEvent.READY, NOW)
        plain = heard.get(timeout=HEAR_WITHIN)
    assert dropped not in after
    assert plain == dropped


def test_a_move_in_plain_statements_is_told_and_a_rolled_back_one_is_not(
    sessions: SessionMaker, tenant: NewTenant, told: list[int]
) -> None:
    agent = make_agent(sessions, tenant.tenant.id, "mona")
    _logged_in(sessions, tenant.tenant.id, agent)
    scope = Scope.system(tenant.tenant.id)
    told.clear()
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        agent_sessions.move(session, scope, agent, AgentEvent.READY, NOW)
        raise RuntimeError("rolled back")
    assert told == []
    with unit_of_work(sessions) as session:
        agent_sessions.move(session, scope, agent, AgentEvent.READY, NOW)
        assert told == []
    assert told == [agent]
