"""The rollups: closed attempts and agent state seconds per UTC quarter hour, written past a
per-tenant watermark by housekeeping (never on the engine's path), so a month's report reads
thousands of rows, not millions. Before the watermark a report reads the rollups; after it,
the history itself (``reports/history.py``): together they are exact.

A quarter hour is rolled once it ended ``SETTLE`` ago and no attempt started before its end is
still open (its outcome is not known yet). Every UTC offset in use is a whole number of quarter
hours (also the :45 ones: Nepal, Chatham), so quarters compose into any zone's hours and days.
Result codes are not rolled up: an agent may set one long after the call."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import closed_dates, within_hours, zone
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
from opendialer.reports.history import (
    BUSY,
    Change,
    Counts,
    attempts,
    clipped,
    count_columns,
    filtered,
    from_bucket,
    marks,
    split,
)
from opendialer.reports.schemas import ReportFilter
from opendialer.reports.sql import MINUTE, QUARTER, bucket
from opendialer.scoping import Scope, owned

SETTLE = timedelta(minutes=5)  # writes are stamped with the time they happen: let them land
STEP = timedelta(days=1)  # one transaction rolls at most this much


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


def roll(session: Session, scope: Scope, now: datetime) -> datetime | None:
    """Roll up to ``STEP`` of the tenant's settled history; the watermark after it (as
    :func:`watermark` reads it: None while nothing is rolled, so a caller comparing before and
    after sees no move when nothing has settled yet)."""
    row = session.scalar(
        select(ReportWatermark)
        .where(ReportWatermark.tenant_id == scope.tenant_id)
        .with_for_update()  # two servers on one database roll one after the other
    )
    stored = row.rolled_until if row is not None else None
    start = stored if stored is not None else _first_quarter(session, scope)
    if start is None:
        return None
    until = min(_settled_until(session, scope, now), start + STEP)
    if until <= start:
        return stored
    session.add_all(_attempt_quarters(session, scope, start, until))
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


@dataclass(slots=True)
class _Quarter:
    counts: Counts
    outside_hours: int = 0


def _attempt_quarters(
    session: Session, scope: Scope, start: datetime, end: datetime
) -> list[AttemptQuarter]:
    """Per campaign, agent and quarter; read per minute for the calling-hours check."""
    minute = bucket(session, CallAttempt.started_at, MINUTE).label("minute")
    stmt = attempts(
        scope,
        ReportFilter(start.date(), start.date()),
        start,
        end,
        CallAttempt.campaign_id,
        CallAttempt.user_id,
        minute,
        *count_columns(),
    ).group_by(CallAttempt.campaign_id, CallAttempt.user_id, minute)
    campaigns = {c.id: c for c in session.scalars(owned(Campaign, scope))}
    found: defaultdict[tuple[int, int | None, datetime], _Quarter] = defaultdict(
        lambda: _Quarter(Counts())
    )
    for campaign_id, user_id, number, *numbers in session.execute(stmt):
        if campaign_id is None:
            continue  # its campaign was deleted: the reports leave it out
        at = from_bucket(number, MINUTE)
        quarter = found[(campaign_id, user_id, floor_quarter(at))]
        counts = Counts(*map(int, numbers))
        quarter.counts.add(counts)
        if not open_at(campaigns[campaign_id], at):
            quarter.outside_hours += counts.attempts
    return [
        AttemptQuarter(
            tenant_id=scope.tenant_id,
            campaign_id=campaign_id,
            user_id=user_id,
            quarter=quarter,
            attempts=q.counts.attempts,
            live=q.counts.live,
            machines=q.counts.machines,
            abandoned=q.counts.abandoned,
            connects=q.counts.connects,
            outside_hours=q.outside_hours,
        )
        for (campaign_id, user_id, quarter), q in found.items()
    ]


def open_at(campaign: Campaign, at: datetime) -> bool:
    """Whether the campaign's own days and hours (in its time zone) allow a call at ``at``."""
    local = at.astimezone(zone(campaign.timezone))
    if local.date() in closed_dates(campaign):
        return False
    days = campaign.calling_days or ()
    return within_hours(local, campaign.calling_hours_start, campaign.calling_hours_end, days)


def _roll_states(session: Session, scope: Scope, start: datetime, end: datetime) -> None:
    log = AgentStateChange
    rows = session.scalars(owned(log, scope).where(log.at >= start, log.at < end))
    changes = [
        *marks(session, scope),
        *(Change(c.user_id, c.state, c.pause_reason, c.campaign_id, c.at, c.id) for c in rows),
    ]
    seconds: defaultdict[tuple[int, AgentState, str | None, int | None, datetime], float]
    seconds = defaultdict(float)
    for part in clipped(changes, start, end):
        if part.state is AgentState.LOGGED_OUT:
            continue  # no report counts it, and it would be most of the rows
        for quarter, spent in split(part, QUARTER):
            seconds[(part.user_id, part.state, part.pause_reason, part.campaign_id, quarter)] += (
                spent
            )
    session.add_all(
        AgentStateQuarter(
            tenant_id=scope.tenant_id,
            user_id=user_id,
            state=state,
            pause_reason=reason,
            campaign_id=campaign_id,
            quarter=quarter,
            seconds=spent,
        )
        for (user_id, state, reason, campaign_id, quarter), spent in seconds.items()
    )
    _move_marks(session, scope, changes)


def _move_marks(session: Session, scope: Scope, changes: Iterable[Change]) -> None:
    latest: dict[int, Change] = {}
    for change in sorted(changes, key=lambda c: (c.at, c.order)):
        latest[change.user_id] = change
    session.execute(delete(AgentStateMark).where(AgentStateMark.tenant_id == scope.tenant_id))
    session.add_all(
        AgentStateMark(
            user_id=c.user_id,
            tenant_id=scope.tenant_id,
            state=c.state,
            pause_reason=c.pause_reason,
            campaign_id=c.campaign_id,
            at=c.at,
        )
        for c in latest.values()
    )


def roll_tenants(session: Session, now: datetime) -> bool:
    """A step for every tenant; whether any watermark moved (then there may be more)."""
    moved = False
    for tenant_id in session.scalars(select(Tenant.id)):
        scope = Scope.system(tenant_id)
        before = watermark(session, scope)
        moved |= roll(session, scope, now) != before
    return moved


def roll_all(session: Session, scope: Scope, now: datetime) -> datetime | None:
    """Roll until the watermark stops moving (tests and benches; housekeeping rolls a step per
    transaction)."""
    before, after = None, roll(session, scope, now)
    while after != before:
        before, after = after, roll(session, scope, now)
    return after


# -- reading ------------------------------------------------------------------------------------


def _rolled_attempts(
    scope: Scope, wanted: ReportFilter, start: datetime, end: datetime, *columns: Any
) -> Any:
    q = AttemptQuarter
    return filtered(q, q.quarter, scope, wanted, start, end, *columns)


def rolled_quarter_counts(
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[tuple[int, datetime], tuple[Counts, int]]:
    """Per campaign and quarter: the counts and the calls outside hours."""
    q = AttemptQuarter
    stmt = _rolled_attempts(
        scope,
        wanted,
        start,
        end,
        q.campaign_id,
        q.quarter,
        *(func.sum(c) for c in (q.attempts, q.live, q.machines, q.abandoned, q.connects)),
        func.sum(q.outside_hours),
    ).group_by(q.campaign_id, q.quarter)
    return {
        (campaign_id, quarter): (Counts(*map(int, numbers[:5])), int(numbers[5]))
        for campaign_id, quarter, *numbers in session.execute(stmt)
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
    session: Session, scope: Scope, start: datetime, end: datetime
) -> dict[tuple[int, datetime], float]:
    """Seconds agents were busy for each campaign, per quarter."""
    s = AgentStateQuarter
    stmt = (
        owned(s, scope)
        .with_only_columns(s.campaign_id, s.quarter, func.sum(s.seconds))
        .where(
            s.quarter >= start,
            s.quarter < end,
            s.state.in_(BUSY),
        )
        .group_by(s.campaign_id, s.quarter)
    )
    rows = session.execute(stmt)
    return {(cid, quarter): float(sec) for cid, quarter, sec in rows if cid is not None}


def rolled_logged_in_seconds(
    session: Session, scope: Scope, start: datetime, end: datetime
) -> dict[tuple[int, datetime], float]:
    """Seconds each campaign's current members were logged in, per quarter."""
    s, member = AgentStateQuarter, CampaignMember
    stmt = (
        owned(s, scope)
        .join(member, member.user_id == s.user_id)
        .with_only_columns(member.campaign_id, s.quarter, func.sum(s.seconds))
        .where(s.quarter >= start, s.quarter < end)
        .group_by(member.campaign_id, s.quarter)
    )
    return {(cid, quarter): float(sec) for cid, quarter, sec in session.execute(stmt)}
