"""Reading the history itself (attempts and agent state changes), for the part of a report the
rollups do not hold yet: the time after the tenant's watermark."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func
from sqlalchemy.orm import Session

from opendialer.models import (
    AgentState,
    AgentStateChange,
    AgentStateMark,
    AttemptQuarter,
    CallAttempt,
    CallOutcome,
)
from opendialer.reports.schemas import ReportFilter
from opendialer.reports.sql import QUARTER, bucket
from opendialer.scoping import Scope, owned

BUSY = (AgentState.RESERVED, AgentState.PREVIEW, AgentState.ON_CALL, AgentState.WRAP_UP)
LIVE = (CallOutcome.CONNECTED, CallOutcome.ABANDONED)


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
class Change:
    """An agent entered ``state`` at ``at`` (a history row, or their state at the watermark)."""

    user_id: int
    state: AgentState
    pause_reason: str | None
    campaign_id: int | None
    at: datetime
    order: int = 0


@dataclass(frozen=True, slots=True)
class Interval:
    user_id: int
    state: AgentState
    pause_reason: str | None
    campaign_id: int | None
    start: datetime
    end: datetime


def from_bucket(number: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(int(number) * seconds, UTC)


def attempts(
    scope: Scope, wanted: ReportFilter, start: datetime, end: datetime, *columns: Any
) -> Select[Any]:
    """The tenant's attempts started in [start, end) that the filter keeps."""
    return filtered(CallAttempt, CallAttempt.started_at, scope, wanted, start, end, *columns)


def filtered(
    model: type[CallAttempt] | type[AttemptQuarter],
    at: Any,
    scope: Scope,
    wanted: ReportFilter,
    start: datetime,
    end: datetime,
    *columns: Any,
) -> Select[Any]:
    """The tenant's rows of ``model`` with ``at`` in [start, end) that the filter keeps."""
    stmt = owned(model, scope).with_only_columns(*columns).where(at >= start, at < end)
    if wanted.campaign_id is not None:
        stmt = stmt.where(model.campaign_id == wanted.campaign_id)
    if wanted.user_id is not None:
        stmt = stmt.where(model.user_id == wanted.user_id)
    return stmt


def count_columns() -> tuple[Any, ...]:
    """attempts, live answers, machines, abandoned, connects (as :class:`Counts` orders them)."""
    outcome = CallAttempt.outcome
    return (
        func.count(),
        func.count(case((outcome.in_(LIVE), 1))),
        func.count(case((outcome == CallOutcome.MACHINE, 1))),
        func.count(case((outcome == CallOutcome.ABANDONED, 1))),
        func.count(CallAttempt.connected_at),  # joined to an agent, also while still talking
    )


def quarter_counts(
    session: Session, scope: Scope, wanted: ReportFilter, start: datetime, end: datetime
) -> dict[tuple[int, datetime], Counts]:
    """Attempts per campaign and quarter hour (UTC start), from the history."""
    quarter = bucket(session, CallAttempt.started_at, QUARTER).label("quarter")
    stmt = attempts(
        scope, wanted, start, end, CallAttempt.campaign_id, quarter, *count_columns()
    ).group_by(CallAttempt.campaign_id, quarter)
    counts = {}
    for campaign_id, q, *numbers in session.execute(stmt):
        if campaign_id is not None:
            counts[(campaign_id, from_bucket(q, QUARTER))] = Counts(*map(int, numbers))
    return counts


def state_intervals(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    user_id: int | None = None,
    since: datetime | None = None,
) -> Iterator[Interval]:
    """Every agent's states clipped to [start, end): the state each was in at ``start`` and
    every change after. ``since`` is the tenant's watermark (at or before ``start``): the
    state at it is in ``agent_state_marks``, so nothing older is read."""
    log = AgentStateChange
    earlier = owned(log, scope).with_only_columns(log.user_id, func.max(log.at).label("at"))
    earlier = earlier.where(log.at < start).group_by(log.user_id)
    rows = owned(log, scope).where(log.at >= start, log.at < end)
    if since is not None:
        earlier = earlier.where(log.at >= since)
    if user_id is not None:
        earlier = earlier.where(log.user_id == user_id)
        rows = rows.where(log.user_id == user_id)
    last = earlier.subquery()
    first_rows = owned(log, scope).join(
        last, and_(log.user_id == last.c.user_id, log.at == last.c.at)
    )
    changes = [*session.scalars(first_rows), *session.scalars(rows)]
    found = [_change(c) for c in changes]
    if since is not None:
        found += marks(session, scope, user_id)
    yield from clipped(found, start, end)


def _change(row: AgentStateChange) -> Change:
    return Change(row.user_id, row.state, row.pause_reason, row.campaign_id, row.at, row.id)


def marks(session: Session, scope: Scope, user_id: int | None = None) -> list[Change]:
    """Each agent's state at the tenant's watermark (ordered before any history row)."""
    stmt = owned(AgentStateMark, scope)
    if user_id is not None:
        stmt = stmt.where(AgentStateMark.user_id == user_id)
    return [
        Change(m.user_id, m.state, m.pause_reason, m.campaign_id, m.at, -1)
        for m in session.scalars(stmt)
    ]


def clipped(changes: Iterable[Change], start: datetime, end: datetime) -> Iterator[Interval]:
    """The intervals the changes make (each lasts until its agent's next change), clipped to
    [start, end)."""
    ordered = sorted(changes, key=lambda c: (c.user_id, c.at, c.order))
    for index, this in enumerate(ordered):
        following = ordered[index + 1] if index + 1 < len(ordered) else None
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
        period = from_bucket(int(at.timestamp()) // seconds, seconds)
        upto = min(period + timedelta(seconds=seconds), interval.end)
        yield period, (upto - at).total_seconds()
        at = upto
