"""The reports: attempts are counted in SQL per quarter hour (UTC) and rolled up here into the
tenant's hours and days, so one query shape serves every time zone on both databases; agent
times come from the agent state history (``agent_state_changes``)."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import closed_dates, within_hours, zone
from opendialer.errors import BadRequest
from opendialer.models import (
    AgentState,
    AgentStateChange,
    CallAttempt,
    CallOutcome,
    Campaign,
    CampaignMember,
    DncRefusal,
    ResultCode,
    User,
)
from opendialer.reports.schemas import (
    MAX_DAYS,
    AgentPerformanceRow,
    CampaignPeriodRow,
    ComplianceRow,
    ReportFilter,
    ResultRow,
)
from opendialer.reports.sql import MINUTE, QUARTER, bucket
from opendialer.scoping import Scope, get_owned, owned, tenant_of

Period = Literal["hour", "day"]
BUSY = (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL, AgentState.WRAP_UP)
LIVE = (CallOutcome.CONNECTED, CallOutcome.ABANDONED)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    zone: ZoneInfo


@dataclass(slots=True)
class Counts:
    attempts: int = 0
    live: int = 0
    machines: int = 0
    abandoned: int = 0
    connects: int = 0

    def add(self, other: "Counts") -> None:
        self.attempts += other.attempts
        self.live += other.live
        self.machines += other.machines
        self.abandoned += other.abandoned
        self.connects += other.connects


@dataclass(frozen=True, slots=True)
class Interval:
    user_id: int
    state: AgentState
    pause_reason: str | None
    campaign_id: int | None
    start: datetime
    end: datetime


def window(session: Session, scope: Scope, wanted: ReportFilter) -> Window:
    """The filter's days as UTC times, in the tenant's time zone; a bad range is a 400."""
    if wanted.date_to < wanted.date_from:
        raise BadRequest("date_to is before date_from", code="invalid_dates")
    if (wanted.date_to - wanted.date_from).days >= MAX_DAYS:
        raise BadRequest(f"A report covers at most {MAX_DAYS} days", code="invalid_dates")
    tz = zone(tenant_of(session, scope).timezone)
    return Window(_midnight(wanted.date_from, tz), _midnight(wanted.date_to, tz, 1), tz)


def _midnight(day: date, tz: ZoneInfo, plus: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus), time(0), tz).astimezone(UTC)


def _check_filter(session: Session, scope: Scope, wanted: ReportFilter) -> None:
    if wanted.campaign_id is not None:
        get_owned(session, Campaign, scope, wanted.campaign_id, "campaign")
    if wanted.user_id is not None:
        get_owned(session, User, scope, wanted.user_id, "user")


def _attempts(
    scope: Scope, wanted: ReportFilter, start: datetime, end: datetime, *columns: Any
) -> Select[Any]:
    stmt = (
        owned(CallAttempt, scope)
        .with_only_columns(*columns)
        .where(CallAttempt.started_at >= start, CallAttempt.started_at < end)
    )
    if wanted.campaign_id is not None:
        stmt = stmt.where(CallAttempt.campaign_id == wanted.campaign_id)
    if wanted.user_id is not None:
        stmt = stmt.where(CallAttempt.user_id == wanted.user_id)
    return stmt


def quarter_counts(
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[tuple[int, datetime], Counts]:
    """Attempts per campaign and quarter hour (UTC start)."""
    quarter = bucket(session, CallAttempt.started_at, QUARTER).label("quarter")
    outcome = CallAttempt.outcome
    stmt = _attempts(
        scope,
        wanted,
        start,
        end,
        CallAttempt.campaign_id,
        quarter,
        func.count(),
        func.count(case((outcome.in_(LIVE), 1))),
        func.count(case((outcome == CallOutcome.MACHINE, 1))),
        func.count(case((outcome == CallOutcome.ABANDONED, 1))),
        func.count(CallAttempt.connected_at),  # joined to an agent, also while still talking
    ).group_by(CallAttempt.campaign_id, quarter)
    counts = {}
    for campaign_id, q, *numbers in session.execute(stmt):
        if campaign_id is not None:
            counts[(campaign_id, _from_bucket(q, QUARTER))] = Counts(*map(int, numbers))
    return counts


def _from_bucket(number: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(number) * seconds, UTC)


def _period_start(at: datetime, tz: ZoneInfo, period: Period) -> datetime:
    local = at.astimezone(tz)
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return datetime.combine(local.date(), time(0), tz)


def _campaign_names(session: Session, scope: Scope) -> dict[int, Campaign]:
    return {c.id: c for c in session.scalars(owned(Campaign, scope))}


# -- intervals of the agent state history ---------------------------------------------------


def state_intervals(
    session: Session, scope: Scope, start: datetime, end: datetime, user_id: int | None = None
) -> Iterator[Interval]:
    """Every agent's states clipped to [start, end): the state each was in at ``start`` (their
    last change before it) and every change after."""
    log = AgentStateChange
    earlier = owned(log, scope).with_only_columns(log.user_id, func.max(log.at).label("at"))
    earlier = earlier.where(log.at < start).group_by(log.user_id)
    if user_id is not None:
        earlier = earlier.where(log.user_id == user_id)
    last = earlier.subquery()
    first_rows = owned(log, scope).join(
        last, and_(log.user_id == last.c.user_id, log.at == last.c.at)
    )
    rows = owned(log, scope).where(log.at >= start, log.at < end)
    if user_id is not None:
        rows = rows.where(log.user_id == user_id)
    changes = sorted(
        [*session.scalars(first_rows), *session.scalars(rows)],
        key=lambda c: (c.user_id, c.at, c.id),
    )
    yield from _clipped(changes, start, end)


def _clipped(changes: list[AgentStateChange], start: datetime, end: datetime) -> Iterator[Interval]:
    for index, this in enumerate(changes):
        following = changes[index + 1] if index + 1 < len(changes) else None
        until = following.at if following and following.user_id == this.user_id else end
        begin, finish = max(this.at, start), min(until, end)
        if finish > begin:
            yield Interval(
                this.user_id, this.state, this.pause_reason, this.campaign_id, begin, finish
            )


def split(interval: Interval, seconds: int) -> Iterator[tuple[datetime, float]]:
    """The interval's seconds in each UTC period of ``seconds`` it touches."""
    at = interval.start
    while at < interval.end:
        period = _from_bucket(int(at.timestamp()) // seconds, seconds)
        upto = min(period + timedelta(seconds=seconds), interval.end)
        yield period, (upto - at).total_seconds()
        at = upto


# -- agent performance ------------------------------------------------------------------------


def agent_performance(
    session: Session, scope: Scope, wanted: ReportFilter, now: datetime
) -> list[AgentPerformanceRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    end = min(span.end, now)
    times: defaultdict[int, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for part in state_intervals(session, scope, span.start, end, wanted.user_id):
        _add_agent_time(times[part.user_id], part)
    calls = _agent_calls(session, scope, wanted, span)
    users = {u.id: u for u in session.scalars(owned(User, scope))}
    shown = sorted(set(times) | set(calls), key=lambda uid: users[uid].username)
    return [_agent_row(users[uid], times.get(uid, {}), calls.get(uid)) for uid in shown]


def _add_agent_time(times: defaultdict[str, float], part: Interval) -> None:
    seconds = (part.end - part.start).total_seconds()
    if part.state is not AgentState.LOGGED_OUT:
        times["logged_in"] += seconds
    times[part.state.value] += seconds
    if part.state is AgentState.PAUSED:
        times[f"pause:{part.pause_reason or ''}"] += seconds


@dataclass(slots=True)
class AgentCalls:
    calls: int = 0
    connects: int = 0
    results: dict[str, int] | None = None


def _agent_calls(
    session: Session, scope: Scope, wanted: ReportFilter, span: Window
) -> dict[int, AgentCalls]:
    stmt = (
        _attempts(
            scope,
            wanted,
            span.start,
            span.end,
            CallAttempt.user_id,
            ResultCode.code,
            func.count(),
            func.count(CallAttempt.connected_at),
        )
        .outerjoin(ResultCode, ResultCode.id == CallAttempt.result_code_id)
        .where(CallAttempt.user_id.is_not(None))
        .group_by(CallAttempt.user_id, ResultCode.code)
    )
    found: dict[int, AgentCalls] = {}
    for user_id, code, calls, connects in session.execute(stmt):
        row = found.setdefault(user_id, AgentCalls(results={}))
        row.calls += int(calls)
        row.connects += int(connects)
        if code is not None and row.results is not None:
            row.results[code] = row.results.get(code, 0) + int(calls)
    return found


def _agent_row(
    user: User, times: dict[str, float], calls: AgentCalls | None
) -> AgentPerformanceRow:
    pauses = {
        k.removeprefix("pause:"): round(v, 3) for k, v in times.items() if k.startswith("pause:")
    }
    return AgentPerformanceRow(
        user_id=user.id,
        username=user.username,
        logged_in_seconds=round(times.get("logged_in", 0.0), 3),
        ready_seconds=round(times.get(AgentState.READY.value, 0.0), 3),
        talk_seconds=round(times.get(AgentState.ON_CALL.value, 0.0), 3),
        wrap_up_seconds=round(times.get(AgentState.WRAP_UP.value, 0.0), 3),
        pause_seconds=round(times.get(AgentState.PAUSED.value, 0.0), 3),
        pause_by_reason=pauses,
        calls=calls.calls if calls else 0,
        connects=calls.connects if calls else 0,
        results=(calls.results or {}) if calls else {},
    )


# -- results per campaign and day --------------------------------------------------------------


def results(session: Session, scope: Scope, wanted: ReportFilter) -> list[ResultRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    quarter = bucket(session, CallAttempt.started_at, QUARTER).label("quarter")
    stmt = (
        _attempts(
            scope,
            wanted,
            span.start,
            span.end,
            CallAttempt.campaign_id,
            CallAttempt.result_code_id,
            quarter,
            func.count(),
        )
        .where(CallAttempt.result_code_id.is_not(None))
        .group_by(CallAttempt.campaign_id, CallAttempt.result_code_id, quarter)
    )
    per_day: defaultdict[tuple[int, date, int], int] = defaultdict(int)
    for campaign_id, code_id, q, calls in session.execute(stmt):
        if campaign_id is not None:
            day = _from_bucket(q, QUARTER).astimezone(span.zone).date()
            per_day[(campaign_id, day, code_id)] += int(calls)
    campaigns = _campaign_names(session, scope)
    codes = {c.id: c for c in session.scalars(owned(ResultCode, scope))}
    return [
        ResultRow(
            campaign_id=campaign_id,
            campaign=campaigns[campaign_id].name,
            day=day,
            result_code=codes[code_id].code,
            result_text=codes[code_id].text_en,
            calls=calls,
        )
        for (campaign_id, day, code_id), calls in sorted(
            per_day.items(),
            key=lambda item: (item[0][1], campaigns[item[0][0]].name, codes[item[0][2]].code),
        )
    ]


# -- campaign by hour and by day -----------------------------------------------------------------


def campaign_periods(
    session: Session, scope: Scope, wanted: ReportFilter, period: Period, now: datetime
) -> list[CampaignPeriodRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    counts: defaultdict[tuple[int, datetime], Counts] = defaultdict(Counts)
    for (campaign_id, quarter), numbers in quarter_counts(
        session, scope, wanted, span.start, span.end
    ).items():
        counts[(campaign_id, _period_start(quarter, span.zone, period))].add(numbers)
    busy, logged_in = _occupancy_seconds(session, scope, span, min(span.end, now), period)
    campaigns = _campaign_names(session, scope)
    return [
        _period_row(campaigns[cid], at, numbers, busy.get((cid, at)), logged_in.get((cid, at)))
        for (cid, at), numbers in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _occupancy_seconds(
    session: Session, scope: Scope, span: Window, end: datetime, period: Period
) -> tuple[dict[tuple[int, datetime], float], dict[tuple[int, datetime], float]]:
    """Busy seconds per campaign and period, and logged-in seconds of its current members."""
    members: defaultdict[int, set[int]] = defaultdict(set)
    member_rows = (
        select(CampaignMember.user_id, CampaignMember.campaign_id)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(Campaign.id.in_(owned(Campaign, scope).with_only_columns(Campaign.id)))
    )
    for user_id, campaign_id in session.execute(member_rows):
        members[user_id].add(campaign_id)
    busy: defaultdict[tuple[int, datetime], float] = defaultdict(float)
    logged_in: defaultdict[tuple[int, datetime], float] = defaultdict(float)
    for part in state_intervals(session, scope, span.start, end):
        if part.state is AgentState.LOGGED_OUT:
            continue
        for quarter, seconds in split(part, QUARTER):
            at = _period_start(quarter, span.zone, period)
            for campaign_id in members.get(part.user_id, ()):
                logged_in[(campaign_id, at)] += seconds
            if part.state in BUSY and part.campaign_id is not None:
                busy[(part.campaign_id, at)] += seconds
    return busy, logged_in


def _period_row(
    campaign: Campaign, at: datetime, n: Counts, busy: float | None, logged_in: float | None
) -> CampaignPeriodRow:
    return CampaignPeriodRow(
        campaign_id=campaign.id,
        campaign=campaign.name,
        period=at,
        attempts=n.attempts,
        live_answers=n.live,
        machines=n.machines,
        abandoned=n.abandoned,
        abandonment=_ratio(n.abandoned, n.live),
        connects=n.connects,
        dials_per_connect=_ratio(n.attempts, n.connects),
        occupancy=_ratio(busy or 0.0, logged_in or 0.0),
    )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# -- compliance ----------------------------------------------------------------------------------


def compliance(session: Session, scope: Scope, wanted: ReportFilter) -> list[ComplianceRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    lookback = span.start - timedelta(days=30)
    daily: defaultdict[tuple[int, date], Counts] = defaultdict(Counts)
    for (campaign_id, quarter), numbers in quarter_counts(
        session, scope, wanted, lookback, span.end
    ).items():
        daily[(campaign_id, quarter.astimezone(span.zone).date())].add(numbers)
    campaigns = _campaign_names(session, scope)
    outside = _outside_hours(session, scope, wanted, span, campaigns)
    refused = _dnc_refused(session, scope, wanted, span)
    shown = sorted(
        {
            (c, d)
            for (c, d) in [*daily, *outside, *refused]
            if wanted.date_from <= d <= wanted.date_to
        },
        key=lambda key: (key[1], campaigns[key[0]].name),
    )
    return [
        _compliance_row(campaigns[c], d, daily, outside.get((c, d), 0), refused.get((c, d), 0))
        for c, d in shown
    ]


def _compliance_row(
    campaign: Campaign,
    day: date,
    daily: dict[tuple[int, date], Counts],
    outside: int,
    refused: int,
) -> ComplianceRow:
    today = daily.get((campaign.id, day), Counts())
    month = Counts()
    for back in range(30):
        month.add(daily.get((campaign.id, day - timedelta(days=back)), Counts()))
    rolling = _ratio(month.abandoned, month.live)
    return ComplianceRow(
        campaign_id=campaign.id,
        campaign=campaign.name,
        day=day,
        live_answers=today.live,
        abandoned=today.abandoned,
        abandonment=_ratio(today.abandoned, today.live),
        rolling_30_days=rolling,
        cap=campaign.abandon_target,
        over_cap=rolling is not None and rolling > campaign.abandon_target,
        outside_hours=outside,
        dnc_refused=refused,
    )


def _outside_hours(
    session: Session,
    scope: Scope,
    wanted: ReportFilter,
    span: Window,
    campaigns: dict[int, Campaign],
) -> dict[tuple[int, date], int]:
    """Attempts started outside the campaign's own days and hours, checked per minute."""
    minute = bucket(session, CallAttempt.started_at, MINUTE).label("minute")
    stmt = _attempts(
        scope, wanted, span.start, span.end, CallAttempt.campaign_id, minute, func.count()
    ).group_by(CallAttempt.campaign_id, minute)
    found: defaultdict[tuple[int, date], int] = defaultdict(int)
    for campaign_id, number, calls in session.execute(stmt):
        campaign = campaigns.get(campaign_id) if campaign_id is not None else None
        if campaign is None:
            continue
        at = _from_bucket(number, MINUTE)
        if not _open_at(campaign, at):
            found[(campaign_id, at.astimezone(span.zone).date())] += int(calls)
    return found


def _open_at(campaign: Campaign, at: datetime) -> bool:
    local = at.astimezone(zone(campaign.timezone))
    if local.date() in closed_dates(campaign):
        return False
    days = campaign.calling_days or ()
    return within_hours(local, campaign.calling_hours_start, campaign.calling_hours_end, days)


def _dnc_refused(
    session: Session, scope: Scope, wanted: ReportFilter, span: Window
) -> dict[tuple[int, date], int]:
    quarter = bucket(session, DncRefusal.at, QUARTER).label("quarter")
    stmt = (
        owned(DncRefusal, scope)
        .with_only_columns(DncRefusal.campaign_id, quarter, func.count())
        .where(DncRefusal.at >= span.start, DncRefusal.at < span.end)
        .group_by(DncRefusal.campaign_id, quarter)
    )
    if wanted.campaign_id is not None:
        stmt = stmt.where(DncRefusal.campaign_id == wanted.campaign_id)
    found: defaultdict[tuple[int, date], int] = defaultdict(int)
    for campaign_id, q, hits in session.execute(stmt):
        if campaign_id is not None:
            found[(campaign_id, _from_bucket(q, QUARTER).astimezone(span.zone).date())] += int(hits)
    return found


def today(session: Session, scope: Scope, now: datetime) -> date:
    """The tenant's calendar day now (the reports' default range)."""
    return now.astimezone(zone(tenant_of(session, scope).timezone)).date()
