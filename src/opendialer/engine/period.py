"""The campaign's abandonment ledger: its day and its 30-day period (FTC), for the pacing budget.

The day is the calendar day in the campaign's time zone, or the rolling 24 h where Ofcom's rule
is configured (``Campaign.abandon_rolling_24h``); the period is the rolling 30 days. Both are
counted from the call history when a campaign starts, every 10 minutes and when a new day
begins, and kept current in between from the runner's own running tally. So a restarted engine
goes on spending what is left of today's budget and the period's instead of starting afresh, and
yesterday's unspent budget never carries into the morning.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.engine.live import CampaignTally
from opendialer.models import CallAttempt, CallOutcome, Campaign, ResultCode

PERIOD = timedelta(days=30)
ROLLING_DAY = timedelta(hours=24)
RECOUNT_EVERY = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Counts:
    live_answers: int = 0
    abandoned: int = 0
    machines: int = 0
    """Live answers an agent's result code said were answering machines."""

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(
            self.live_answers + other.live_answers,
            self.abandoned + other.abandoned,
            self.machines + other.machines,
        )

    def __sub__(self, other: "Counts") -> "Counts":
        return self + Counts(-other.live_answers, -other.abandoned, -other.machines)

    @classmethod
    def of(cls, tally: CampaignTally) -> "Counts":
        return cls(tally.live_answers, tally.abandoned, tally.machines_found)


def count_since(session: Session, campaign_id: int, since: datetime) -> Counts:
    """The finished attempts started at or after ``since``: person-answered, abandoned, and
    answered ones whose result code says answering machine."""
    live = CallAttempt.answered_at.is_not(None) & CallAttempt.answered_by_machine.is_(None)
    machine_code = select(ResultCode.id).where(ResultCode.answering_machine.is_(True))
    row = session.execute(
        select(
            func.count().filter(live),
            func.count().filter(CallAttempt.outcome == CallOutcome.ABANDONED),
            func.count().filter(live & CallAttempt.result_code_id.in_(machine_code)),
        ).where(CallAttempt.campaign_id == campaign_id, CallAttempt.started_at >= since)
    ).one()
    return Counts(int(row[0]), int(row[1]), int(row[2]))


def count_period(session: Session, campaign_id: int, now: datetime) -> tuple[int, int]:
    """(live answers, abandoned calls) of the finished attempts in the 30 days up to ``now``."""
    counts = count_since(session, campaign_id, now - PERIOD)
    return counts.live_answers, counts.abandoned


def day_start(campaign: Campaign, now: datetime) -> datetime:
    """Where the campaign's abandonment day began: local midnight, or 24 h ago (Ofcom)."""
    if campaign.abandon_rolling_24h:
        return now - ROLLING_DAY
    zone = ZoneInfo(campaign.timezone)
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


@dataclass(frozen=True, slots=True)
class Recount:
    """What the history held at ``at``, read in the tick's transaction."""

    at: datetime
    day_since: datetime
    day: Counts
    period: Counts


@dataclass
class Ledger:
    """The history's counts at the last recount plus what the running tally added since."""

    recounted: Recount | None = None
    _base: Counts = field(default_factory=Counts)

    def due(self, now: datetime, day_since: datetime) -> bool:
        last = self.recounted
        return (
            last is None
            or now - last.at >= RECOUNT_EVERY
            or day_since - last.day_since >= RECOUNT_EVERY
        )

    def recount(self, session: Session, campaign: Campaign, now: datetime) -> Recount:
        since = day_start(campaign, now)
        return Recount(
            now,
            since,
            count_since(session, campaign.id, since),
            count_since(session, campaign.id, now - PERIOD),
        )

    def apply(self, recount: Recount, tally: CampaignTally) -> None:
        self.recounted, self._base = recount, Counts.of(tally)

    def day(self, tally: CampaignTally) -> Counts:
        recounted = self.recounted.day if self.recounted else Counts()
        return recounted + Counts.of(tally) - self._base

    def period(self, tally: CampaignTally) -> Counts:
        recounted = self.recounted.period if self.recounted else Counts()
        return recounted + Counts.of(tally) - self._base
