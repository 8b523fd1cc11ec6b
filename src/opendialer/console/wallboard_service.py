"""Builds the tenant's wallboard document. :func:`build` reads it whole (the API's one answer).
The producer keeps what it read (:class:`Live`): :func:`read_slow` reads the slow part
(contacts left, the 30 days before today, agents' times today, occupancy per quarter, every
agent and all of today's counts) every ``SLOW_SECONDS``, and each tick's :func:`refresh` reads
only what may have moved: the agents whose live row changed, today's counts from the quarter
before the current one, the calls, member states and pacing log."""

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.console.wallboard_schemas import (
    AgentBoard,
    CampaignBoard,
    PacingLine,
    QuarterPoint,
    Wallboard,
)
from opendialer.dialing.service import call_counts
from opendialer.engine.compliance import zone
from opendialer.engine.runner import Engine
from opendialer.models import (
    AgentSession,
    AgentState,
    CallAttempt,
    Campaign,
    CampaignMember,
    Contact,
    ContactStatus,
    PacingDecision,
    User,
    UserRole,
)
from opendialer.reports import rollups
from opendialer.reports.history import BUSY, Counts, split
from opendialer.reports.schemas import ReportFilter
from opendialer.reports.service import quarter_counts, state_intervals
from opendialer.reports.sql import QUARTER
from opendialer.scoping import Scope, owned, tenant_of

SLOW_SECONDS = 15.0  # agents' times today and the other slow parts move this often (CPU: see docs)
PACING_LINES = 12
NEAR_CAP = 2 / 3  # the abandonment colour turns "near" past this share of the cap
RATE_WINDOW = timedelta(minutes=15)
# Between slow reads, today's counts are re-read from this long before the current quarter:
# calls that started earlier and end meanwhile count at the next slow read.
RECENT = timedelta(minutes=15)


@dataclass(slots=True)
class SlowParts:
    built_at: datetime
    day: date
    contacts_left: dict[int, int]
    before_today: dict[int, Counts]  # the 30 days up to today's midnight, per campaign
    agent_times: dict[int, dict[str, float]]
    agent_calls: dict[int, int]
    busy_quarters: dict[datetime, float] = field(default_factory=dict)
    logged_in_quarters: dict[datetime, float] = field(default_factory=dict)
    # Calls seen joined to an agent since ``agent_calls`` was read (attempt -> agent): their
    # attempt has the agent only once it ends, so they count on top until the next read.
    talked: dict[int, int] = field(default_factory=dict)


def build(
    session: Session, scope: Scope, now: datetime, engine: Engine | None, slow: SlowParts | None
) -> tuple[Wallboard, SlowParts]:
    """The wallboard now, and the slow part to hand back next time."""
    tz = zone(tenant_of(session, scope).timezone)
    day = now.astimezone(tz).date()
    midnight = datetime.combine(day, time(0), tz).astimezone(UTC)
    if slow is None or _slow_due(slow, day, now):
        slow = _slow_parts(session, scope, now, day, midnight)
    campaigns = _campaigns(session, scope)
    today = quarter_counts(session, scope, ReportFilter(day, day), midnight, now + timedelta(1))
    return _assemble(session, scope, now, str(tz), engine, campaigns, today, slow, None), slow


@dataclass(slots=True)
class Live:
    """What the producer read before: the slow part, today's counts (calls in progress not
    added) and every agent's line."""

    slow: SlowParts
    today: dict[tuple[int, datetime], Counts]
    agents: dict[int, AgentBoard]
    marks: dict[int, tuple[object, ...]] = field(default_factory=dict)  # see _agent_marks


def read_slow(session: Session, scope: Scope, now: datetime) -> Live:
    """The slow part, all of today's counts and every agent's line as of ``now``: what
    :func:`refresh` starts from (the producer reads it every ``SLOW_SECONDS``, beside its
    ticks, so a slow read never holds a tick up)."""
    tz = zone(tenant_of(session, scope).timezone)
    day = now.astimezone(tz).date()
    midnight = datetime.combine(day, time(0), tz).astimezone(UTC)
    slow = _slow_parts(session, scope, now, day, midnight)
    today = quarter_counts(session, scope, ReportFilter(day, day), midnight, now + timedelta(1))
    agents = _agents(session, scope, _campaigns(session, scope), slow)
    return Live(slow, today, {a.user_id: a for a in agents}, _agent_marks(session, scope))


def refresh(
    session: Session,
    scope: Scope,
    now: datetime,
    engine: Engine | None,
    live: Live,
    changed_agents: Collection[int],
) -> Wallboard:
    """The wallboard now, reading only what may have moved since ``live`` was read: the
    agents whose live row changed or who were told in ``changed_agents`` (published since),
    today's counts since the quarter before the current one, the campaigns' calls and
    members, the pacing log. Updates ``live`` in place."""
    tz = zone(tenant_of(session, scope).timezone)
    day = now.astimezone(tz).date()
    midnight = datetime.combine(day, time(0), tz).astimezone(UTC)
    if live.slow.day != day:  # past midnight: yesterday's quarters go before the next slow read
        live.today = {key: counts for key, counts in live.today.items() if key[1] >= midnight}
    since = max(midnight, rollups.floor_quarter(now) - RECENT)
    live.today.update(
        quarter_counts(session, scope, ReportFilter(day, day), since, now + timedelta(1))
    )
    marks = _agent_marks(session, scope)
    moved = {user_id for user_id, mark in marks.items() if live.marks.get(user_id) != mark}
    only = moved | set(changed_agents) | (live.marks.keys() - marks.keys())
    live.marks = marks
    today = dict(live.today)  # the calls in progress are added to a copy
    campaigns = _campaigns(session, scope)
    board = _assemble(session, scope, now, str(tz), engine, campaigns, today, live.slow, only)
    live.agents.update((a.user_id, a) for a in board.agents)
    agents = sorted(live.agents.values(), key=lambda a: (a.username, a.user_id))
    return board.model_copy(update={"agents": agents})


def _agent_marks(session: Session, scope: Scope) -> dict[int, tuple[object, ...]]:
    """What each agent's line shows from their live row: a change made anywhere (another
    process too, which publishes nothing here) shows as a changed mark."""
    rows = session.execute(
        owned(AgentSession, scope).with_only_columns(
            AgentSession.user_id,
            AgentSession.state,
            AgentSession.since,
            AgentSession.pause_reason,
            AgentSession.campaign_id,
            AgentSession.contact_id,
        )
    )
    return {user_id: tuple(rest) for user_id, *rest in rows}


def _slow_due(slow: SlowParts, day: date, now: datetime) -> bool:
    return slow.day != day or (now - slow.built_at).total_seconds() >= SLOW_SECONDS


def _campaigns(session: Session, scope: Scope) -> list[Campaign]:
    return list(session.scalars(owned(Campaign, scope).order_by(Campaign.name)))


def _assemble(
    session: Session,
    scope: Scope,
    now: datetime,
    time_zone: str,
    engine: Engine | None,
    campaigns: list[Campaign],
    today: dict[tuple[int, datetime], Counts],
    slow: SlowParts,
    only_agents: Collection[int] | None,
) -> Wallboard:
    """The document from today's counts (calls in progress are added to them here) with the
    agents ``only_agents`` (None: all)."""
    talking = _talking(session, engine, {c.id for c in campaigns})
    _count_talking(today, talking)
    joined = {call.attempt_id: call.agent_id for call in talking if call.agent_id}
    if only_agents is not None:  # a call newly joined moves its agent's calls today
        only_agents = set(only_agents) | {a for c, a in joined.items() if c not in slow.talked}
    slow.talked.update(joined)
    recent = _recent_attempts(session, scope, now)
    members = _member_states(session, campaigns)
    boards = [
        _campaign_board(c, engine, members.get(c.id, {}), today, slow, recent.get(c.id, 0), now)
        for c in campaigns
    ]
    nobody = only_agents is not None and not only_agents
    return Wallboard(
        at=now,
        time_zone=time_zone,
        campaigns=boards,
        agents=[] if nobody else _agents(session, scope, campaigns, slow, only_agents),
        pacing=_pacing(session, campaigns, now),
        quarters=_quarters(campaigns, today, slow),
    )


# -- campaigns -----------------------------------------------------------------------------


def _member_states(session: Session, campaigns: list[Campaign]) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(CampaignMember.campaign_id, AgentSession.state, func.count())
        .join(AgentSession, AgentSession.user_id == CampaignMember.user_id)
        .where(
            CampaignMember.campaign_id.in_([c.id for c in campaigns]),
            AgentSession.state != AgentState.LOGGED_OUT,
        )
        .group_by(CampaignMember.campaign_id, AgentSession.state)
    )
    found: defaultdict[int, dict[str, int]] = defaultdict(dict)
    for campaign_id, state, count in rows:
        found[campaign_id][AgentState(state).value] = int(count)
    return found


def _recent_attempts(session: Session, scope: Scope, now: datetime) -> dict[int, int]:
    rows = session.execute(
        owned(CallAttempt, scope)
        .with_only_columns(CallAttempt.campaign_id, func.count())
        .where(CallAttempt.started_at >= now - RATE_WINDOW)
        .group_by(CallAttempt.campaign_id)
    )
    return {cid: int(n) for cid, n in rows if cid is not None}


def _campaign_board(
    campaign: Campaign,
    engine: Engine | None,
    states: dict[str, int],
    today: dict[tuple[int, datetime], Counts],
    slow: SlowParts,
    recent: int,
    now: datetime,
) -> CampaignBoard:
    day = Counts()
    for (campaign_id, _quarter), counts in today.items():
        if campaign_id == campaign.id:
            day.add(counts)
    month = Counts()
    month.add(day)
    month.add(slow.before_today.get(campaign.id, Counts()))
    logged_in = sum(states.values())
    busy = sum(states.get(s.value, 0) for s in BUSY)
    left = slow.contacts_left.get(campaign.id, 0)
    month_rate = _ratio(month.abandoned, month.live)
    return CampaignBoard(
        id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        dial_mode=campaign.dial_mode.value,
        calls=call_counts(engine, campaign.id),
        agents=states,
        occupancy=_ratio(busy, logged_in),
        attempts_today=day.attempts,
        live_today=day.live,
        connects_today=day.connects,
        answer_rate=_ratio(day.live, day.attempts),
        dials_per_connect=_ratio(day.attempts, day.connects),
        abandonment_today=_ratio(day.abandoned, day.live),
        abandonment_30_days=month_rate,
        abandon_cap=campaign.abandon_target,
        cap_level=_cap_level(
            max(month_rate or 0.0, _ratio(day.abandoned, day.live) or 0.0), campaign.abandon_target
        ),
        contacts_left=left,
        runs_out_at=_runs_out(left, recent, now),
    )


@dataclass(frozen=True, slots=True)
class Talking:
    attempt_id: int
    campaign_id: int
    agent_id: int | None
    started_at: datetime


def _talking(session: Session, engine: Engine | None, campaign_ids: set[int]) -> list[Talking]:
    """Calls of these campaigns joined to an agent and not ended yet: the history has their
    connect (and agent) only once they end."""
    if engine is None:
        return []
    calls = list(engine.calls.values())  # one step: the loop changes the dict meanwhile
    joined = {
        c.attempt_id: c
        for c in calls
        if c.campaign_id in campaign_ids and c.connected_at is not None
    }
    if not joined:
        return []
    started = session.execute(
        select(CallAttempt.id, CallAttempt.started_at).where(CallAttempt.id.in_(list(joined)))
    )
    return [
        Talking(attempt_id, joined[attempt_id].campaign_id, joined[attempt_id].agent_id, at)
        for attempt_id, at in started
    ]


def _count_talking(today: dict[tuple[int, datetime], Counts], talking: list[Talking]) -> None:
    """Add the calls in progress to the quarter their attempt started in."""
    for call in talking:
        key = (call.campaign_id, rollups.floor_quarter(call.started_at))
        counts = today.setdefault(key, Counts())
        counts.live += 1
        counts.connects += 1


def _cap_level(rate: float, cap: float) -> str:
    if rate > cap:
        return "over"
    return "near" if rate > cap * NEAR_CAP else "ok"


def _runs_out(left: int, recent: int, now: datetime) -> datetime | None:
    """At the last 15 minutes' attempts per second (each attempt uses up at most one)."""
    if recent == 0 or left == 0:
        return None
    per_second = recent / RATE_WINDOW.total_seconds()
    # To the minute (the page shows hours and minutes): a push carries it only when it moved.
    return (now + timedelta(seconds=left / per_second)).replace(second=0, microsecond=0)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# -- agents ----------------------------------------------------------------------------------


def _agents(
    session: Session,
    scope: Scope,
    campaigns: list[Campaign],
    slow: SlowParts,
    only: Collection[int] | None = None,
) -> list[AgentBoard]:
    """The tenant's agents (``only`` these users, when given)."""
    query = (
        owned(User, scope)
        .with_only_columns(User, AgentSession)
        .outerjoin(AgentSession, AgentSession.user_id == User.id)
        .where(User.role == UserRole.AGENT)
        .order_by(User.username)
    )
    if only is not None:
        query = query.where(User.id.in_(list(only)))
    rows = session.execute(query).all()
    names = {c.id: c.name for c in campaigns}
    contact_ids = [s.contact_id for _u, s in rows if s is not None and s.contact_id is not None]
    contacts = _contact_names(session, scope, contact_ids)
    talked = Counter(slow.talked.values())
    return [_agent_board(user, state, names, contacts, slow, talked) for user, state in rows]


def _contact_names(session: Session, scope: Scope, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        owned(Contact, scope)
        .with_only_columns(Contact.id, Contact.first_name, Contact.name, Contact.company)
        .where(Contact.id.in_(ids))
    )
    return {
        cid: " ".join(p for p in (first, last) if p) or company or f"#{cid}"
        for cid, first, last, company in rows
    }


def _agent_board(
    user: User,
    state: AgentSession | None,
    campaigns: dict[int, str],
    contacts: dict[int, str],
    slow: SlowParts,
    talked: Counter[int],
) -> AgentBoard:
    times = slow.agent_times.get(user.id, {})
    return AgentBoard(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        state=state.state if state else AgentState.LOGGED_OUT,
        since=state.since if state else user.created_at,
        pause_reason=state.pause_reason if state else None,
        campaign=campaigns.get(state.campaign_id) if state and state.campaign_id else None,
        contact=contacts.get(state.contact_id) if state and state.contact_id else None,
        calls_today=slow.agent_calls.get(user.id, 0) + talked[user.id],
        talk_seconds=round(times.get(AgentState.ON_CALL.value, 0.0), 1),
        wait_seconds=round(times.get(AgentState.READY.value, 0.0), 1),
        wrap_up_seconds=round(times.get(AgentState.WRAP_UP.value, 0.0), 1),
        pause_seconds=round(times.get(AgentState.PAUSED.value, 0.0), 1),
    )


# -- pacing and the day's chart --------------------------------------------------------------


def _pacing(session: Session, campaigns: list[Campaign], now: datetime) -> list[PacingLine]:
    names = {c.id: c.name for c in campaigns}
    rows = session.scalars(
        select(PacingDecision)
        .where(
            PacingDecision.campaign_id.in_(list(names)),
            PacingDecision.decided_at >= now - timedelta(minutes=10),
        )
        .order_by(PacingDecision.decided_at.desc(), PacingDecision.id.desc())
        .limit(PACING_LINES)
    )
    return [
        PacingLine(
            campaign=names[d.campaign_id], decided_at=d.decided_at, dials=d.dials, reason=d.reason
        )
        for d in rows
    ]


def _quarters(
    campaigns: list[Campaign], today: dict[tuple[int, datetime], Counts], slow: SlowParts
) -> list[QuarterPoint]:
    caps = {c.id: c.abandon_target for c in campaigns}
    per_quarter: defaultdict[datetime, Counts] = defaultdict(Counts)
    budget_per_quarter: defaultdict[datetime, float] = defaultdict(float)
    for (campaign_id, quarter), counts in today.items():
        per_quarter[quarter].add(counts)
        budget_per_quarter[quarter] += counts.live * caps.get(campaign_id, 0.0)
    budget, spent, points = 0.0, 0, []
    for quarter in sorted(set(per_quarter) | set(slow.logged_in_quarters)):
        counts = per_quarter.get(quarter, Counts())
        budget += budget_per_quarter.get(quarter, 0.0)
        spent += counts.abandoned
        points.append(
            QuarterPoint(
                at=quarter,
                attempts=counts.attempts,
                connects=counts.connects,
                live_answers=counts.live,
                abandoned=counts.abandoned,
                occupancy=_ratio(
                    slow.busy_quarters.get(quarter, 0.0), slow.logged_in_quarters.get(quarter, 0.0)
                ),
                abandonment=_ratio(counts.abandoned, counts.live),
                abandon_budget=round(budget, 3),
                abandon_spent=spent,
            )
        )
    return points


# -- the slow part ---------------------------------------------------------------------------


def _slow_parts(
    session: Session, scope: Scope, now: datetime, day: date, midnight: datetime
) -> SlowParts:
    slow = SlowParts(
        built_at=now,
        day=day,
        contacts_left=_contacts_left(session, scope),
        before_today=_before_today(session, scope, now, midnight),
        agent_times={},
        agent_calls=_agent_calls(session, scope, midnight),
    )
    for part in state_intervals(session, scope, midnight, now):
        times = slow.agent_times.setdefault(part.user_id, defaultdict(float))
        times[part.state.value] += (part.end - part.start).total_seconds()
        if part.state is AgentState.LOGGED_OUT:
            continue
        for quarter, seconds in split(part, QUARTER):
            slow.logged_in_quarters[quarter] = slow.logged_in_quarters.get(quarter, 0.0) + seconds
            if part.state in BUSY:
                slow.busy_quarters[quarter] = slow.busy_quarters.get(quarter, 0.0) + seconds
    return slow


def _contacts_left(session: Session, scope: Scope) -> dict[int, int]:
    rows = session.execute(
        owned(Contact, scope)
        .with_only_columns(Contact.campaign_id, func.count())
        .where(Contact.status == ContactStatus.PENDING, Contact.locked.is_(False))
        .group_by(Contact.campaign_id)
    )
    return {cid: int(n) for cid, n in rows}


def _before_today(
    session: Session, scope: Scope, now: datetime, midnight: datetime
) -> dict[int, Counts]:
    """Per campaign, the 30 days up to today's midnight (from the rollups, mostly)."""
    since = now - timedelta(days=30)
    found: defaultdict[int, Counts] = defaultdict(Counts)
    wanted = ReportFilter(since.date(), midnight.date())
    for (campaign_id, _quarter), counts in quarter_counts(
        session, scope, wanted, rollups.floor_quarter(since), midnight
    ).items():
        found[campaign_id].add(counts)
    return found


def _agent_calls(session: Session, scope: Scope, midnight: datetime) -> dict[int, int]:
    rows = session.execute(
        owned(CallAttempt, scope)
        .with_only_columns(CallAttempt.user_id, func.count())
        .where(CallAttempt.started_at >= midnight, CallAttempt.user_id.is_not(None))
        .group_by(CallAttempt.user_id)
    )
    return {uid: int(n) for uid, n in rows if uid is not None}
