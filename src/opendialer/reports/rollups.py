"""The rollups: closed attempts and agent state seconds per UTC quarter hour, written past a
per-tenant watermark by housekeeping (never on the engine's path), so a month's report reads
thousands of rows, not millions. Before the watermark a report reads the rollups; after it,
the history itself (``reports/history.py``): together they are exact.

A quarter hour is rolled once it ended ``SETTLE`` ago and no attempt started before its end is
still open (its outcome is not known yet). Every UTC offset in use is a whole number of quarter
hours (also the :45 ones: Nepal, Chatham), so quarters compose into any zone's hours and days.
Result codes are not rolled up: an agent may set one long after the call.

Rolling is set-based: a step is one ``INSERT ... SELECT`` per table over at most ``STEP`` of
one tenant's history, in one short transaction (housekeeping's), on SQLite and PostgreSQL."""

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Subquery,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from opendialer.engine.compliance import TenantRules, closed_dates, within_hours, zone
from opendialer.engine.holds import tenant_rules
from opendialer.models import (
    AgentState,
    AgentStateChange,
    AgentStateMark,
    AgentStateQuarter,
    AttemptQuarter,
    CallAttempt,
    Campaign,
    CampaignMember,
    ReportWatermark,
    Tenant,
)
from opendialer.reports.history import BUSY, Counts, attempts, count_columns, filtered, from_bucket
from opendialer.reports.schemas import ReportFilter
from opendialer.reports.sql import QUARTER, bucket, epoch, greatest, least, stored_time, whole
from opendialer.scoping import Scope, owned

SETTLE = timedelta(minutes=5)  # writes are stamped with the time they happen: let them land
STEP = timedelta(hours=6)  # one transaction rolls at most this much (of one tenant)
ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Grain:
    """Periods of ``seconds`` in a zone ``offset`` seconds ahead of UTC: a reading's keys are
    the periods' local starts, labelled UTC (UTC quarters by default)."""

    seconds: int = QUARTER
    offset: int = 0


QUARTERS = Grain()


def floor_quarter(at: datetime) -> datetime:
    return from_bucket(int(at.timestamp()) // QUARTER, QUARTER)


def watermark(session: Session, scope: Scope) -> datetime | None:
    """Up to when (exclusive) the tenant's history is in the rollups; None: nothing is."""
    return session.scalar(
        select(ReportWatermark.rolled_until).where(ReportWatermark.tenant_id == scope.tenant_id)
    )


def rolled_part(
    session: Session, scope: Scope, start: datetime, end: datetime
) -> tuple[datetime | None, datetime]:
    """Split [start, end) at the watermark: the watermark (None when nothing of the range is
    rolled) and where the history must be read from."""
    mark = watermark(session, scope)
    if mark is None or mark <= start:
        return mark, start
    return mark, min(mark, end)


# -- rolling ----------------------------------------------------------------------------------


def roll(session: Session, scope: Scope, now: datetime, step: timedelta = STEP) -> datetime | None:
    """Roll up to ``step`` (whole quarters) of the tenant's settled history; the watermark
    after it (as :func:`watermark` reads it: None while nothing is rolled, so a caller
    comparing before and after sees no move when nothing has settled yet)."""
    row = session.scalar(
        select(ReportWatermark)
        .where(ReportWatermark.tenant_id == scope.tenant_id)
        .with_for_update()  # two servers on one database roll one after the other
    )
    stored = row.rolled_until if row is not None else None
    start = stored if stored is not None else _first_quarter(session, scope)
    if start is None:
        return None
    until = min(_settled_until(session, scope, now), start + step)
    if until <= start:
        return stored
    _roll_attempts(session, scope, start, until)
    _roll_states(session, scope, start, until)
    if row is None:
        session.add(ReportWatermark(tenant_id=scope.tenant_id, rolled_until=until))
    else:
        row.rolled_until = until
    session.flush()
    return until


def _first_quarter(session: Session, scope: Scope) -> datetime | None:
    firsts = [
        session.scalar(
            owned(CallAttempt, scope).with_only_columns(func.min(CallAttempt.started_at))
        ),
        session.scalar(
            owned(AgentStateChange, scope).with_only_columns(func.min(AgentStateChange.at))
        ),
    ]
    known = [at for at in firsts if at is not None]
    return floor_quarter(min(known)) if known else None


def _settled_until(session: Session, scope: Scope, now: datetime) -> datetime:
    until = floor_quarter(now - SETTLE)
    oldest_open = session.scalar(
        owned(CallAttempt, scope)
        .with_only_columns(func.min(CallAttempt.started_at))
        .where(CallAttempt.outcome.is_(None))
    )
    return until if oldest_open is None else min(until, floor_quarter(oldest_open))


def _roll_attempts(session: Session, scope: Scope, start: datetime, end: datetime) -> None:
    """Per campaign, agent and quarter, in one ``INSERT ... SELECT``; an attempt is outside
    hours when its campaign's days and hours did not allow a call in its minute."""
    a = CallAttempt
    number = bucket(session, a.started_at, QUARTER)
    outside = func.count(case((not_(_within_hours(session, scope, start, end)), 1)))
    chosen = (
        attempts(
            scope,
            ReportFilter(start.date(), start.date()),
            start,
            end,
            literal(scope.tenant_id),
            a.campaign_id,
            a.user_id,
            stored_time(session, number * whole(QUARTER)),
            *count_columns(),
            outside,
        )
        .where(a.campaign_id.is_not(None))  # its campaign was deleted: the reports leave it out
        .group_by(a.campaign_id, a.user_id, number)
    )
    q = AttemptQuarter
    into = [q.tenant_id, q.campaign_id, q.user_id, q.quarter, q.attempts, q.live, q.machines]
    into += [q.abandoned, q.connects, q.outside_hours]
    session.execute(insert(q).from_select(into, chosen))


def _within_hours(
    session: Session, scope: Scope, start: datetime, end: datetime
) -> ColumnElement[bool]:
    """Whether an attempt started in a minute its campaign's days and hours allowed, for the
    campaigns called in [start, end)."""
    a = CallAttempt
    called = owned(Campaign, scope).where(
        Campaign.id.in_(
            owned(a, scope)
            .with_only_columns(a.campaign_id)
            .where(a.started_at >= start, a.started_at < end)
            .distinct()
        )
    )
    inside = [
        and_(
            a.campaign_id == campaign.id,
            or_(*(and_(a.started_at >= s, a.started_at < e) for s, e in spans)),
        )
        for campaign in session.scalars(called)
        if (
            spans := list(
                open_spans(campaign, tenant_rules(session, campaign.tenant_id), start, end)
            )
        )
    ]
    return or_(false(), *inside)


def open_spans(
    campaign: Campaign, tenant: TenantRules, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The campaign's open times in [start, end), judged at each minute's start: [from, to)."""
    opened: datetime | None = None
    at = start
    while at < end:
        if open_at(campaign, tenant, at):
            opened = opened or at
        elif opened is not None:
            yield opened, at
            opened = None
        at += ONE_MINUTE
    if opened is not None:
        yield opened, end


def open_at(campaign: Campaign, tenant: TenantRules, at: datetime) -> bool:
    """Whether the campaign's days and hours (in its time zone) allow a call at ``at``, on a
    date neither it nor its tenant has closed."""
    local = at.astimezone(zone(campaign.timezone))
    if local.date() in closed_dates(campaign, tenant):
        return False
    days = campaign.calling_days or ()
    return within_hours(local, campaign.calling_hours_start, campaign.calling_hours_end, days)


def _roll_states(session: Session, scope: Scope, start: datetime, end: datetime) -> None:
    """Each agent's seconds per state, pause reason, campaign and quarter, in one
    ``INSERT ... SELECT``: every change lasts until the agent's next (the state at ``start`` is
    the agent's mark), clipped to [start, end) and split at the quarters."""
    spans = _state_spans(session, scope, start, end)
    first = int(start.timestamp()) // QUARTER
    numbers = select(whole(first).label("number")).cte("quarters", recursive=True)
    following = numbers.c.number + 1
    last = int(end.timestamp()) // QUARTER
    numbers = numbers.union_all(select(following).where(following < last))
    begins = numbers.c.number * whole(QUARTER)
    ends = begins + QUARTER
    seconds = least(session, spans.c.finish, ends) - greatest(session, spans.c.begin, begins)
    columns = (spans.c.user_id, spans.c.state, spans.c.pause_reason, spans.c.campaign_id)
    chosen = (
        select(literal(scope.tenant_id), *columns, stored_time(session, begins), func.sum(seconds))
        .join_from(spans, numbers, and_(begins < spans.c.finish, ends > spans.c.begin))
        .where(spans.c.state != AgentState.LOGGED_OUT)  # no report counts it: most rows
        .group_by(*columns, numbers.c.number)
    )
    s = AgentStateQuarter
    into = (s.tenant_id, s.user_id, s.state, s.pause_reason, s.campaign_id, s.quarter, s.seconds)
    session.execute(insert(s).from_select(into, chosen))
    _move_marks(session, scope, start, end)


def _state_spans(session: Session, scope: Scope, start: datetime, end: datetime) -> Subquery:
    """Each agent's states in [start, end) as seconds since the epoch: begin, finish."""
    log, mark = AgentStateChange, AgentStateMark

    def entered(model: type[AgentStateChange] | type[AgentStateMark], order: Any) -> Any:
        at = epoch(session, model.at).label("at")
        return owned(model, scope).with_only_columns(
            model.user_id, model.state, model.pause_reason, model.campaign_id, at, order
        )

    changes = union_all(
        entered(mark, literal(-1).label("ord")),  # before any history row at the same time
        entered(log, log.id.label("ord")).where(log.at >= start, log.at < end),
    ).subquery("changes")
    c = changes.c
    since, until = start.timestamp(), end.timestamp()
    following = func.lead(c.at).over(partition_by=c.user_id, order_by=(c.at, c.ord))
    return select(
        c.user_id,
        c.state,
        c.pause_reason,
        c.campaign_id,
        greatest(session, c.at, since).label("begin"),
        func.coalesce(following, until).label("finish"),
    ).subquery("spans")


def _move_marks(session: Session, scope: Scope, start: datetime, end: datetime) -> None:
    """Each agent who changed state in [start, end): their last change is their mark now."""
    log, mark = AgentStateChange, AgentStateMark
    changed = owned(log, scope).where(log.at >= start, log.at < end)
    session.execute(
        delete(mark).where(
            mark.tenant_id == scope.tenant_id,
            mark.user_id.in_(changed.with_only_columns(log.user_id)),
        )
    )
    order = func.row_number().over(
        partition_by=log.user_id, order_by=(log.at.desc(), log.id.desc())
    )
    ranked = changed.with_only_columns(
        log.user_id,
        log.tenant_id,
        log.state,
        log.pause_reason,
        log.campaign_id,
        log.at,
        order.label("rank"),
    ).subquery("ranked")
    r = ranked.c
    latest = select(r.user_id, r.tenant_id, r.state, r.pause_reason, r.campaign_id, r.at)
    into = (mark.user_id, mark.tenant_id, mark.state, mark.pause_reason, mark.campaign_id, mark.at)
    session.execute(insert(mark).from_select(into, latest.where(r.rank == 1)))


def tenant_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))


def roll_step(session: Session, scope: Scope, now: datetime) -> bool:
    """A step for one tenant (housekeeping's transaction); whether its watermark moved forward
    (then there may be more). Only a move forward counts: the watermark is bounded by ``now``,
    so a caller that steps while this is true always stops, whatever ``roll`` answers."""
    before = watermark(session, scope)
    after = roll(session, scope, now)
    return after is not None and (before is None or after > before)


def roll_tenants(session: Session, now: datetime) -> bool:
    """A step for every tenant; whether any watermark moved."""
    moved = [roll_step(session, Scope.system(tid), now) for tid in tenant_ids(session)]
    return any(moved)


def roll_all(
    session: Session, scope: Scope, now: datetime, step: timedelta = STEP
) -> datetime | None:
    """Roll until the watermark stops moving (tests and benches; housekeeping rolls a step per
    transaction)."""
    before, after = None, roll(session, scope, now, step)
    while after != before:
        before, after = after, roll(session, scope, now, step)
    return after


# -- reading ------------------------------------------------------------------------------------


def _rolled_attempts(
    scope: Scope, wanted: ReportFilter, start: datetime, end: datetime, *columns: Any
) -> Any:
    q = AttemptQuarter
    return filtered(q, q.quarter, scope, wanted, start, end, *columns)


def rolled_quarter_counts(
    session: Session,
    scope: Scope,
    wanted: ReportFilter,
    start: datetime,
    end: datetime,
    grain: Grain = QUARTERS,
) -> dict[tuple[int, datetime], tuple[Counts, int]]:
    """Per campaign and period of ``grain``: the counts and the calls outside hours."""
    q = AttemptQuarter
    number = bucket(session, q.quarter, grain.seconds, grain.offset).label("number")
    stmt = _rolled_attempts(
        scope,
        wanted,
        start,
        end,
        q.campaign_id,
        number,
        *(func.sum(c) for c in (q.attempts, q.live, q.machines, q.abandoned, q.connects)),
        func.sum(q.outside_hours),
    ).group_by(q.campaign_id, number)
    return {
        (campaign_id, from_bucket(n, grain.seconds)): (
            Counts(*map(int, numbers[:5])),
            int(numbers[5]),
        )
        for campaign_id, n, *numbers in session.execute(stmt)
    }


def rolled_agent_calls(
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """Per agent: calls and connects."""
    q = AttemptQuarter
    stmt = (
        _rolled_attempts(
            scope, wanted, start, end, q.user_id, func.sum(q.attempts), func.sum(q.connects)
        )
        .where(q.user_id.is_not(None))
        .group_by(q.user_id)
    )
    return {uid: (int(calls), int(connects)) for uid, calls, connects in session.execute(stmt)}


def rolled_agent_seconds(
    session: Session, scope: Scope, start: datetime, end: datetime, user_id: int | None
) -> list[tuple[int, AgentState, str | None, float]]:
    """Per agent, state and pause reason: the seconds in [start, end)."""
    s = AgentStateQuarter
    stmt = (
        owned(s, scope)
        .with_only_columns(s.user_id, s.state, s.pause_reason, func.sum(s.seconds))
        .where(s.quarter >= start, s.quarter < end)
        .group_by(s.user_id, s.state, s.pause_reason)
    )
    if user_id is not None:
        stmt = stmt.where(s.user_id == user_id)
    return [
        (uid, AgentState(state), reason, float(sec))
        for uid, state, reason, sec in session.execute(stmt)
    ]


def rolled_busy_seconds(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    campaign_ids: Collection[int] | None,
    grain: Grain = QUARTERS,
) -> dict[tuple[int, datetime], float]:
    """Seconds agents were busy for each campaign (or those asked for), per period."""
    s = AgentStateQuarter
    number = bucket(session, s.quarter, grain.seconds, grain.offset).label("number")
    stmt = (
        owned(s, scope)
        .with_only_columns(s.campaign_id, number, func.sum(s.seconds))
        .where(s.quarter >= start, s.quarter < end, s.state.in_(BUSY))
        .group_by(s.campaign_id, number)
    )
    if campaign_ids is not None:
        stmt = stmt.where(s.campaign_id.in_(campaign_ids))
    return {
        (cid, from_bucket(n, grain.seconds)): float(sec)
        for cid, n, sec in session.execute(stmt)
        if cid is not None
    }


def rolled_logged_in_seconds(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    campaign_ids: Collection[int] | None,
    grain: Grain = QUARTERS,
) -> dict[tuple[int, datetime], float]:
    """Seconds each campaign's (or those asked for's) current members were logged in, per
    period."""
    s, member = AgentStateQuarter, CampaignMember
    number = bucket(session, s.quarter, grain.seconds, grain.offset).label("number")
    stmt = (
        owned(s, scope)
        .join(member, member.user_id == s.user_id)
        .with_only_columns(member.campaign_id, number, func.sum(s.seconds))
        .where(s.quarter >= start, s.quarter < end)
        .group_by(member.campaign_id, number)
    )
    if campaign_ids is not None:
        stmt = stmt.where(member.campaign_id.in_(campaign_ids))
    return {
        (cid, from_bucket(n, grain.seconds)): float(sec) for cid, n, sec in session.execute(stmt)
    }
