"""Agents' live state in the database: the one path for the agent API, the engine and the sim.

Reserving an agent is a compare-and-set on ``agent_sessions`` (``state = 'ready'``), so with
several engine processes an agent still gets one call at a time.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from opendialer.engine import state_log
from opendialer.engine.agent_state import AgentEvent, AgentStatus, InvalidTransition, apply
from opendialer.errors import Conflict, NotFound
from opendialer.models import AgentSession, AgentState, CampaignMember, User, UserRole
from opendialer.scoping import Scope, get_owned, require_owner, require_role, require_self


def agent_session(session: Session, scope: Scope, *, user_id: int) -> AgentSession:
    """The agent's live row in the scope's tenant (made on first use); another tenant's user
    or a user who is no agent is a 404, another agent's row for an agent scope a 403."""
    row = session.get(AgentSession, user_id)  # no statement when the transaction has it
    if row is not None:
        require_owner(scope, row.tenant_id, "agent", user_id)
        require_self(scope, user_id)
        return row
    user = get_owned(session, User, scope, user_id, "agent")
    if user.role != UserRole.AGENT:
        raise NotFound("agent", user_id)
    require_self(scope, user_id)
    row = AgentSession(user_id=user_id, tenant_id=scope.tenant_id, state=AgentState.LOGGED_OUT)
    session.add(row)
    session.flush()
    return row


def act(
    session: Session,
    scope: Scope,
    event: AgentEvent,
    *,
    user_id: int,
    at: datetime,
    reason: str | None = None,
) -> AgentSession:
    """Apply one state-machine event; an event the state does not allow is a 409. Forcing an
    agent out takes a supervisor (403)."""
    if event is AgentEvent.FORCE_LOGOUT:
        require_role(scope, UserRole.SUPERVISOR)
    row = agent_session(session, scope, user_id=user_id)
    current = AgentStatus(row.state, row.since, row.pause_reason, row.pause_requested)
    try:
        status = apply(current, event, at, reason)
    except InvalidTransition as exc:
        raise Conflict(
            str(exc),
            code="invalid_agent_transition",
            details={"state": row.state.value, "event": event.value},
        ) from exc
    entered = status.state != row.state or status.pause_reason != row.pause_reason
    if status.state != row.state:
        row.since = at
    row.state = status.state
    row.pause_reason = status.pause_reason
    row.pause_requested = status.pause_requested
    if event is AgentEvent.LOGIN:
        row.logged_in_at = at
    if status.state in (AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT):
        row.campaign_id = row.contact_id = row.call_attempt_id = None
    if status.state is AgentState.LOGGED_OUT:
        row.engine_id = None  # no engine holds a reservation on them any more
    if entered:
        state_log.record(session, row, at)
    session.flush()
    return row


def _ready_members(campaign_id: int) -> Select[int]:
    return (
        select(AgentSession.user_id)
        .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
        .where(CampaignMember.campaign_id == campaign_id, AgentSession.state == AgentState.READY)
    )


def reserve_longest_idle(
    session: Session,
    campaign_id: int,
    at: datetime,
    engine_id: str,
    *,
    attempt_id: int | None = None,
    contact_id: int | None = None,
    only_user: int | None = None,
    as_state: AgentState = AgentState.RESERVED,
) -> int | None:
    """Reserve the campaign member who has been ready longest; None when nobody is ready.

    ``as_state`` is RESERVED for a call, or PREVIEW when a contact is offered for preview.
    """
    stmt = _ready_members(campaign_id).order_by(AgentSession.since, AgentSession.user_id)
    if only_user is not None:
        stmt = stmt.where(AgentSession.user_id == only_user)
    for user_id in session.scalars(stmt.limit(4)).all():
        tenant_id = session.execute(
            update(AgentSession)
            .where(AgentSession.user_id == user_id, AgentSession.state == AgentState.READY)
            .values(
                state=as_state,
                since=at,
                campaign_id=campaign_id,
                call_attempt_id=attempt_id,
                contact_id=contact_id,
                engine_id=engine_id,
            )
            .returning(AgentSession.tenant_id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if tenant_id is not None:
            row = session.identity_map.get(session.identity_key(AgentSession, user_id))
            if row is not None:
                session.expire(row)
            state_log.record_reserved(session, tenant_id, user_id, as_state, campaign_id, at)
            return user_id
    return None


@dataclass(frozen=True, slots=True)
class AgentCounts:
    logged_in: int
    ready: int
    busy: int  # reserved, preview, on call or in wrap-up
    paused: int


def campaign_agent_counts(session: Session, campaign_id: int) -> AgentCounts:
    rows = session.execute(
        select(AgentSession.state, func.count())
        .join(CampaignMember, CampaignMember.user_id == AgentSession.user_id)
        .where(CampaignMember.campaign_id == campaign_id)
        .group_by(AgentSession.state)
    ).all()
    return agent_counts({AgentState(state): int(n) for state, n in rows})


def agent_counts(by_state: dict[AgentState, int]) -> AgentCounts:
    """The counts of logged-in agents by kind, from their number in each state."""
    busy = sum(
        by_state.get(s, 0)
        for s in (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL, AgentState.WRAP_UP)
    )
    ready, paused = by_state.get(AgentState.READY, 0), by_state.get(AgentState.PAUSED, 0)
    return AgentCounts(logged_in=ready + busy + paused, ready=ready, busy=busy, paused=paused)
