"""The reports: attempts and agent state seconds per UTC quarter hour, from the rollups up to
the tenant's watermark and from the history after it (``reports/rollups.py``), composed here
into the tenant's hours and days."""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.engine.compliance import zone
from opendialer.engine.holds import tenant_rules
from opendialer.errors import BadRequest
from opendialer.models import (
    AgentState,
    CallAttempt,
    Campaign,
    CampaignMember,
    DncRefusal,
    ResultCode,
    User,
)
from opendialer.reports import history, rollups
from opendialer.reports.history import BUSY, Counts, Interval, attempts, from_bucket, split
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
DAY = 86400


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    zone: ZoneInfo


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


def quarter_counts(
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[tuple[int, datetime], Counts]:
    """Attempts per campaign and quarter hour (UTC start): the rollups before the watermark,
    the history after it."""
    _mark, tail = rollups.rolled_part(session, scope, start, end)
    found: dict[tuple[int, datetime], Counts] = {}
    if tail > start:
        rolled = rollups.rolled_quarter_counts(session, scope, wanted, start, tail)
        found = {key: counts for key, (counts, _outside) in rolled.items()}
    found.update(history.quarter_counts(session, scope, wanted, tail, end))
    return found


def local_grains(
    tz: ZoneInfo, start: datetime, end: datetime, seconds: int
) -> Iterator[tuple[datetime, datetime, rollups.Grain]]:
    """[start, end) in pieces with one UTC offset each, and the grain that reads each piece in
    local periods of ``seconds`` (nothing when the range is empty)."""
    if end > start:
        for first, until, offset in offset_spans(tz, start, end):
            yield first, until, rollups.Grain(seconds, offset)


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    """A grain's key (a local period's start labelled UTC) as the local time it is."""
    return at.replace(tzinfo=tz)


class PeriodStarts:
    """The local hour or day a UTC quarter falls in (many rows share a quarter: asked once)."""

    def __init__(self, tz: ZoneInfo, period: Period | None) -> None:
        self._tz, self._period, self._known = tz, period, dict[datetime, datetime]()

    def __call__(self, quarter: datetime) -> datetime:
        found = self._known.get(quarter)
        if found is None:
            found = self._known[quarter] = _period_start(quarter, self._tz, self._period)
        return found


def _period_start(at: datetime, tz: ZoneInfo, period: Period | None) -> datetime:
    local = at.astimezone(tz)
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return datetime.combine(local.date(), time(0), tz)


def offset_spans(
    tz: ZoneInfo, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, int]]:
    """[start, end) in pieces over which the zone's UTC offset holds, each with that offset in
    seconds (zones change offset on a quarter hour's start)."""
    first, offset = start, _offset(tz, start)
    at = start
    while at < end:
        if (now := _offset(tz, at)) != offset:
            yield first, at, offset
            first, offset = at, now
        at += timedelta(seconds=QUARTER)
    yield first, end, offset


def _offset(tz: ZoneInfo, at: datetime) -> int:
    return int((at.astimezone(tz).utcoffset() or timedelta()).total_seconds())


def _campaign_names(session: Session, scope: Scope) -> dict[int, Campaign]:
    return {c.id: c for c in session.scalars(owned(Campaign, scope))}


def state_intervals(
    session: Session, scope: Scope, start: datetime, end: datetime, user_id: int | None = None
) -> list[Interval]:
    """Every agent's states clipped to [start, end), from the history (not the rollups)."""
    mark = rollups.watermark(session, scope)
    since = mark if mark is not None and mark <= start else None
    return list(history.state_intervals(session, scope, start, end, user_id, since))


# -- agent performance ------------------------------------------------------------------------


def agent_performance(
    session: Session, scope: Scope, wanted: ReportFilter, now: datetime
) -> list[AgentPerformanceRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    end = min(span.end, now)
    _mark, tail = rollups.rolled_part(session, scope, span.start, end)
    times: defaultdict[int, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for user_id, state, reason, seconds in rollups.rolled_agent_seconds(
        session, scope, span.start, tail, wanted.user_id
    ):
        _add_agent_time(times[user_id], state, reason, seconds)
    for part in state_intervals(session, scope, tail, end, wanted.user_id):
        seconds = (part.end - part.start).total_seconds()
        _add_agent_time(times[part.user_id], part.state, part.pause_reason, seconds)
    calls = _agent_calls(session, scope, wanted, span)
    users = {u.id: u for u in session.scalars(owned(User, scope))}
    shown = sorted(set(times) | set(calls), key=lambda uid: users[uid].username)
    return [_agent_row(users[uid], times.get(uid, {}), calls.get(uid)) for uid in shown]


def _add_agent_time(
    times: defaultdict[str, float], state: AgentState, reason: str | None, seconds: float
) -> None:
    if state is AgentState.LOGGED_OUT:
        return  # the rollups leave it out; nothing shows it
    times["logged_in"] += seconds
    times[state.value] += seconds
    if state is AgentState.PAUSED:
        times[f"pause:{reason or ''}"] += seconds


@dataclass(slots=True)
class AgentCalls:
    calls: int = 0
    connects: int = 0
    results: dict[str, int] | None = None


def _agent_calls(
    session: Session, scope: Scope, wanted: ReportFilter, span: Window
) -> dict[int, AgentCalls]:
    """Calls and connects from the rollups and the history after them; result codes always
    from the history (an agent may set one long after the call)."""
    _mark, tail = rollups.rolled_part(session, scope, span.start, span.end)
    found: dict[int, AgentCalls] = {}
    for user_id, (calls, connects) in rollups.rolled_agent_calls(
        session, scope, wanted, span.start, tail
    ).items():
        found[user_id] = AgentCalls(calls, connects, {})
    counted = attempts(
        scope, wanted, tail, span.end, CallAttempt.user_id, *history.count_columns()
    ).where(CallAttempt.user_id.is_not(None))
    for user_id, calls, _live, _machines, _abandoned, connects in session.execute(
        counted.group_by(CallAttempt.user_id)
    ):
        row = found.setdefault(user_id, AgentCalls(results={}))
        row.calls += int(calls)
        row.connects += int(connects)
    coded = (
        attempts(
            scope, wanted, span.start, span.end, CallAttempt.user_id, ResultCode.code, func.count()
        )
        .join(ResultCode, ResultCode.id == CallAttempt.result_code_id)
        .where(CallAttempt.user_id.is_not(None))
        .group_by(CallAttempt.user_id, ResultCode.code)
    )
    for user_id, code, calls in session.execute(coded):
        results = found.setdefault(user_id, AgentCalls(results={})).results
        if results is not None:
            results[code] = int(calls)
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
    per_day: defaultdict[tuple[int, date, int], int] = defaultdict(int)
    for first, until, offset in offset_spans(span.zone, span.start, span.end):
        day = bucket(session, CallAttempt.started_at, DAY, offset).label("day")
        stmt = (
            attempts(
                scope,
                wanted,
                first,
                until,
                CallAttempt.campaign_id,
                CallAttempt.result_code_id,
                day,
                func.count(),
            )
            .where(CallAttempt.result_code_id.is_not(None))
            .group_by(CallAttempt.campaign_id, CallAttempt.result_code_id, day)
        )
        for campaign_id, code_id, number, calls in session.execute(stmt):
            if campaign_id is not None:
                per_day[(campaign_id, from_bucket(number, DAY).date(), code_id)] += int(calls)
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


PERIOD_SECONDS: dict[Period, int] = {"hour": 3600, "day": DAY}


def campaign_periods(
    session: Session, scope: Scope, wanted: ReportFilter, period: Period, now: datetime
) -> list[CampaignPeriodRow]:
    _check_filter(session, scope, wanted)
    span = window(session, scope, wanted)
    period_of = PeriodStarts(span.zone, period)
    _mark, tail = rollups.rolled_part(session, scope, span.start, span.end)
    counts: defaultdict[tuple[int, datetime], Counts] = defaultdict(Counts)
    for first, until, grain in local_grains(span.zone, span.start, tail, PERIOD_SECONDS[period]):
        for (campaign_id, at), (numbers, _outside) in rollups.rolled_quarter_counts(
            session, scope, wanted, first, until, grain
        ).items():
            counts[(campaign_id, _local(at, span.zone))].add(numbers)
    for (campaign_id, quarter), numbers in history.quarter_counts(
        session, scope, wanted, tail, span.end
    ).items():
        counts[(campaign_id, period_of(quarter))].add(numbers)
    filtered = wanted.campaign_id is not None or wanted.user_id is not None
    shown = {campaign_id for campaign_id, _at in counts} if filtered else None
    busy, logged_in = _occupancy_seconds(session, scope, span, min(span.end, now), period, shown)
    campaigns = _campaign_names(session, scope)
    return [
        _period_row(campaigns[cid], at, numbers, busy.get((cid, at)), logged_in.get((cid, at)))
        for (cid, at), numbers in sorted(counts.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


Seconds = defaultdict[tuple[int, datetime], float]


def _occupancy_seconds(
    session: Session,
    scope: Scope,
    span: Window,
    end: datetime,
    period: Period,
    campaign_ids: set[int] | None,
) -> tuple[Seconds, Seconds]:
    """Busy seconds per campaign (or only those shown) and period, and logged-in seconds of
    its current members."""
    _mark, tail = rollups.rolled_part(session, scope, span.start, end)
    busy: Seconds = defaultdict(float)
    logged_in: Seconds = defaultdict(float)
    for first, until, grain in local_grains(span.zone, span.start, tail, PERIOD_SECONDS[period]):
        rolled = (
            (busy, rollups.rolled_busy_seconds(session, scope, first, until, campaign_ids, grain)),
            (
                logged_in,
                rollups.rolled_logged_in_seconds(session, scope, first, until, campaign_ids, grain),
            ),
        )
        for into, found in rolled:
            for (cid, at), seconds in found.items():
                into[(cid, _local(at, span.zone))] += seconds
    period_of = PeriodStarts(span.zone, period)
    members = _memberships(session, scope)
    for part in state_intervals(session, scope, tail, end):
        if part.state is AgentState.LOGGED_OUT:
            continue
        for quarter, seconds in split(part, QUARTER):
            at = period_of(quarter)
            for cid in members.get(part.user_id, ()):
                logged_in[(cid, at)] += seconds
            if part.state in BUSY and part.campaign_id is not None:
                busy[(part.campaign_id, at)] += seconds
    return busy, logged_in


def _memberships(session: Session, scope: Scope) -> dict[int, set[int]]:
    members: defaultdict[int, set[int]] = defaultdict(set)
    member_rows = (
        select(CampaignMember.user_id, CampaignMember.campaign_id)
        .join(Campaign, Campaign.id == CampaignMember.campaign_id)
        .where(Campaign.id.in_(owned(Campaign, scope).with_only_columns(Campaign.id)))
    )
    for user_id, campaign_id in session.execute(member_rows):
        members[user_id].add(campaign_id)
    return members


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
    daily, outside = _daily_counts(session, scope, wanted, span)
    campaigns = _campaign_names(session, scope)
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


def _daily_counts(
    session: Session, scope: Scope, wanted: ReportFilter, span: Window
) -> tuple[dict[tuple[int, date], Counts], dict[tuple[int, date], int]]:
    """Per campaign and local day, from 30 days before the range: the counts, and the calls
    outside hours (in the range only)."""
    start = span.start - timedelta(days=30)
    _mark, tail = rollups.rolled_part(session, scope, start, span.end)
    daily: defaultdict[tuple[int, date], Counts] = defaultdict(Counts)
    outside: defaultdict[tuple[int, date], int] = defaultdict(int)
    for first, until, grain in local_grains(span.zone, start, tail, DAY):
        for (campaign_id, at), (numbers, calls) in rollups.rolled_quarter_counts(
            session, scope, wanted, first, until, grain
        ).items():
            daily[(campaign_id, at.date())].add(numbers)
            if calls and at.date() >= wanted.date_from:
                outside[(campaign_id, at.date())] += calls
    day_of = PeriodStarts(span.zone, "day")
    for (campaign_id, quarter), numbers in history.quarter_counts(
        session, scope, wanted, tail, span.end
    ).items():
        daily[(campaign_id, day_of(quarter).date())].add(numbers)
    for (campaign_id, quarter), calls in _outside_hours(
        session, scope, wanted, max(tail, span.start), span.end
    ).items():
        outside[(campaign_id, day_of(quarter).date())] += calls
    return daily, outside


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
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[tuple[int, datetime], int]:
    """Attempts started outside the campaign's own days and hours, per campaign and quarter,
    from the history (checked per minute)."""
    minute = bucket(session, CallAttempt.started_at, MINUTE).label("minute")
    stmt = attempts(
        scope, wanted, start, end, CallAttempt.campaign_id, minute, func.count()
    ).group_by(CallAttempt.campaign_id, minute)
    campaigns = _campaign_names(session, scope)
    found: defaultdict[tuple[int, datetime], int] = defaultdict(int)
    for campaign_id, number, calls in session.execute(stmt):
        campaign = campaigns.get(campaign_id) if campaign_id is not None else None
        if campaign is None:
            continue
        at = from_bucket(number, MINUTE)
        if not rollups.open_at(campaign, tenant_rules(session, campaign.tenant_id), at):
            found[(campaign.id, rollups.floor_quarter(at))] += int(calls)
    return found


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
            found[(campaign_id, from_bucket(q, QUARTER).astimezone(span.zone).date())] += int(hits)
    return found


def today(session: Session, scope: Scope, now: datetime) -> date:
    """The tenant's calendar day now (the reports' default range)."""
    return now.astimezone(zone(tenant_of(session, scope).timezone)).date()
