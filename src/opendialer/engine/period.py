"""The campaign's rolling 30-day abandonment tally (FTC), for the pacing budget.

Counted from the call history now and then and kept current in between from the runner's own
running tally, so a restarted engine keeps spending the budget the period has left instead of
starting afresh.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opendialer.engine.live import CampaignTally
from opendialer.models import CallAttempt, CallOutcome

PERIOD = timedelta(days=30)
RECOUNT_EVERY = timedelta(minutes=10)


def count_period(session: Session, campaign_id: int, now: datetime) -> tuple[int, int]:
    """(live answers, abandoned calls) of the finished attempts in the 30 days up to ``now``."""
    live = CallAttempt.answered_at.is_not(None) & CallAttempt.answered_by_machine.is_(None)
    row = session.execute(
        select(
            func.count().filter(live),
            func.count().filter(CallAttempt.outcome == CallOutcome.ABANDONED),
        ).where(CallAttempt.campaign_id == campaign_id, CallAttempt.started_at >= now - PERIOD)
    ).one()
    return int(row[0]), int(row[1])


@dataclass
class PeriodTally:
    """Counts from the history at ``counted_at`` plus what the running tally added since."""

    live_answers: int = 0
    abandoned: int = 0
    counted_at: datetime | None = None
    _base_live: int = 0
    _base_abandoned: int = 0

    def due(self, now: datetime) -> bool:
        return self.counted_at is None or now - self.counted_at >= RECOUNT_EVERY

    def recount(
        self, session: Session, campaign_id: int, now: datetime, tally: CampaignTally
    ) -> None:
        self.set_counts(*count_period(session, campaign_id, now), now, tally)

    def set_counts(
        self, live_answers: int, abandoned: int, now: datetime, tally: CampaignTally
    ) -> None:
        """The history's counts at ``now`` (read by :func:`count_period`)."""
        self.live_answers, self.abandoned = live_answers, abandoned
        self.counted_at = now
        self._base_live, self._base_abandoned = tally.live_answers, tally.abandoned

    def current(self, tally: CampaignTally) -> tuple[int, int]:
        return (
            self.live_answers + tally.live_answers - self._base_live,
            self.abandoned + tally.abandoned - self._base_abandoned,
        )
