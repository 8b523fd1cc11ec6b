"""Agents' live state in the database: the one path for the agent API, the engine and the sim.

Reserving an agent is a compare-and-set on ``agent_sessions`` (``state = 'ready'``), so with
several engine processes an agent still gets one call at a time.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Row, Select, Table, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from opendialer.engine import state_log
from opendialer.engine.agent_state import AgentEvent, AgentStatus, InvalidTransition, apply
from opendialer.errors import Conflict, NotFound
from opendialer.models import AgentSession, AgentState, CampaignMember, User, UserRole
from opendialer.scoping import Scope, get_owned, require_owner, require_role, require_self

AGENT_SESSIONS: Table = AgentSession.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
UNASSIGNED_STATES = frozenset({AgentState.READY, AgentState.PAUSED, AgentState.LOGGED_OUT})
"""An agent in one of these holds no campaign, contact or attempt."""
MOVE_TRIES = 5
"""A move's compare-and-set that lost to another writer reads the row again this many times."""


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
    status = _next_status(current, event, at, reason)
    entered = status.state != row.state or status.pause_reason != row.pause_reason
    for column, value in _move_values(current, status, event, at).items():
        setattr(row, column, value)
    if entered:
        state_log.record(session, row, at)
    session.flush()
    return row


def _next_status(
    current: AgentStatus, event: AgentEvent, at: datetime, reason: str | None
) -> AgentStatus:
    """The state machine's answer; a transition it refuses is a 409."""
    try:
        return apply(current, event, at, reason)
    except InvalidTransition as exc:
        raise Conflict(
            str(exc),
            code="invalid_agent_transition",
            details={"state": current.state.value, "event": event.value},
        ) from exc


@dataclass(frozen=True, slots=True)
class Believed:
    """What the caller believes an agent's row holds (what its own last move wrote): a move
    given it writes first on that belief, read nothing, and reads the row only when the
    compare-and-set finds the row otherwise."""

    state: AgentState
    campaign_id: int | None
    pause_reason: str | None = None
    pause_requested: str | None = None


def move(
    session: Session,
    scope: Scope,
    user_id: int,
    event: AgentEvent | Mapping[AgentState, AgentEvent],
    at: datetime,
    reason: str | None = None,
    *,
    simulated_only: bool = False,
    believed: Believed | None = None,
) -> AgentState | None:
    """:func:`act` for the engine and the simulator, in plain statements: the agent's columns
    read, the state machine's rule applied, the result written with a compare-and-set on what
    was read (another writer in between: read again), and its history row; the publication
    is told (``state_log.changed``), as a flush of the ORM row would tell it.

    ``event`` by the agent's state: a state it does not name moves nothing. The state before,
    or None when nothing moved (that, no row in the tenant, or with ``simulated_only`` a
    person who can sign in, who plays themselves). A transition the rules refuse is a 409.

    ``believed``: the row as the caller believes it is. The move is first written on that
    belief with a compare-and-set on every column the read would have given (the state, the
    pause columns, the campaign, the tenant, and with ``simulated_only`` the user's password),
    so when it holds, the move and its history row are the ones the read would have made, one
    statement fewer; when it does not (or the rules refuse the believed state), the row is read
    as without it."""
    if believed is not None:
        chosen = event.get(believed.state) if isinstance(event, Mapping) else event
        if chosen is not None and _moved_as_believed(
            session, scope, user_id, believed, chosen, at, reason, simulated_only
        ):
            return believed.state
    for _ in range(MOVE_TRIES):
        read = session.execute(
            _status_statement(simulated_only), {"user_id": user_id, "tenant_id": scope.tenant_id}
        ).one_or_none()
        if read is None:
            return None
        chosen = event.get(read.state) if isinstance(event, Mapping) else event
        if chosen is None:
            return None
        if _moved(session, scope, user_id, read, chosen, at, reason):
            return AgentState(read.state)
    raise Conflict("the agent's state keeps changing", code="agent_busy")


@cache
def _status_statement(simulated_only: bool) -> Select[Any]:
    table = AGENT_SESSIONS
    statement = select(
        table.c.state, table.c.pause_reason, table.c.pause_requested, table.c.campaign_id
    ).where(table.c.user_id == bindparam("user_id"), table.c.tenant_id == bindparam("tenant_id"))
    if simulated_only:
        statement = statement.join(User, User.id == table.c.user_id).where(
            User.password_hash.is_(None)
        )
    return statement


def _moved_as_believed(
    session: Session,
    scope: Scope,
    user_id: int,
    believed: Believed,
    event: AgentEvent,
    at: datetime,
    reason: str | None,
    simulated_only: bool,
) -> bool:
    """The move written on ``believed`` if the row holds it; False if it does not, or if the
    rules refuse the move from the believed state (the caller then reads the row)."""
    current = AgentStatus(believed.state, None, believed.pause_reason, believed.pause_requested)
    try:
        status = apply(current, event, at, reason)
    except InvalidTransition:
        return False
    values = _move_values(current, status, event, at)
    statement = _believed_move_statement(tuple(values), simulated_only)
    guard = {"of_tenant": scope.tenant_id, "was_campaign": believed.campaign_id}
    return _write_move(
        session, scope, user_id, current, status, values, at, believed.campaign_id, statement, guard
    )


def _moved(
    session: Session,
    scope: Scope,
    user_id: int,
    read: Row[Any],
    event: AgentEvent,
    at: datetime,
    reason: str | None,
) -> bool:
    """Write the move decided on ``read`` if the row still holds it; False if it changed."""
    current = AgentStatus(read.state, None, read.pause_reason, read.pause_requested)
    status = _next_status(current, event, at, reason)
    values = _move_values(current, status, event, at)
    statement = _move_statement(tuple(values))
    return _write_move(
        session, scope, user_id, current, status, values, at, read.campaign_id, statement, {}
    )


def _write_move(
    session: Session,
    scope: Scope,
    user_id: int,
    current: AgentStatus,
    status: AgentStatus,
    values: dict[str, Any],
    at: datetime,
    was_campaign: int | None,
    statement: Update,
    guard: dict[str, Any],
) -> bool:
    """The compare-and-set ``statement`` from ``current`` to ``status`` (``values``), its
    history row and the publication; False (nothing written) if the row no longer holds
    ``current``."""
    written = session.execute(
        statement,
        {
            **values,
            **guard,
            "agent": user_id,
            "was_state": current.state,
            "was_reason": current.pause_reason,
            "was_requested": current.pause_requested,
        },
    )
    if not written.rowcount:  # type: ignore[attr-defined]
        return False
    orm_copy = session.identity_map.get(session.identity_key(AgentSession, user_id))
    if orm_copy is not None:
        session.expire(orm_copy)
    if status.state != current.state or status.pause_reason != current.pause_reason:
        campaign_id = values.get("campaign_id", was_campaign)
        state_log.record_plain(session, scope.tenant_id, user_id, status, campaign_id, at)
    state_log.changed(session, user_id)
    return True


@cache
def _move_statement(columns: tuple[str, ...]) -> Update:
    """A move's compare-and-set on the columns the state machine decided on."""
    table = AGENT_SESSIONS
    return (
        update(table)
        .where(
            table.c.user_id == bindparam("agent"),
            table.c.state == bindparam("was_state", type_=table.c.state.type),
            table.c.pause_reason.is_not_distinct_from(
                bindparam("was_reason", type_=table.c.pause_reason.type)
            ),
            table.c.pause_requested.is_not_distinct_from(
                bindparam("was_requested", type_=table.c.pause_requested.type)
            ),
        )
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    )


@cache
def _believed_move_statement(columns: tuple[str, ...], simulated_only: bool) -> Update:
    """:func:`_move_statement` guarded on what a read would also have checked: the tenant, the
    campaign (for the history row) and, for ``simulated_only``, that nobody signs in as them."""
    table = AGENT_SESSIONS
    statement = _move_statement(columns).where(
        table.c.tenant_id == bindparam("of_tenant"),
        table.c.campaign_id.is_not_distinct_from(
            bindparam("was_campaign", type_=table.c.campaign_id.type)
        ),
    )
    if simulated_only:
        statement = statement.where(
            select(User.id).where(User.id == table.c.user_id, User.password_hash.is_(None)).exists()
        )
    return statement


def _move_values(
    current: AgentStatus, status: AgentStatus, event: AgentEvent, at: datetime
) -> dict[str, Any]:
    """The columns :func:`act` would set for this move."""
    values: dict[str, Any] = {
        "state": status.state,
        "pause_reason": status.pause_reason,
        "pause_requested": status.pause_requested,
    }
    if status.state != current.state:
        values["since"] = at
    if event is AgentEvent.LOGIN:
        values["logged_in_at"] = at
    if status.state in UNASSIGNED_STATES:
        values.update(campaign_id=None, contact_id=None, call_attempt_id=None)
    if status.state is AgentState.LOGGED_OUT:
        values["engine_id"] = None  # no engine holds a reservation on them any more
    return values


MEMBERS: Table = CampaignMember.__table__  # type: ignore[assignment]


@cache
def _ready_members(only_user: bool, with_phone: bool = False) -> Select[Any]:
    """The campaign's ready members, longest idle first (four: the compare-and-set may lose
    one or two to another engine); ``only_user``: that one member; ``with_phone``: with the
    three columns of the user that say where their phone rings (:class:`AgentPhone`)."""
    table = AGENT_SESSIONS
    columns = (User.sip_uri, User.extension, User.username) if with_phone else ()
    statement = (
        select(table.c.user_id, *columns)
        .join(MEMBERS, MEMBERS.c.user_id == table.c.user_id)
        .where(
            MEMBERS.c.campaign_id == bindparam("campaign_id"),
            table.c.state == AgentState.READY,
        )
    )
    if with_phone:
        statement = statement.join(User, User.id == table.c.user_id)
    if only_user:
        statement = statement.where(table.c.user_id == bindparam("only_user"))
    return statement.order_by(table.c.since, table.c.user_id).limit(4)


@dataclass(frozen=True, slots=True)
class AgentPhone:
    """Where an agent's phone is rung: the user's SIP URI, else their extension or name."""

    sip_uri: str | None
    extension: str | None
    username: str


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
    statement = _ready_members(only_user is not None)
    parameters = {"campaign_id": campaign_id, "only_user": only_user}
    values = _reservation(at, campaign_id, engine_id, attempt_id, contact_id, as_state)
    reserved = _reserve_first(session, statement, parameters, values)
    return None if reserved is None else int(reserved[0])


def reserve_longest_idle_with_phone(
    session: Session,
    campaign_id: int,
    at: datetime,
    engine_id: str,
    *,
    attempt_id: int | None = None,
    contact_id: int | None = None,
) -> tuple[int, AgentPhone] | None:
    """:func:`reserve_longest_idle` for a call, with where the reserved agent's phone rings:
    one ``UPDATE ... RETURNING``, the compare-and-set on the longest idle ready member (the
    first :func:`_ready_members` would list) with the user's three columns. On SQLite one
    statement runs alone, so no row means nobody is ready; on PostgreSQL another engine may
    have taken that member meanwhile, and the next ones are tried as :func:`_reserve_first`
    does."""
    values = _reservation(at, campaign_id, engine_id, attempt_id, contact_id, AgentState.RESERVED)
    parameters = {"campaign_id": campaign_id}
    row = session.execute(_reserve_longest_idle_statement(), {**values, **parameters}).first()
    if row is not None:
        user_id, tenant_id, sip_uri, extension, username = row
        _after_reserving(session, tenant_id, user_id, values)
        return int(user_id), AgentPhone(sip_uri, extension, username)
    if session.connection().dialect.name == "sqlite":
        return None
    reserved = _reserve_first(session, _ready_members(False, True), parameters, values)
    if reserved is None:
        return None
    return int(reserved[0]), AgentPhone(reserved[1], reserved[2], reserved[3])


@cache
def _reserve_longest_idle_statement() -> Update:
    table, users = AGENT_SESSIONS, USERS
    first = (
        select(table.c.user_id)
        .join(MEMBERS, MEMBERS.c.user_id == table.c.user_id)
        .join(users, users.c.id == table.c.user_id)
        .where(
            MEMBERS.c.campaign_id == bindparam("campaign_id"),
            table.c.state == AgentState.READY,
        )
        .order_by(table.c.since, table.c.user_id)
        .limit(1)
        .scalar_subquery()
    )
    # SQLite's RETURNING names columns without their table ("WHERE id = user_id"): users has
    # no user_id, so it is the updated row's (the phone test has two agents, two phones).
    phone = (
        select(users.c[name]).where(users.c.id == table.c.user_id).scalar_subquery().label(name)
        for name in ("sip_uri", "extension", "username")
    )
    return (
        _reservation_update()
        .where(table.c.user_id == first)
        .returning(table.c.user_id, table.c.tenant_id, *phone)
    )


def _reserve_first(
    session: Session, members: Select[Any], parameters: dict[str, Any], values: dict[str, Any]
) -> Sequence[Any] | None:
    """The first of the ready ``members`` whose reservation's compare-and-set wins (its row as
    read); None when another writer took every one first, or nobody is ready."""
    for member in session.execute(members, parameters).all():
        if _reserved(session, member[0], values):
            return member
    return None


def _reservation(
    at: datetime,
    campaign_id: int,
    engine_id: str,
    attempt_id: int | None,
    contact_id: int | None,
    as_state: AgentState,
) -> dict[str, Any]:
    return {
        "state": as_state,
        "since": at,
        "campaign_id": campaign_id,
        "call_attempt_id": attempt_id,
        "contact_id": contact_id,
        "engine_id": engine_id,
    }


def _reserved(session: Session, user_id: int, values: dict[str, Any]) -> bool:
    """The reservation's compare-and-set on one ready member, its history row and the
    publication; False if another writer took them first."""
    written = session.execute(_reserve_statement(), {"agent": user_id, **values})
    tenant_id = written.scalar_one_or_none()
    if tenant_id is None:
        return False
    _after_reserving(session, tenant_id, user_id, values)
    return True


def _after_reserving(
    session: Session, tenant_id: int, user_id: int, values: dict[str, Any]
) -> None:
    """A won reservation's history row and publication; the session's copy expired."""
    row = session.identity_map.get(session.identity_key(AgentSession, user_id))
    if row is not None:
        session.expire(row)
    at, campaign_id = values["since"], values["campaign_id"]
    status = AgentStatus(values["state"], at)
    state_log.record_plain(session, tenant_id, user_id, status, campaign_id, at)
    state_log.changed(session, user_id)


@cache
def _reservation_update() -> Update:
    """The reservation's compare-and-set on a ready agent; the callers add which agent and
    what it returns (at least the tenant, for the history row)."""
    table = AGENT_SESSIONS
    columns = ("state", "since", "campaign_id", "call_attempt_id", "contact_id", "engine_id")
    return (
        update(table)
        .where(table.c.state == AgentState.READY)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    )


@cache
def _reserve_statement() -> Update:
    """The reservation's compare-and-set on one agent (``RETURNING`` the tenant)."""
    agent = AGENT_SESSIONS.c.user_id == bindparam("agent")
    return _reservation_update().where(agent).returning(AGENT_SESSIONS.c.tenant_id)


@dataclass(frozen=True, slots=True)
class AgentCounts:
    logged_in: int
    ready: int
    busy: int  # reserved, preview, on call or in wrap-up
    paused: int


def campaign_agent_counts(session: Session, campaign_id: int) -> AgentCounts:
    rows = session.execute(_counts_statement(), {"campaign_id": campaign_id}).all()
    return agent_counts({AgentState(state): int(n) for state, n in rows})


@cache
def _counts_statement() -> Select[Any]:
    table = AGENT_SESSIONS
    return (
        select(table.c.state, func.count())
        .join(MEMBERS, MEMBERS.c.user_id == table.c.user_id)
        .where(MEMBERS.c.campaign_id == bindparam("campaign_id"))
        .group_by(table.c.state)
    )


def agent_counts(by_state: dict[AgentState, int]) -> AgentCounts:
    """The counts of logged-in agents by kind, from their number in each state."""
    busy = sum(
        by_state.get(s, 0)
        for s in (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL, AgentState.WRAP_UP)
    )
    ready, paused = by_state.get(AgentState.READY, 0), by_state.get(AgentState.PAUSED, 0)
    return AgentCounts(logged_in=ready + busy + paused, ready=ready, busy=busy, paused=paused)
