from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendialer.accounts.service import NewTenant
from opendialer.agents import sessions as agent_sessions
from opendialer.engine.agent_state import AgentEvent
from opendialer.errors import Conflict, NotFound
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


def _history(session: Session, agent_id: int) -> list[tuple[AgentState, str | None, int | None]]:
    rows = session.execute(
        select(AgentStateChange.state, AgentStateChange.pause_reason, AgentStateChange.campaign_id)
        .where(AgentStateChange.user_id == agent_id)
        .order_by(AgentStateChange.id)
    )
    return [(state, reason, campaign_id) for state, reason, campaign_id in rows]


def test_a_move_in_plain_statements_writes_what_act_writes(
    session: Session, tenant: NewTenant
) -> None:
    """The engine's moves (reserve, connect, end, ready) leave the row and the history as the
    agent API's ``act`` does, and a pause asked for during the call is taken at its end."""
    campaign = make_campaign(session, tenant.tenant.id)
    agent_id = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW).id
    scope, at = Scope.system(tenant.tenant.id), NOW + timedelta(seconds=1)
    assert agent_sessions.reserve_longest_idle(session, campaign.id, at, "e1") == agent_id
    for event, reason in [(AgentEvent.CONNECT, None), (AgentEvent.PAUSE, "lunch")]:
        assert agent_sessions.move(session, scope, agent_id, event, at, reason) is not None
    ended = at + timedelta(seconds=60)
    prior = agent_sessions.move(session, scope, agent_id, AgentEvent.END_CALL, ended)
    back = {AgentState.WRAP_UP: AgentEvent.READY}
    assert agent_sessions.move(session, scope, agent_id, back, ended) is AgentState.WRAP_UP
    row = session.get_one(AgentSession, agent_id)
    assert (prior, row.state, row.pause_reason, row.pause_requested, row.since) == (
        AgentState.ON_CALL,
        AgentState.PAUSED,
        "lunch",
        None,
        ended,
    )
    assert row.campaign_id is None and row.call_attempt_id is None
    assert _history(session, agent_id)[2:] == [
        (AgentState.RESERVED, None, campaign.id),
        (AgentState.ON_CALL, None, campaign.id),
        (AgentState.WRAP_UP, None, campaign.id),
        (AgentState.PAUSED, "lunch", None),
    ]


def test_a_move_not_named_for_the_state_or_of_another_tenant_moves_nothing(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    agent_id = make_agent(session, tenant.tenant.id, ready_at=NOW).id
    theirs = make_agent(session, other_tenant.tenant.id, ready_at=NOW).id
    only_wrap_up = {AgentState.WRAP_UP: AgentEvent.READY}
    scope, at = Scope.system(tenant.tenant.id), NOW + timedelta(seconds=1)
    assert agent_sessions.move(session, scope, agent_id, only_wrap_up, at) is None
    assert agent_sessions.move(session, scope, theirs, AgentEvent.PAUSE, at) is None
    with pytest.raises(Conflict):  # the state machine's rules hold
        agent_sessions.move(session, scope, agent_id, AgentEvent.END_CALL, at)
    for user_id in (agent_id, theirs):
        assert session.get_one(AgentSession, user_id).state is AgentState.READY


def test_a_move_leaves_a_person_who_signs_in_alone_when_asked(
    session: Session, tenant: NewTenant
) -> None:
    person = make_agent(session, tenant.tenant.id, ready_at=NOW)
    person.password_hash = "set"
    session.flush()
    at = NOW + timedelta(seconds=1)
    scope = Scope.system(tenant.tenant.id)
    played = agent_sessions.move(
        session, scope, person.id, AgentEvent.PAUSE, at, simulated_only=True
    )
    assert played is None
    moved = agent_sessions.move(session, scope, person.id, AgentEvent.PAUSE, at)
    assert moved is AgentState.READY


def _agent_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if s.startswith("SELECT") and "FROM agent_sessions" in s]


def test_a_move_on_a_belief_that_holds_reads_nothing_and_writes_what_the_read_would(
    session: Session, tenant: NewTenant
) -> None:
    """The engine's connect, end of call and the simulation's ready, each given the state the
    last move left: no read of the agent, and the same rows and history as moves that read."""
    campaign = make_campaign(session, tenant.tenant.id)
    believing = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW).id
    reading = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW).id
    scope, at = Scope.system(tenant.tenant.id), NOW + timedelta(seconds=1)
    ended = at + timedelta(seconds=60)
    freeing = {AgentState.ON_CALL: AgentEvent.END_CALL, AgentState.RESERVED: AgentEvent.RELEASE}
    steps: list[tuple[AgentEvent | dict[AgentState, AgentEvent], datetime, AgentState, bool]] = [
        (AgentEvent.CONNECT, at, AgentState.RESERVED, False),
        (freeing, ended, AgentState.ON_CALL, False),
        ({AgentState.WRAP_UP: AgentEvent.READY}, ended, AgentState.WRAP_UP, True),
    ]
    for user_id in (believing, reading):
        agent_sessions.reserve_longest_idle(session, campaign.id, at, "e1", only_user=user_id)
    for event, when, state, simulated in steps:
        believed = agent_sessions.Believed(state, campaign.id)
        move = partial(agent_sessions.move, session, scope, at=when, simulated_only=simulated)
        sent = _statements_while(session, partial(move, believing, event, believed=believed))
        assert _agent_reads(sent) == [], sent
        read = _statements_while(session, partial(move, reading, event))
        assert len(_agent_reads(read)) == 1, read
    rows = [session.get_one(AgentSession, user_id) for user_id in (believing, reading)]
    columns = ("state", "since", "pause_reason", "pause_requested", "campaign_id", "contact_id")
    assert [getattr(rows[0], c) for c in columns] == [getattr(rows[1], c) for c in columns]
    assert rows[0].state is AgentState.READY
    assert _history(session, believing) == _history(session, reading)


@pytest.mark.parametrize(
    "belief",
    [
        "another state",
        "a pause asked for",
        "another campaign",
        "a state the rules refuse",
        "a state the event does not name",
    ],
)
def test_a_move_on_a_belief_that_does_not_hold_reads_and_moves_as_without_it(
    session: Session, tenant: NewTenant, belief: str
) -> None:
    campaign = make_campaign(session, tenant.tenant.id)
    other = make_campaign(session, tenant.tenant.id, "Other")
    agents = [
        make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW).id
        for _ in range(2)
    ]
    scope, at = Scope.system(tenant.tenant.id), NOW + timedelta(seconds=1)
    for user_id in agents:  # both on a call, a pause asked for
        agent_sessions.reserve_longest_idle(session, campaign.id, at, "e1", only_user=user_id)
        agent_sessions.move(session, scope, user_id, AgentEvent.CONNECT, at)
        agent_sessions.move(session, scope, user_id, AgentEvent.PAUSE, at, "lunch")
    believed = {
        "another state": agent_sessions.Believed(AgentState.WRAP_UP, campaign.id),
        "a pause asked for": agent_sessions.Believed(AgentState.ON_CALL, campaign.id),
        "another campaign": agent_sessions.Believed(AgentState.ON_CALL, other.id, None, "lunch"),
        "a state the rules refuse": agent_sessions.Believed(AgentState.LOGGED_OUT, None),
        "a state the event does not name": agent_sessions.Believed(AgentState.READY, None),
    }[belief]
    event = {AgentState.ON_CALL: AgentEvent.END_CALL, AgentState.LOGGED_OUT: AgentEvent.END_CALL}
    ended = at + timedelta(seconds=30)
    sent = _statements_while(
        session,
        lambda: agent_sessions.move(session, scope, agents[0], event, ended, believed=believed),
    )
    assert len(_agent_reads(sent)) == 1, sent
    agent_sessions.move(session, scope, agents[1], event, ended)
    rows = [session.get_one(AgentSession, user_id) for user_id in agents]
    assert [(r.state, r.pause_requested, r.since) for r in rows] == [
        (AgentState.WRAP_UP, "lunch", ended)
    ] * 2
    assert _history(session, agents[0]) == _history(session, agents[1])
    assert _history(session, agents[0])[-1] == (AgentState.WRAP_UP, None, campaign.id)


def test_a_belief_does_not_move_another_tenants_agent_nor_a_person_who_signs_in(
    session: Session, tenant: NewTenant, other_tenant: NewTenant
) -> None:
    theirs = make_agent(session, other_tenant.tenant.id, ready_at=NOW).id
    person = make_agent(session, tenant.tenant.id, ready_at=NOW)
    person.password_hash = "set"
    session.flush()
    scope, at = Scope.system(tenant.tenant.id), NOW + timedelta(seconds=1)
    ready = agent_sessions.Believed(AgentState.READY, None)
    assert agent_sessions.move(session, scope, theirs, AgentEvent.PAUSE, at, believed=ready) is None
    played = agent_sessions.move(
        session, scope, person.id, AgentEvent.PAUSE, at, simulated_only=True, believed=ready
    )
    assert played is None
    for user_id in (theirs, person.id):
        assert session.get_one(AgentSession, user_id).state is AgentState.READY


def test_a_reservation_with_the_phone_reserves_whom_the_plain_one_would_in_one_statement(
    session: Session, tenant: NewTenant
) -> None:
    """The compare-and-set on the longest idle ready member returns their phone; when nobody
    is ready, SQLite (one statement runs alone) knows it, PostgreSQL lists the ready members
    (another engine may have taken the first one meanwhile)."""
    campaign = make_campaign(session, tenant.tenant.id)
    first = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW)
    second = make_agent(session, tenant.tenant.id, campaigns=[campaign], ready_at=NOW)
    first.sip_uri, second.extension = "sip:first@example.test", "204"
    session.flush()
    at = NOW + timedelta(seconds=3)
    reserved: list[tuple[int, agent_sessions.AgentPhone] | None] = []
    sent = _statements_while(
        session,
        lambda: reserved.extend(
            agent_sessions.reserve_longest_idle_with_phone(session, campaign.id, at, "e1")
            for _ in range(3)
        ),
    )
    assert reserved == [
        (first.id, agent_sessions.AgentPhone("sip:first@example.test", None, first.username)),
        (second.id, agent_sessions.AgentPhone(None, "204", second.username)),
        None,
    ]
    nobody = ["UPDATE"] if session.get_bind().dialect.name == "sqlite" else ["UPDATE", "SELECT"]
    assert [s.split()[0] for s in sent] == ["UPDATE", "INSERT"] * 2 + nobody, sent
    assert _history(session, first.id)[-1] == (AgentState.RESERVED, None, campaign.id)
